package mailhost

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
)

// fakeClock hands every timer to the test, with a snapshot of the host's
// transcript taken when the host asked for it.
type fakeClock struct {
	transcript *syncBuffer
	timers     chan *fakeTimer
}

type fakeTimer struct {
	d          time.Duration
	c          chan time.Time
	transcript string
}

func newFakeClock(tr *syncBuffer) *fakeClock {
	return &fakeClock{transcript: tr, timers: make(chan *fakeTimer, 16)}
}

func (f *fakeClock) Now() time.Time { return time.Unix(1_700_000_000, 0) }

func (f *fakeClock) NewTimer(d time.Duration) nx.Timer {
	t := &fakeTimer{d: d, c: make(chan time.Time, 1), transcript: f.transcript.String()}
	f.timers <- t
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool          { return true }

func (f *fakeClock) next(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case tm := <-f.timers:
		return tm
	case <-time.After(30 * time.Second):
		t.Fatalf("the host never started the delay timer")
		return nil
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// faultStep is one exchange of a scripted session.
type faultStep struct {
	stage Stage
	send  string // "" sends nothing (the greeting)
	raw   bool   // send as is, without CRLF
	// ok reads and checks the normal answer.
	ok func(c *client) error
}

func smtpOK(code int) func(*client) error {
	return func(c *client) error {
		got, text, err := c.readReply()
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("reply %d %q, want %d", got, text, code)
		}
		return nil
	}
}

func popOK(multi bool) func(*client) error {
	return func(c *client) error {
		l, err := c.readLine()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(l, "+OK") {
			return fmt.Errorf("reply %q, want +OK", l)
		}
		if multi {
			c.multi()
		}
		return nil
	}
}

var smtpScript = []faultStep{
	{SMTPGreeting, "", false, smtpOK(220)},
	{SMTPEHLO, "EHLO board.test", false, smtpOK(250)},
	{SMTPAuth, "AUTH PLAIN " + b64("\x00alice\x00alice-secret"), false, smtpOK(235)},
	{SMTPMail, "MAIL FROM:<board@board.test>", false, smtpOK(250)},
	{SMTPRcpt, "RCPT TO:<bob@mailhost.test>", false, smtpOK(250)},
	{SMTPData, "DATA", false, smtpOK(354)},
	{SMTPDataEnd, "Subject: fault\r\n\r\nbody\r\n.\r\n", true, smtpOK(250)},
	{SMTPQuit, "QUIT", false, smtpOK(221)},
}

var pop3Script = []faultStep{
	{POP3Greeting, "", false, popOK(false)},
	{POP3Capa, "CAPA", false, popOK(true)},
	{POP3User, "USER alice", false, popOK(false)},
	{POP3Pass, "PASS alice-secret", false, popOK(false)},
	{POP3Stat, "STAT", false, popOK(false)},
	{POP3List, "LIST", false, popOK(true)},
	{POP3UIDL, "UIDL", false, popOK(true)},
	{POP3Top, "TOP 1 1", false, popOK(true)},
	{POP3Retr, "RETR 1", false, popOK(true)},
	{POP3Dele, "DELE 1", false, popOK(false)},
	{POP3Rset, "RSET", false, popOK(false)},
	{POP3Noop, "NOOP", false, popOK(false)},
	{POP3Quit, "QUIT", false, popOK(false)},
}

// TestFaults injects every fault kind at every stage of a scripted SMTP and
// POP3 session and checks what the client sees.
func TestFaults(t *testing.T) {
	kinds := []Fault{
		{Kind: FaultReply, Code: 451, Text: "4.3.2 Try again later"},
		{Kind: FaultReply, Code: 554, Text: "5.7.1 Go away"},
		{Kind: FaultDelay, Delay: 2 * time.Second},
		{Kind: FaultClose},
		{Kind: FaultReset},
		{Kind: FaultSilent},
		{Kind: FaultGarbage},
	}
	for _, proto := range []struct {
		name   string
		script []faultStep
	}{{"smtp", smtpScript}, {"pop3", pop3Script}} {
		for at, st := range proto.script {
			for _, k := range kinds {
				f := k
				f.Stage = st.stage
				name := fmt.Sprintf("%s/%s", st.stage, f.Kind)
				if f.Kind == FaultReply {
					name += fmt.Sprint(f.Code)
				}
				t.Run(name, func(t *testing.T) {
					runFaultCase(t, proto.name, proto.script, at, f)
				})
			}
		}
	}
}

func runFaultCase(t *testing.T, proto string, script []faultStep, at int, f Fault) {
	tr := &syncBuffer{}
	clk := newFakeClock(tr)
	th := startHost(t, Options{AllowInsecureAuth: true, Faults: []Fault{f}, Transcript: tr, Clock: clk})
	if proto == "pop3" {
		if err := th.Store().Deliver("x@y", []string{"alice"}, []byte(msgDots)); err != nil {
			t.Fatal(err)
		}
	}
	addr := th.smtp
	if proto == "pop3" {
		addr = th.pop3
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		// A reset right at accept can reach the client before connect
		// returns.
		if f.Kind == FaultReset && at == 0 && errors.Is(err, syscall.ECONNRESET) {
			return
		}
		t.Fatalf("net.Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	for i, st := range script {
		if st.send != "" {
			if st.raw {
				if _, err := io.WriteString(c.conn, st.send); err != nil {
					t.Fatal(err)
				}
			} else {
				c.send(st.send)
			}
		}
		if i < at {
			if err := st.ok(c); err != nil {
				t.Fatalf("step %s before the fault: %v", st.stage, err)
			}
			continue
		}
		if i > at {
			if err := st.ok(c); err != nil {
				t.Fatalf("step %s after a %s fault: %v", st.stage, f.Kind, err)
			}
			continue
		}
		// The faulty step.
		switch f.Kind {
		case FaultReply:
			checkFaultReply(t, c, proto, f)
			if st.stage == SMTPDataEnd || st.stage == SMTPData {
				if n := len(th.Store().Messages("bob")); n != 0 {
					t.Errorf("a message was delivered after a %d at %s", f.Code, st.stage)
				}
			}
			return
		case FaultDelay:
			tm := clk.next(t)
			if tm.d != f.Delay {
				t.Errorf("delay timer %v, want %v", tm.d, f.Delay)
			}
			if l := lastLine(tm.transcript); strings.Contains(l, " S: ") {
				t.Errorf("the host had answered before the delay: transcript ends %q", l)
			}
			tm.c <- time.Now()
			if err := st.ok(c); err != nil {
				t.Fatalf("step %s after the delay: %v", st.stage, err)
			}
		case FaultGarbage:
			l, err := c.readLine()
			if err != nil {
				t.Fatalf("reading the garbage line: %v", err)
			}
			if l != defaultGarbage {
				t.Errorf("got %q where the garbage line was expected", l)
			}
			if err := st.ok(c); err != nil {
				t.Fatalf("step %s after the garbage line: %v", st.stage, err)
			}
		case FaultClose:
			_, err := c.r.ReadByte()
			if !errors.Is(err, io.EOF) {
				t.Errorf("read after close fault = %v, want EOF", err)
			}
			checkNotDelivered(t, th, st.stage)
			return
		case FaultReset:
			_, err := c.r.ReadByte()
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read after reset fault = %v, want ECONNRESET", err)
			}
			checkNotDelivered(t, th, st.stage)
			return
		case FaultSilent:
			// A silent host reads on without answering: a large write still
			// goes through, and after our half-close it closes cleanly
			// without having sent a byte.
			junk := bytes.Repeat([]byte("NOOP\r\n"), 1<<20/6*4)
			if _, err := c.conn.Write(junk); err != nil {
				t.Fatalf("writing to a silent host: %v", err)
			}
			if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(c.r)
			if err != nil || len(b) != 0 {
				t.Errorf("silent host sent %q, %v; want nothing and EOF", b, err)
			}
			checkNotDelivered(t, th, st.stage)
			return
		}
	}
	if proto == "smtp" {
		if n := len(th.Store().Messages("bob")); n != 1 {
			t.Errorf("bob has %d messages after a %s fault, want 1", n, f.Kind)
		}
	} else if n := len(th.Store().Messages("alice")); n != 1 {
		t.Errorf("alice has %d messages after RSET and QUIT, want 1", n)
	}
}

func checkFaultReply(t *testing.T, c *client, proto string, f Fault) {
	t.Helper()
	if proto == "pop3" {
		l, err := c.readLine()
		if err != nil || l != "-ERR "+f.Text {
			t.Fatalf("fault reply = %q, %v; want %q", l, err, "-ERR "+f.Text)
		}
		if f.Stage == POP3Greeting {
			if err := c.closed(); err != nil {
				t.Errorf("after a greeting -ERR: %v", err)
			}
			return
		}
		c.send("NOOP") // not logged in: state error, but the session lives
		if l := c.line(); !strings.HasPrefix(l, "-ERR") && !strings.HasPrefix(l, "+OK") {
			t.Errorf("NOOP after fault reply = %q", l)
		}
		return
	}
	code, text, err := c.readReply()
	if err != nil || code != f.Code || len(text) != 1 || text[0] != f.Text {
		t.Fatalf("fault reply = %d %q, %v; want %d %q", code, text, err, f.Code, f.Text)
	}
	if f.Stage == SMTPGreeting {
		c.expect("EHLO board.test", 503)
		c.expect("QUIT", 221)
		return
	}
	if f.Stage != SMTPQuit {
		c.expect("NOOP", 250) // the session goes on
	}
}

func checkNotDelivered(t *testing.T, th *testHost, st Stage) {
	t.Helper()
	if st.smtp() {
		want := 0
		if st == SMTPQuit {
			want = 1 // delivered before QUIT
		}
		if n := len(th.Store().Messages("bob")); n != want {
			t.Errorf("bob has %d messages after the fault at %s, want %d", n, st, want)
		}
	} else if n := len(th.Store().Messages("alice")); n != 1 {
		t.Errorf("alice has %d messages after a dropped session, want 1 (no UPDATE)", n)
	}
}

func TestFaultSkipTimesAndParse(t *testing.T) {
	f, err := ParseFault("smtp.rcpt@2:reply:550 5.1.1 No such user")
	if err != nil {
		t.Fatalf("ParseFault() = %v", err)
	}
	want := Fault{Stage: SMTPRcpt, Kind: FaultReply, Code: 550, Text: "5.1.1 No such user", Skip: 1, Times: 1}
	if f != want {
		t.Fatalf("ParseFault() = %+v, want %+v", f, want)
	}
	th := startHost(t, Options{AllowInsecureAuth: true, Faults: []Fault{f}})
	c := dial(t, th.smtp)
	c.expect("", 220)
	c.ehlo()
	c.expect("MAIL FROM:<a@b>", 250)
	c.expect("RCPT TO:<alice@x>", 250)
	c.expect("RCPT TO:<bob@x>", 550)
	c.expect("RCPT TO:<carol@x>", 250)
	c.expect("QUIT", 221)

	for _, tt := range []struct {
		in   string
		want Fault
	}{
		{"pop3.retr:delay:2s", Fault{Stage: POP3Retr, Kind: FaultDelay, Delay: 2 * time.Second}},
		{"pop3.pass:reply:[AUTH] no", Fault{Stage: POP3Pass, Kind: FaultReply, Text: "[AUTH] no"}},
		{"smtp.greeting:reset", Fault{Stage: SMTPGreeting, Kind: FaultReset}},
		{"smtp.data-end:garbage:XX", Fault{Stage: SMTPDataEnd, Kind: FaultGarbage, Text: "XX"}},
	} {
		if got, err := ParseFault(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"smtp.rcpt", "smtp.nope:close", "smtp.rcpt:explode", "smtp.rcpt:reply:abc",
		"smtp.rcpt:reply:700 x", "pop3.retr:delay:soon", "smtp.rcpt@0:close"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) = nil error, want one", bad)
		}
	}
	if err := th.SetFaults([]Fault{{Stage: "smtp.bogus", Kind: FaultClose}}); err == nil {
		t.Errorf("SetFaults(bogus) = nil, want error")
	}
	if _, err := New(Options{Faults: []Fault{{Stage: SMTPMail, Kind: "boom"}}}); err == nil {
		t.Errorf("New(bad fault) = nil error")
	}
}
