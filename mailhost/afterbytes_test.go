package mailhost

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaultAfterBytes: "RST after 100 KB of DATA". The host resets the
// connection once 100 KiB of the body have arrived (the client sees
// ECONNRESET, nothing is stored); a delay after N bytes lets the message
// through intact; ParseFault reads the ">size" form.
func TestFaultAfterBytes(t *testing.T) {
	f, err := ParseFault("smtp.data-end>100KB:reset")
	if err != nil || f.AfterBytes != 100<<10 || f.Kind != FaultReset || f.Stage != SMTPDataEnd {
		t.Fatalf("ParseFault = %+v, %v", f, err)
	}
	for _, bad := range []string{"smtp.rcpt>10:reset", "smtp.data-end>10:reply:451", "smtp.data-end>x:reset", "smtp.data-end>0:close"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
	line := strings.Repeat("x", 1022) + "\r\n" // 1 KiB a line
	send := func(c *client, kib int) error {
		c.expect("EHLO board.test", 250)
		c.expect("MAIL FROM:<board@board.test>", 250)
		c.expect("RCPT TO:<alice@mailhost.test>", 250)
		c.expect("DATA", 354)
		errc := make(chan error, 1)
		go func() {
			var err error
			for i := 0; i < kib && err == nil; i++ {
				_, err = io.WriteString(c.conn, line)
			}
			if err == nil {
				_, err = io.WriteString(c.conn, ".\r\n")
			}
			errc <- err
		}()
		_, _, rerr := c.readReply()
		werr := <-errc
		return errors.Join(rerr, werr)
	}

	t.Run("reset", func(t *testing.T) {
		th := startHost(t, Options{Faults: []Fault{{Stage: SMTPDataEnd, Kind: FaultReset, AfterBytes: 100 << 10, Times: 1}}})
		c := dial(t, th.smtp)
		c.line() // greeting
		err := send(c, 400)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("client saw %v, want a connection reset", err)
		}
		if n := len(th.Store().Messages("alice")); n != 0 {
			t.Fatalf("%d messages stored after a reset mid-DATA", n)
		}
		if !strings.Contains(th.transcript.String(), "102400 octets so far") {
			t.Fatalf("transcript does not show the reset after 102400 octets:\n%s", lastLines(th.transcript.String(), 6))
		}
		// Times 1: the next message goes through.
		c2 := dial(t, th.smtp)
		c2.line()
		if err := send(c2, 200); err != nil {
			t.Fatalf("second message: %v", err)
		}
		if m := th.Store().Messages("alice"); len(m) != 1 || m[0].Size() < 200<<10 {
			t.Fatalf("stored %d messages", len(m))
		}
	})
	t.Run("delay", func(t *testing.T) {
		th := startHost(t, Options{Faults: []Fault{{Stage: SMTPDataEnd, Kind: FaultDelay, Delay: 300 * time.Millisecond, AfterBytes: 10 << 10}}})
		c := dial(t, th.smtp)
		c.line()
		start := time.Now()
		if err := send(c, 50); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("took %v, want the 300 ms delay", d)
		}
		m := th.Store().Messages("alice")
		if len(m) != 1 || !strings.HasSuffix(string(m[0].Data), line) || m[0].Size() != 50*len(line) {
			t.Fatalf("stored %d messages (size %v)", len(m), func() int {
				if len(m) > 0 {
					return m[0].Size()
				}
				return 0
			}())
		}
	})
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
