package pop3c

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// replyKind classifies a status line.
type replyKind uint8

const (
	replyBad  replyKind = iota // neither +OK nor -ERR
	replyOK                    // +OK
	replyErr                   // -ERR
	replyCont                  // "+ " SASL continuation (RFC 5034)
)

// parseStatus splits a status line (CRLF already removed) into its indicator
// and the text after it. The indicator must be followed by the end of the line
// or a space (RFC 1939 §3); "+OKAY" is not +OK. Any input is safe, including
// an empty line (what NetX's abnormal-packet test feeds its tokenizer as "\n").
func parseStatus(line []byte) (replyKind, []byte) {
	switch {
	case hasIndicator(line, "+OK"):
		return replyOK, trimText(line[3:])
	case hasIndicator(line, "-ERR"):
		return replyErr, trimText(line[4:])
	case hasIndicator(line, "+"):
		return replyCont, trimText(line[1:])
	}
	return replyBad, nil
}

func hasIndicator(line []byte, ind string) bool {
	if len(line) < len(ind) || string(line[:len(ind)]) != ind {
		return false
	}
	return len(line) == len(ind) || line[len(ind)] == ' ' || line[len(ind)] == '\t'
}

func trimText(b []byte) []byte {
	return bytes.TrimLeft(b, " \t")
}

// fields splits b at runs of spaces and tabs, at most max fields (the last
// keeps the rest of b). It allocates nothing: it fills dst.
func fields(dst [][]byte, b []byte) [][]byte {
	dst = dst[:0]
	for len(dst) < cap(dst) {
		b = bytes.TrimLeft(b, " \t")
		if len(b) == 0 {
			break
		}
		if len(dst) == cap(dst)-1 {
			dst = append(dst, bytes.TrimRight(b, " \t"))
			break
		}
		j := bytes.IndexAny(b, " \t")
		if j < 0 {
			j = len(b)
		}
		dst = append(dst, b[:j])
		b = b[j:]
	}
	return dst
}

// parseNumber parses a non-negative decimal POP3 number (no sign, no spaces).
func parseNumber(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseStat parses the text of a STAT reply, "nn mm" (RFC 1939 §5: the drop
// listing; anything after the size is ignored).
func parseStat(text []byte) (count int, size int64, ok bool) {
	var buf [3][]byte
	f := fields(buf[:0:3], text)
	if len(f) < 2 {
		return 0, 0, false
	}
	n, ok1 := parseNumber(f[0])
	s, ok2 := parseNumber(f[1])
	if !ok1 || !ok2 || n > int64(maxInt) {
		return 0, 0, false
	}
	return int(n), s, true
}

const maxInt = int(^uint(0) >> 1)

// parseScanListing parses "n size" (a LIST reply or one line of a LIST
// listing, RFC 1939 §5).
func parseScanListing(text []byte) (item int, size int64, ok bool) {
	return parseStat(text)
}

// parseUIDListing parses "n unique-id" (UIDL, RFC 1939 §7): the id is 1 to 70
// characters in the range 0x21..0x7E.
func parseUIDListing(text []byte) (item int, uid string, ok bool) {
	var buf [3][]byte
	f := fields(buf[:0:3], text)
	if len(f) < 2 {
		return 0, "", false
	}
	n, ok1 := parseNumber(f[0])
	if !ok1 || n == 0 || n > int64(maxInt) {
		return 0, "", false
	}
	id := f[1]
	if len(id) == 0 || len(id) > 70 {
		return 0, "", false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7E {
			return 0, "", false
		}
	}
	return int(n), string(id), true
}

// timestamp returns the APOP timestamp of a greeting: from the first '<'
// through the next '>' inclusive (as NetX's _nx_pop3_parse_process_id), or
// nil when there is none. The content must be non-empty and hold no spaces or
// control characters (RFC 1939 §7, a msg-id).
func timestamp(greeting []byte) []byte {
	i := bytes.IndexByte(greeting, '<')
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(greeting[i:], '>')
	if j < 2 {
		return nil
	}
	ts := greeting[i : i+j+1]
	for _, c := range ts {
		if c <= ' ' || c == 0x7F {
			return nil
		}
	}
	return ts
}

// apopDigest is the APOP digest (RFC 1939 §7): MD5 of the timestamp (with
// its angle brackets) followed by the shared secret, as 32 lowercase hex
// digits, exactly as NetX's _nx_pop3_digest_authenticate computes it.
func apopDigest(ts []byte, secret string) string {
	h := md5.New()
	h.Write(ts)
	h.Write([]byte(secret))
	var sum [md5.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// plainResponse is the SASL PLAIN initial response (RFC 4616) for AUTH PLAIN
// (RFC 5034): base64 of "" NUL authcid NUL password.
func plainResponse(name, password string) string {
	raw := make([]byte, 0, 2+len(name)+len(password))
	raw = append(raw, 0)
	raw = append(raw, name...)
	raw = append(raw, 0)
	raw = append(raw, password...)
	return base64.StdEncoding.EncodeToString(raw)
}

// Capabilities are the capabilities a server lists in its CAPA reply
// (RFC 2449): upper-cased tag => arguments as sent ("SASL" => ["PLAIN",
// "LOGIN"]; "STLS" => nil). A nil map means CAPA was not sent or refused.
type Capabilities map[string][]string

// Has reports whether the server lists capability tag (case-insensitive).
func (c Capabilities) Has(tag string) bool {
	_, ok := c[strings.ToUpper(tag)]
	return ok
}

// HasSASL reports whether the SASL capability lists mechanism mech
// (case-insensitive).
func (c Capabilities) HasSASL(mech string) bool {
	for _, m := range c["SASL"] {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// addLine parses one capability line into c.
func (c Capabilities) addLine(line []byte) {
	var buf [16][]byte
	f := fields(buf[:0:16], line)
	if len(f) == 0 {
		return
	}
	tag := strings.ToUpper(string(f[0]))
	var args []string
	for _, a := range f[1:] {
		args = append(args, strings.Fields(string(a))...)
	}
	c[tag] = args
}

// itoa appends the decimal form of n.
func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
