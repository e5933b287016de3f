// Package redact finds the credentials in SMTP and POP3 client command
// lines, for the places that print such lines: the built-in mail host's
// transcripts (mailhost) and `simboard trace` (internal/trace). It
// mirrors no NetX Duo service.
//
// It reads lines the tolerant way, as an attacker would write them: the
// verb may follow spaces or tabs, the separators may be any run of spaces,
// tabs or other control bytes, and the verb may be in any case. A line that
// a server would refuse as malformed is still searched, since the
// credential in it is just as real.
//
// Nothing here blocks or keeps state between calls except a Scrubber,
// which is not safe for concurrent use.
package redact

import "strings"

// isSep reports whether c separates the words of a command line: space,
// tab, or any other control byte.
func isSep(c byte) bool { return c <= ' ' || c == 0x7f }

// hasSep reports whether s contains a separator.
func hasSep(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSep(s[i]) {
			return true
		}
	}
	return false
}

// trimSeps removes leading separators.
func trimSeps(s string) string {
	i := 0
	for i < len(s) && isSep(s[i]) {
		i++
	}
	return s[i:]
}

// Split splits a command line into its verb (as written, not upper-cased)
// and the rest: separators before the verb and between the verb and the
// rest are skipped; the rest is otherwise kept as sent.
func Split(line string) (verb, rest string) {
	line = trimSeps(line)
	i := 0
	for i < len(line) && !isSep(line[i]) {
		i++
	}
	return line[:i], trimSeps(line[i:])
}

// Command reports whether line, an SMTP or POP3 client command line
// without its line end, carries a credential: the argument of PASS (all of
// it: a password may contain spaces), the APOP digest, or the initial
// response of AUTH (any mechanism). It returns the line up to the
// credential (separators before it dropped) and the credential itself.
// ok is false, and prefix and secret empty, for any other line.
//
// The verb is matched in any case and after any separators, so that
// "PASS\tpw", " PASS pw" and "pass pw" are all found.
func Command(line string) (prefix, secret string, ok bool) {
	verb, rest := Split(line)
	if rest == "" {
		return "", "", false
	}
	keep := 0 // bytes of rest kept in the prefix
	switch strings.ToUpper(verb) {
	case "PASS":
	case "APOP":
		// APOP name digest: keep the name; a lone argument may be the
		// digest.
		name, digest := Split(rest)
		if digest != "" {
			keep = len(name)
		}
	case "AUTH":
		// AUTH mechanism [initial-response]: keep the mechanism when it
		// is one (RFC 4422 names); anything else may be a credential.
		mech, ir := Split(rest)
		if !Mechanism(mech) {
			break
		}
		if ir == "" {
			return "", "", false
		}
		keep = len(mech)
	default:
		return "", "", false
	}
	start := len(line) - len(rest) + keep
	secret = trimSeps(line[start:])
	if secret == "" {
		return "", "", false
	}
	prefix = line[:len(line)-len(secret)]
	for len(prefix) > 0 && isSep(prefix[len(prefix)-1]) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix, secret, true
}

// Mechanism reports whether s is a SASL mechanism name (RFC 4422: 1 to 20
// upper-case letters, digits, hyphens or underscores; any case is accepted
// here, as servers do).
func Mechanism(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// Token reports whether line could be a SASL response or any other bare
// credential: a single word (no separator) that is not empty. A command
// with arguments has a separator; a SASL response never does.
func Token(line string) bool { return line != "" && !hasSep(line) }

var (
	smtpVerbs = verbSet("HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN",
		"HELP", "TURN", "SEND", "SOML", "SAML", "AUTH", "STARTTLS", "ETRN", "ATRN", "BURL")
	pop3Verbs = verbSet("USER", "PASS", "APOP", "AUTH", "STAT", "LIST", "UIDL", "TOP", "RETR", "DELE", "RSET", "NOOP",
		"QUIT", "CAPA", "STLS", "RPOP")
)

func verbSet(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// SMTPVerb reports whether verb (any case) is an SMTP command verb.
func SMTPVerb(verb string) bool { return smtpVerbs[upperASCII(verb)] }

// POP3Verb reports whether verb (any case) is a POP3 command verb.
func POP3Verb(verb string) bool { return pop3Verbs[upperASCII(verb)] }

// MinSecret is the shortest credential a Scrubber removes from other text:
// shorter strings occur by chance in ordinary replies.
const MinSecret = 4

// maxSecrets bounds the credentials a Scrubber remembers (the most recent
// are kept), so hostile input cannot make scrubbing slow.
const maxSecrets = 32

// Scrubber remembers credentials found in client lines and removes them
// from later text, such as a server reply that echoes what it took for a
// command (go-smtp answers "500 5.5.2 Syntax errors, XXXX command
// unrecognized" to a four-character line). Matching ignores ASCII case,
// since servers upper-case what they echo. The zero value is ready to use;
// it is not safe for concurrent use.
type Scrubber struct {
	secrets []string // upper-cased, each at least MinSecret bytes
}

// Add remembers secret, and each of its words when it has several.
// Strings shorter than MinSecret are not remembered.
func (s *Scrubber) Add(secret string) {
	s.add(secret)
	if hasSep(secret) {
		for rest := secret; rest != ""; {
			var w string
			w, rest = Split(rest)
			s.add(w)
		}
	}
}

func (s *Scrubber) add(w string) {
	if len(w) < MinSecret {
		return
	}
	u := upperASCII(w)
	for _, x := range s.secrets {
		if x == u {
			return
		}
	}
	if len(s.secrets) == maxSecrets {
		s.secrets = s.secrets[1:]
	}
	s.secrets = append(s.secrets, u)
}

// Len returns how many credentials s remembers.
func (s *Scrubber) Len() int { return len(s.secrets) }

// Scrub returns text with every remembered credential replaced by marker;
// changed reports whether it replaced any.
func (s *Scrubber) Scrub(text, marker string) (out string, changed bool) {
	if len(s.secrets) == 0 || len(text) < MinSecret {
		return text, false
	}
	um := upperASCII(marker)
	// Removing one credential can join text into another: repeat until
	// nothing changes (each pass that changes something shortens the
	// text or keeps it to markers, so this ends).
	u := upperASCII(text)
	for pass := 0; pass <= len(s.secrets); pass++ {
		again := false
		for _, sec := range s.secrets {
			if len(sec) > len(u) || !strings.Contains(u, sec) || strings.Contains(um, sec) {
				continue // absent, or the marker itself would match
			}
			text, _ = scrubOne(text, sec, marker)
			u = upperASCII(text)
			changed, again = true, true
		}
		if !again {
			break
		}
	}
	return text, changed
}

// ScrubOne replaces every ASCII-case-insensitive occurrence of secret in
// text by marker; it does nothing for a secret shorter than MinSecret.
func ScrubOne(text, secret, marker string) (string, bool) {
	if len(secret) < MinSecret {
		return text, false
	}
	return scrubOne(text, upperASCII(secret), marker)
}

// scrubOne is ScrubOne with secret already upper-cased.
func scrubOne(text, upperSecret, marker string) (string, bool) {
	if len(text) < len(upperSecret) {
		return text, false
	}
	u := upperASCII(text)
	i := strings.Index(u, upperSecret)
	if i < 0 {
		return text, false
	}
	var b strings.Builder
	for i >= 0 {
		b.WriteString(text[:i])
		b.WriteString(marker)
		text, u = text[i+len(upperSecret):], u[i+len(upperSecret):]
		i = strings.Index(u, upperSecret)
	}
	b.WriteString(text)
	return b.String(), true
}

// upperASCII upper-cases ASCII letters only, so byte offsets are kept.
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'a' && c <= 'z' {
					b[j] = c - 'a' + 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
