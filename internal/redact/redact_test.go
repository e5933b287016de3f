package redact

import (
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		line, prefix, secret string
		ok                   bool
	}{
		{"PASS secret", "PASS", "secret", true},
		{"PASS two words", "PASS", "two words", true},
		{"PASS\tsecret", "PASS", "secret", true},
		{" PASS secret", " PASS", "secret", true},
		{"\tpass  secret", "\tpass", "secret", true},
		{"PASS\x00secret", "PASS", "secret", true},
		{"PASS", "", "", false},
		{"PASS   ", "", "", false},
		{"PASSWORD x", "", "", false},
		{"APOP alice 0123abcd", "APOP alice", "0123abcd", true},
		{"apop\talice\t0123abcd", "apop\talice", "0123abcd", true},
		{"APOP 0123abcd", "APOP", "0123abcd", true},
		{"AUTH PLAIN AGFsaWNl", "AUTH PLAIN", "AGFsaWNl", true},
		{"auth\tplain\tAGFsaWNl", "auth\tplain", "AGFsaWNl", true},
		{" AUTH XOAUTH2 dXNlcj1h", " AUTH XOAUTH2", "dXNlcj1h", true},
		{"AUTH LOGIN", "", "", false},
		{"AUTH", "", "", false},
		{"AUTH dXNlcg==", "AUTH", "dXNlcg==", true},
		{"AUTH PLAIN =", "AUTH PLAIN", "=", true},
		{"USER alice", "", "", false},
		{"MAIL FROM:<a@b>", "", "", false},
	}
	for _, tt := range tests {
		prefix, secret, ok := Command(tt.line)
		if prefix != tt.prefix || secret != tt.secret || ok != tt.ok {
			t.Errorf("Command(%q) = %q, %q, %v; want %q, %q, %v", tt.line, prefix, secret, ok, tt.prefix, tt.secret, tt.ok)
		}
	}
}

func TestScrubber(t *testing.T) {
	var s Scrubber
	s.Add("YWJj")
	s.Add("two Words here")
	s.Add("abc") // too short to scrub
	got, changed := s.Scrub("500 5.5.2 Syntax errors, YWJJ command unrecognized; words; abc", "<x>")
	if want := "500 5.5.2 Syntax errors, <x> command unrecognized; <x>; abc"; got != want || !changed {
		t.Errorf("Scrub() = %q, %v; want %q, true", got, changed, want)
	}
	if got, changed := s.Scrub("nothing to see", "<x>"); got != "nothing to see" || changed {
		t.Errorf("Scrub(clean text) = %q, %v", got, changed)
	}
	// Removing one secret must not leave another behind.
	var j Scrubber
	j.Add("ABCD")
	j.Add("XYAB")
	if got, _ := j.Scrub("XYABCDCD", ""); strings.Contains(got, "ABCD") || strings.Contains(got, "XYAB") {
		t.Errorf("Scrub() left a secret: %q", got)
	}
	var m Scrubber
	for i := range maxSecrets + 5 {
		m.Add(strings.Repeat("k", MinSecret+i))
	}
	if m.Len() != maxSecrets {
		t.Errorf("Len() = %d after %d secrets, want the cap %d", m.Len(), maxSecrets+5, maxSecrets)
	}
}

func TestVerbs(t *testing.T) {
	for _, v := range []string{"ehlo", "STARTTLS", "Quit"} {
		if !SMTPVerb(v) {
			t.Errorf("SMTPVerb(%q) = false", v)
		}
	}
	for _, v := range []string{"stls", "APOP", "Capa"} {
		if !POP3Verb(v) {
			t.Errorf("POP3Verb(%q) = false", v)
		}
	}
	for _, v := range []string{"YWJj", "", "STLS"} {
		if SMTPVerb(v) {
			t.Errorf("SMTPVerb(%q) = true", v)
		}
	}
}

// FuzzCommand checks Command's contract: a credential found ends the line,
// the prefix is the line before it without trailing separators, a verb
// other than PASS, APOP and AUTH never yields one, and a Scrubber given the
// credential removes it from any text.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"PASS secret", " pass\tsecret words", "APOP a b", "AUTH PLAIN x=", "AUTH x=", "NOOP", ""} {
		f.Add(s, "echo "+s)
	}
	f.Fuzz(func(t *testing.T, line, text string) {
		prefix, secret, ok := Command(line)
		verb, _ := Split(line)
		v := strings.ToUpper(verb)
		if !ok {
			if prefix != "" || secret != "" {
				t.Fatalf("Command(%q) = %q, %q, false", line, prefix, secret)
			}
			if v == "PASS" {
				if _, rest := Split(line); rest != "" {
					t.Fatalf("Command(%q) found no credential after PASS", line)
				}
			}
			return
		}
		if v != "PASS" && v != "APOP" && v != "AUTH" {
			t.Fatalf("Command(%q) found %q after verb %q", line, secret, verb)
		}
		if secret == "" || !strings.HasSuffix(line, secret) || isSep(secret[0]) {
			t.Fatalf("Command(%q) = secret %q", line, secret)
		}
		between := line[len(prefix) : len(line)-len(secret)]
		if strings.TrimLeftFunc(between, func(r rune) bool { return r < 0x80 && isSep(byte(r)) }) != "" {
			t.Fatalf("Command(%q) = prefix %q, secret %q: %q between them", line, prefix, secret, between)
		}
		if prefix != "" && isSep(prefix[len(prefix)-1]) {
			t.Fatalf("Command(%q) = prefix %q ends with a separator", line, prefix)
		}
		var s Scrubber
		s.Add(secret)
		out, _ := s.Scrub(text+secret+text, "*")
		if len(secret) >= MinSecret && !strings.Contains(upperASCII("*"), upperASCII(secret)) &&
			strings.Contains(upperASCII(out), upperASCII(secret)) {
			t.Fatalf("Scrub(%q) = %q still holds %q", text+secret+text, out, secret)
		}
	})
}
