package smtpc

import (
	"bytes"
	"strconv"
	"testing"
)

// netxParseCodeRef is a second, run-based reading of _nx_smtp_parse_response
// (first argument): the first maximal run of digits followed by ' ' or '-'
// (or ending the packet) is the code, unless an earlier or that run has four
// or more digits (an error); no such run gives code 0.
func netxParseCodeRef(p []byte) (code int, ok bool, sep int) {
	for i := 0; i < len(p); {
		if p[i] < '0' || p[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j-i >= 4 {
			return 0, false, -1
		}
		if j < len(p) && (p[j] == ' ' || p[j] == '-') {
			c, _ := strconv.Atoi(string(p[i:j]))
			return c, true, j
		}
		if j == len(p) { // digits up to the end of the packet: strtoul reads them
			c, _ := strconv.Atoi(string(p[i:j]))
			return c, true, -1
		}
		i = j
	}
	return 0, true, -1
}

// FuzzNetXParseCode checks the port of NetX's reply-code parser against the
// reference reading, and the mute flag against its definition: a "250-"
// first code sets it unless "250 " follows, a "250 " clears it, anything
// else leaves it.
func FuzzNetXParseCode(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "2200", "22222220-expresslogic.com\r\n", "220\r\n", "abc 250 x", "250-a\r\n250 b\r\n",
		"250-a\r\n250-b\r\n", "250 SIZE\r\n", " 250 x", "99999", "-250 x", "1-2-3"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, p []byte, mute bool) {
		m := mute
		code, ok := netxParseCode(p, &m)
		rc, rok, sep := netxParseCodeRef(p)
		if ok != rok || (ok && code != rc) {
			t.Fatalf("netxParseCode(%q) = %d, %v; reference %d, %v", p, code, ok, rc, rok)
		}
		if code < 0 || code > 999 {
			t.Fatalf("code %d out of range", code)
		}
		want := mute
		if ok && sep >= 3 && bytes.Equal(p[sep-3:sep], []byte("250")) {
			if p[sep] == ' ' {
				want = false
			} else {
				want = !bytes.Contains(p[sep:], []byte("250 "))
			}
		}
		if m != want {
			t.Fatalf("netxParseCode(%q) mute = %v, want %v (was %v)", p, m, want, mute)
		}
	})
}

// FuzzNetXChallenge: the LOGIN prompt argument is at most 200 octets, holds
// no space and no CRLF, and is a substring of the line.
func FuzzNetXChallenge(f *testing.F) {
	for _, s := range []string{"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6\r\n", "334-a b", "334 ", "334", "334 a\r\nb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		arg := netxChallenge(line)
		if len(arg) > netxChallengeMax || bytes.IndexByte(arg, ' ') >= 0 || bytes.Contains(arg, []byte("\r\n")) || !bytes.Contains(line, arg) {
			t.Fatalf("netxChallenge(%q) = %q", line, arg)
		}
	})
}
