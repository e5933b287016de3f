package mailconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
)

type chunks struct{ parts [][]byte }

func (c *chunks) Recv(context.Context, nx.Wait) ([]byte, error) {
	if len(c.parts) == 0 {
		return nil, nx.ErrNoPacket
	}
	b := c.parts[0]
	c.parts = c.parts[1:]
	return b, nil
}

func src(parts ...string) *chunks {
	c := &chunks{}
	for _, p := range parts {
		c.parts = append(c.parts, []byte(p))
	}
	return c
}

func TestLineReader(t *testing.T) {
	r := LineReader{Src: src("+OK a\r", "\nb\nc", "c\r\nrest")}
	for _, want := range []string{"+OK a", "b", "cc"} {
		line, err := r.ReadLine(context.Background(), nx.Ticks(10), 16)
		if err != nil || string(line) != want {
			t.Fatalf("ReadLine() = %q, %v; want %q", line, err, want)
		}
	}
	if r.Pending() != 4 || string(r.In()) != "rest" {
		t.Errorf("Pending() = %d, In() = %q; want 4, \"rest\"", r.Pending(), r.In())
	}
	if _, err := r.ReadLine(context.Background(), nx.Ticks(10), 16); !errors.Is(err, nx.ErrNoPacket) {
		t.Errorf("ReadLine() at the end = %v, want NX_NO_PACKET", err)
	}
	if r.Pending() != 4 {
		t.Errorf("Pending() after a timeout mid-line = %d, want 4", r.Pending())
	}
}

func TestLineReaderBound(t *testing.T) {
	r := LineReader{Src: src(strings.Repeat("x", 10), strings.Repeat("y", 10), "\r\n")}
	_, err := r.ReadLine(context.Background(), nx.Ticks(10), 12)
	var tl *TooLongError
	if !errors.As(err, &tl) || tl.Max != 12 {
		t.Fatalf("ReadLine(max 12) of 20 bytes = %v, want *TooLongError", err)
	}
	r = LineReader{Src: src("12345678901\r\n")}
	if line, err := r.ReadLine(context.Background(), nx.Ticks(10), 11); err != nil || len(line) != 11 {
		t.Fatalf("ReadLine(max 11) of 11 bytes + CRLF = %q, %v; want the line", line, err)
	}
}

func TestLineReaderOnPartial(t *testing.T) {
	calls := 0
	s := src("garb", "age\r\n")
	r := LineReader{Src: s, OnPartial: func(p []byte) error {
		calls++
		if len(p) > 0 {
			return fmt.Errorf("bad start %q", p)
		}
		return nil
	}}
	if _, err := r.ReadLine(context.Background(), nx.WaitForever, 100); err == nil || !strings.Contains(err.Error(), "garb") {
		t.Fatalf("ReadLine() = %v, want the OnPartial error", err)
	}
	if len(s.parts) != 1 {
		t.Errorf("ReadLine() received %d chunks, want 1 (no wait once the partial line is refused)", 2-len(s.parts))
	}
}

// Aborted and WithCause keep ctx.Err() reachable next to NX_WAIT_ABORTED.
func TestAbortKeepsContextError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	for _, err := range []error{
		Aborted(ctx, "smtpc: send"),
		WithCause(ctx, fmt.Errorf("pop3c: RETR: %w", nx.ErrWaitAborted)),
	} {
		if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.DeadlineExceeded) || nx.Code(err) != nx.ErrWaitAborted {
			t.Errorf("%v: errors.Is NX_WAIT_ABORTED %v, DeadlineExceeded %v, nx.Code %v; want both and NX_WAIT_ABORTED",
				err, errors.Is(err, nx.ErrWaitAborted), errors.Is(err, context.DeadlineExceeded), nx.Code(err))
		}
	}
	other := fmt.Errorf("x: %w", nx.ErrNoPacket)
	if WithCause(ctx, other) != other {
		t.Errorf("WithCause changed an error that is not NX_WAIT_ABORTED")
	}
	if WithCause(context.Background(), nil) != nil {
		t.Errorf("WithCause(nil) != nil")
	}
}

func TestReplyErrorShape(t *testing.T) {
	tests := []struct {
		e               ReplyError
		text            string
		temporary, perm bool
	}{
		{ReplyError{Code: 550, Enhanced: "5.1.1", Msg: "no such user", Stage: "RCPT TO:<b@x>"}, "smtpc: RCPT TO:<b@x>: permanent failure: 550 5.1.1 no such user", false, true},
		{ReplyError{Code: 451, Msg: "a\nb", Stage: "DATA"}, "smtpc: DATA: temporary failure: 451 a / b", true, false},
		{ReplyError{Enhanced: "AUTH", Msg: "bad login", Stage: "PASS"}, "pop3c: PASS: -ERR [AUTH] bad login", false, true},
		{ReplyError{Enhanced: "IN-USE", Msg: "locked"}, "pop3c: greeting: -ERR [IN-USE] locked", true, false},
		{ReplyError{Msg: "no", Stage: "RETR"}, "pop3c: RETR: -ERR no", false, false},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.text {
			t.Errorf("Error() = %q, want %q", got, tt.text)
		}
		if tt.e.Temporary() != tt.temporary || tt.e.Permanent() != tt.perm {
			t.Errorf("%q: Temporary, Permanent = %v, %v; want %v, %v", tt.text, tt.e.Temporary(), tt.e.Permanent(), tt.temporary, tt.perm)
		}
	}
}

// Nothing leaves once the context is done, whatever the stream would allow.
func TestNothingSentAfterContextDone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewNetConn(a, Config{Send: nx.Ticks(100)})
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Write(ctx, []byte("QUIT\r\n")); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	cancel()
	if err := c.Flush(ctx); !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush(done ctx) = %v, want NX_WAIT_ABORTED with context.Canceled", err)
	}
	if err := c.Write(ctx, []byte("x")); !errors.Is(err, nx.ErrWaitAborted) {
		t.Fatalf("Write(done ctx) = %v, want NX_WAIT_ABORTED", err)
	}
	_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := b.Read(make([]byte, 16)); n != 0 {
		t.Fatalf("peer read %d bytes (%v) after the context was done, want none", n, err)
	}
	_ = c.Close(ctx, true)
}

func TestTLSModeZero(t *testing.T) {
	var m TLSMode
	if m != TLSOpportunistic || m.String() != "opportunistic" || !m.Valid() || TLSMode(4).Valid() {
		t.Errorf("zero TLSMode = %v, want opportunistic; Valid(4) must be false", m)
	}
}
