package mailhost

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/simboard/simboard/internal/redact"
)

// FuzzPOP3Session drives the POP3 command interpreter line by line with
// arbitrary input, logging each line to the transcript as the server loop
// does. Properties: it never panics; every reply starts with +OK, -ERR or
// (inside AUTH) "+ ", is one CRLF line of at most 512 octets, and a
// multi-line reply is a well-formed dot-stuffed block; state stays
// bounded; deletions happen only through QUIT in TRANSACTION; the maildrop
// lock is released; no credential the input identifies (see
// inputSecrets) is in the transcript's client lines.
func FuzzPOP3Session(f *testing.F) {
	for _, s := range []string{
		"USER alice\nPASS alice-secret\nSTAT\nLIST\nUIDL\nRETR 1\nTOP 2 1\nDELE 1\nQUIT\n",
		"CAPA\nAUTH PLAIN\nAGFsaWNlAGFsaWNlLXNlY3JldA==\nLIST 2\nUIDL 9\nRSET\nNOOP\nQUIT\n",
		"AUTH LOGIN\nYWxpY2U=\n*\nAPOP alice 0123\nUSER\nPASS\nRETR 1\n",
		"AUTH CRAM-MD5\nYWxpY2UgMDAw\nuser alice\npass alice-secret\ndele 2\ndele 2\ntop 1 -1\nretr 0\nquit\n",
		"USER alice\nPASS\talice-secret\n PASS alice-secret\nAPOP\talice\t0123abcd\nAUTH NOPE\nc2VjcmV0LXRva2Vu\nAUTH PLAIN\n*\nQUIT\n",
		"USER alice\r\nPASS alice-secret\r\nDELE 1\r\nDELE 2\r\nDELE 3\r\nRSET\r\nLIST\r\n",
		strings.Repeat("X", 300) + "\nSTLS\nAUTH\n",
	} {
		f.Add([]byte(s))
	}
	msgs := []string{msgPlain, msgDots, ".\r\n..\r\n", ""}
	f.Fuzz(func(t *testing.T, in []byte) {
		tr := &syncBuffer{}
		h, err := New(Options{Users: testUsers, AllowInsecureAuth: true, Transcript: tr})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		for _, m := range msgs {
			if err := h.Store().Deliver("", []string{"alice"}, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		s := newPOP3Session(h, 1, w, false)
		committed := -1
		lines := bytes.Split(in, []byte("\n"))
		for i, line := range lines {
			if i == len(lines)-1 && len(line) == 0 {
				break
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			out.Reset()
			wasTrans := s.state == pop3Transaction
			var dels int
			for _, d := range s.deleted {
				if d {
					dels++
				}
			}
			act := pop3Continue
			if len(line)+2 > s.lineLimit() {
				s.tooLong()
			} else {
				s.logC(line)
				act = s.handle(line)
			}
			w.Flush()
			checkPOP3Reply(t, line, out.Bytes(), s)
			if len(s.user) > POP3MaxLineLength {
				t.Fatalf("pending USER name grew to %d bytes", len(s.user))
			}
			if act == pop3StartTLS {
				t.Fatalf("%q: STLS accepted without a TLS config", line)
			}
			if act == pop3Close {
				if wasTrans {
					committed = len(msgs) - dels
				}
				break
			}
		}
		s.release()
		want := len(msgs)
		if committed >= 0 {
			want = committed
		}
		if got := len(h.Store().Messages("alice")); got != want {
			t.Fatalf("alice has %d messages after the session, want %d", got, want)
		}
		if _, err := h.Store().lock("alice"); err != nil {
			t.Fatalf("maildrop still locked after the session: %v", err)
		}
		checkTranscriptSecrets(t, in, tr.String(), redact.POP3Verb)
	})
}

// inputSecrets returns the credentials that input lines (split at LF, CR
// dropped) identify without doubt: the argument of PASS, the APOP digest
// and an AUTH initial response (redact.Command, which reads them the
// tolerant way), and a one-word line that is no command of the protocol
// right after an AUTH line. It keeps those of at least redact.MinSecret
// bytes that occur once in the input, ignoring case, and are not part of
// the transcript's own words. It stops at the first line that starts a
// message body (DATA, BDAT), after which the input is not lines.
func inputSecrets(in []byte, isVerb func(string) bool) []string {
	var found []string
	afterAuth := false
	for _, l := range strings.Split(string(in), "\n") {
		line := strings.TrimSuffix(l, "\r")
		if v, _ := smtpVerb(line); isVerb("DATA") && (v == "DATA" || v == "BDAT") {
			break
		}
		verb, _ := redact.Split(line)
		v := strings.ToUpper(verb)
		if _, sec, ok := redact.Command(line); ok {
			found = append(found, sec)
		} else if afterAuth && redact.Token(line) && !isVerb(v) {
			found = append(found, line)
		}
		afterAuth = v == "AUTH"
	}
	upper := strings.ToUpper(string(in))
	var out []string
	for _, sec := range found {
		u := strings.ToUpper(sec)
		if len(sec) < redact.MinSecret || strings.Count(upper, u) != 1 || strings.Contains(strings.ToUpper(redactedMark), u) {
			continue
		}
		out = append(out, sec)
	}
	return out
}

// checkTranscriptSecrets fails when a credential that the input identifies
// is in a client line of the transcript.
func checkTranscriptSecrets(t *testing.T, in []byte, tr string, verb func(string) bool) {
	t.Helper()
	for _, sec := range inputSecrets(in, verb) {
		u := strings.ToUpper(sec)
		for _, l := range strings.Split(tr, "\n") {
			_, c, ok := strings.Cut(l, " C: ")
			if !ok || strings.HasPrefix(c, "<message body, ") || strings.HasPrefix(c, "<chunk, ") {
				continue
			}
			if strings.Contains(strings.ToUpper(c), u) {
				t.Fatalf("the credential %q is in the transcript line %q\ntranscript:\n%s", sec, l, tr)
			}
		}
	}
}

func checkPOP3Reply(t *testing.T, cmd, out []byte, s *pop3Session) {
	t.Helper()
	i := bytes.Index(out, []byte("\r\n"))
	if i < 0 {
		t.Fatalf("%q: reply %q is not a CRLF line", cmd, out)
	}
	status, rest := out[:i], out[i+2:]
	if len(status)+2 > 512 {
		t.Fatalf("%q: status line of %d octets", cmd, len(status)+2)
	}
	switch {
	case bytes.HasPrefix(status, []byte("+OK")), bytes.HasPrefix(status, []byte("-ERR")):
	case bytes.HasPrefix(status, []byte("+ ")) && s.sasl != nil:
	default:
		t.Fatalf("%q: reply %q starts with neither +OK nor -ERR", cmd, status)
	}
	if bytes.ContainsAny(status, "\r\n") {
		t.Fatalf("%q: status line %q contains CR or LF", cmd, status)
	}
	if !s.multi {
		if len(rest) != 0 {
			t.Fatalf("%q: single-line reply followed by %q", cmd, rest)
		}
		return
	}
	if !bytes.HasPrefix(status, []byte("+OK")) {
		t.Fatalf("%q: multi-line reply with status %q", cmd, status)
	}
	if _, tail, err := dotUnstuff(rest); err != nil || len(tail) != 0 {
		t.Fatalf("%q: multi-line body %q: %v, %d bytes after the terminator", cmd, rest, err, len(tail))
	}
}

// FuzzDotStuff checks the multi-line encoder: unstuffing its output gives
// the input back (plus the CRLF added to a last line without one), exactly
// one dot is added per line that starts with one, and an SMTP-style
// end-of-data scanner finds the end exactly at the terminator.
func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", ".\r\n", "a\r\n.\r\nb", "..\n.\n", "x\r", "\r\n.\r\n.\r\n", "a\nb"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		enc := appendDotStuffed(nil, data)
		body, rest, err := dotUnstuff(enc)
		if err != nil || len(rest) != 0 {
			t.Fatalf("dotUnstuff(appendDotStuffed(%q)) = %v, %q left", data, err, rest)
		}
		want := data
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\r\n")) {
			want = append(append([]byte(nil), data...), '\r', '\n')
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("round trip of %q = %q, want %q", data, body, want)
		}
		dots := bytes.Count(data, []byte("\n.")) + boolInt(len(data) > 0 && data[0] == '.')
		if extra := len(enc) - len(want) - len(".\r\n"); extra != dots {
			t.Fatalf("appendDotStuffed(%q) = %q: %d extra dots", data, enc, extra)
		}
		// go-smtp (and so scanBody, which mirrors it) does not take CR CR LF
		// as a line end; apart from that quirk the SMTP end-of-data scanner
		// must agree with the POP3 encoder.
		if bytes.Contains(enc, []byte("\r\r")) {
			return
		}
		state := bodyBeginLine
		n, done := scanBody(&state, enc)
		if !done || n != len(enc) {
			t.Fatalf("scanBody(%q) = %d, %v; want the end at %d", enc, n, done, len(enc))
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzBodyScanner checks that the interceptor's end-of-data scanner gives
// the same answer however the stream is cut into reads.
func FuzzBodyScanner(f *testing.F) {
	f.Add([]byte("a\r\n.\r\nb"), uint8(3), uint8(1))
	f.Add([]byte(".\r\n"), uint8(1), uint8(1))
	f.Add([]byte("x\r\r\n.\r\n\r\n.\r\n"), uint8(5), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, cut1, cut2 uint8) {
		st := bodyBeginLine
		whole, wdone := scanBody(&st, data)
		st = bodyBeginLine
		got, gdone := 0, false
		for i, rest := 0, data; len(rest) > 0 && !gdone; i++ {
			size := int(cut1)
			if i%2 == 1 {
				size = int(cut2)
			}
			size = max(1, min(size, len(rest)))
			n, d := scanBody(&st, rest[:size])
			got += n
			gdone = d
			rest = rest[n:]
		}
		if got != whole || gdone != wdone {
			t.Fatalf("scanBody in pieces = %d, %v; at once = %d, %v", got, gdone, whole, wdone)
		}
		if wdone && !bytes.HasSuffix(data[:whole], []byte(".\r\n")) {
			t.Fatalf("end found at %d but %q does not end with the terminator", whole, data[:whole])
		}
	})
}

// memListener hands out in-memory pipe connections (unbounded buffers both
// ways, so a client can write everything before reading).
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}

func (l *memListener) Addr() net.Addr { return pipeAddr("mem") }

var replyLineRE = regexp.MustCompile(`^[2-5][0-9][0-9][ -]`)

// FuzzSMTPSession feeds arbitrary client bytes through the interceptor and
// go-smtp, in a synctest bubble. Properties: the two never fall out of step
// (a stuck session would block the bubble: synctest reports it), the idle
// timeout ends the session, every line the client gets is a reply line,
// there are no more final replies than client lines plus the greeting and a
// closing reply, Close leaves no goroutine behind, and no credential the
// input identifies (see inputSecrets) is in the transcript's client lines.
func FuzzSMTPSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nAUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@x>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@x>\r\nBDAT 5 LAST\r\nhelloNOOP\r\n",
		"EHLO x\r\nAUTH LOGIN\r\nYWxpY2U=\r\n*\r\nSTARTTLS\r\nDATA\r\nRSET\r\n",
		"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@x>\r\nDATA\r\n.\r\r\n.\r\n\r\n.\r\nNOOP\r\n",
		"data\r\nBDAT 3\r\nabcBDAT x\r\nQUIT\r\n",
		"EHLO x\r\nAUTH NOPE\r\nc2VjcmV0LXRva2Vu\r\nAUTH\tPLAIN\tAGFsaWNlAGFsaWNlLXNlY3JldA==\r\n auth plain AGFsaWNl\r\nAUTH LOGIN\r\nYWJj\r\nQUIT\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) {
			tr := &syncBuffer{}
			h, err := New(Options{Users: testUsers, AllowInsecureAuth: true, IdleTimeout: time.Minute, Transcript: tr})
			if err != nil {
				t.Fatal(err)
			}
			l := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
			served := make(chan error, 1)
			go func() { served <- h.ServeSMTP(l) }()
			cli, srv := newPipe(0, 0, pipeAddr("client"), pipeAddr("server"))
			l.conns <- srv
			if _, err := cli.Write(in); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Hour) // everything processed, then the idle timeout
			out, err := io.ReadAll(cli)
			if err != nil {
				t.Fatalf("reading the replies: %v", err)
			}
			finals := 0
			for _, line := range strings.SplitAfter(string(out), "\r\n") {
				if line == "" {
					continue
				}
				if !strings.HasSuffix(line, "\r\n") || !replyLineRE.MatchString(line) {
					t.Fatalf("client got %q, not a reply line (output %q)", line, out)
				}
				if line[3] == ' ' {
					finals++
				}
			}
			if lines := bytes.Count(in, []byte("\n")); finals > lines+2 {
				t.Fatalf("%d final replies for %d input lines", finals, lines)
			}
			cli.Close()
			if err := h.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if err := <-served; err != nil {
				t.Fatalf("ServeSMTP() = %v", err)
			}
			checkTranscriptSecrets(t, in, tr.String(), redact.SMTPVerb)
		})
	})
}
