package pop3c

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/simboard/simboard/nx"
)

// cutsFrom turns fuzz bytes into chunk lengths (1..64).
func cutsFrom(wire, seed []byte) [][]byte {
	var chunks [][]byte
	for i := 0; len(wire) > 0; i++ {
		n := len(wire)
		if len(seed) > 0 {
			n = 1 + int(seed[i%len(seed)])%64
		}
		n = min(n, len(wire))
		chunks = append(chunks, wire[:n])
		wire = wire[n:]
	}
	return chunks
}

// FuzzDecode checks the streaming decoder against the line-based reference
// on arbitrary server bytes split at arbitrary points: same data, the
// terminator consumed exactly and never returned, nothing past it consumed.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("a\r\n..b\r\n.\r\nrest"), []byte{1, 2, 3})
	f.Add([]byte("\r\n.\r\n"), []byte{0})
	f.Add([]byte(".\r\n"), []byte{})
	f.Add([]byte("x\n.\ny\r\n.\r\n"), []byte{4})
	f.Add([]byte("abc\r\n.\rx\r\n.\r"), []byte{2, 1})
	f.Fuzz(func(t *testing.T, wire, seed []byte) {
		var d decoder
		var out []byte
		consumed, done := 0, false
		for _, ch := range cutsFrom(wire, seed) {
			var n int
			out, n, done = d.decode(out, ch)
			consumed += n
			if done {
				break
			}
			if n != len(ch) {
				t.Fatalf("decode consumed %d of %d bytes without reaching the terminator", n, len(ch))
			}
		}
		ref, rest, ok := refDecode(wire)
		if done != ok {
			t.Fatalf("decode(%q) done = %v, reference %v", wire, done, ok)
		}
		if !ok {
			if consumed != len(wire) {
				t.Fatalf("decode(%q) consumed %d of %d without a terminator", wire, consumed, len(wire))
			}
			return
		}
		if !bytes.Equal(out, ref) {
			t.Fatalf("decode(%q) = %q, reference %q", wire, out, ref)
		}
		if consumed != len(wire)-len(rest) {
			t.Fatalf("decode(%q) consumed %d, want %d (just past the terminator)", wire, consumed, len(wire)-len(rest))
		}
	})
}

// FuzzMessage runs arbitrary message data through the whole client: the
// server dot-stuffs it and terminates it, the stream is cut into packets at
// arbitrary points (small receive packets, so chains too), followed in the
// same stream by the next reply. MailItemMessageGet must return exactly the
// data (stuffing then unstuffing is the identity), the terminator never in
// it, the session must stay in step, and every pool must balance.
func FuzzMessage(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n.hidden\r\n..\r\n"), []byte{5, 17, 1})
	f.Add([]byte(""), []byte{1})
	f.Add([]byte("\r\n.\r\n"), []byte{3})
	f.Add([]byte("a\r"), []byte{1, 1, 1})
	f.Add([]byte(".\n.\r\n."), []byte{2})
	f.Fuzz(func(t *testing.T, data, seed []byte) {
		wire := append([]byte("+OK\r\n"), stuff(nil, data)...)
		wire = append(wire, "+OK noop\r\n"...)
		var chunks []string
		for _, ch := range cutsFrom(wire, seed) {
			chunks = append(chunks, string(ch))
		}
		c, _, err := openFake(t, Options{Auth: AuthUserPass, MaxMessageSize: -1}, 48, greetNoTS,
			step{"CAPA", []string{"-ERR\r\n"}}, loginSteps[0], loginSteps[1],
			step{"RETR 1", chunks},
			step{"NOOP", nil},
		)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		if _, err := c.MailItemGet(context.Background(), 1); err != nil {
			t.Fatalf("MailItemGet(1) = %v", err)
		}
		got, _, err := readMessage(t, c)
		if err != nil {
			t.Fatalf("MailItemMessageGet() = %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("message = %q, want %q", got, data)
		}
		if err := c.Noop(context.Background()); err != nil {
			t.Fatalf("Noop() after the message = %v (session out of step)", err)
		}
	})
}

// FuzzReplyLine feeds arbitrary bytes as the greeting and as the STAT reply.
// The client must not panic, must return nil or a documented status, and
// every pool must balance.
func FuzzReplyLine(f *testing.F) {
	f.Add([]byte("\n"))
	f.Add([]byte("+OK 1 187402\r\n"))
	f.Add([]byte("-ERR\r\n"))
	f.Add([]byte("+OK\r"))
	f.Add([]byte("+ \r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		documented := func(err error) bool {
			return err == nil || errors.Is(err, ErrServerErrorStatus) || errors.Is(err, ErrMailBufferOverflow) ||
				errors.Is(err, nx.ErrNoPacket) || errors.Is(err, nx.ErrNotConnected) ||
				errors.Is(err, nx.ErrInvalidPacket) // a chained reply in ProfileNetX
		}
		c, _, err := openFake(t, netxOpts, 1536, string(line), loginSteps...)
		if !documented(err) {
			t.Fatalf("Create() with greeting %.80q = %v", line, err)
		}
		if c != nil {
			c.Delete(context.Background())
		}
		c, _, err = openFake(t, netxOpts, 1536, greetNoTS, withLogin(step{"STAT", []string{string(line)}})...)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		n, size, err := c.MailItemsGet(context.Background())
		if !documented(err) {
			t.Fatalf("MailItemsGet() on %.80q = %v", line, err)
		}
		if err == nil {
			// Whatever parsed must round-trip through the canonical form.
			k, text := parseStatus(bytes.TrimRight(line, "\r\n"))
			n2, size2, ok := parseStat(text)
			if k != replyOK || !ok || n2 != n || size2 != size {
				t.Fatalf("MailItemsGet() on %.80q = %d, %d, but the line parses as %d, %d, %v", line, n, size, n2, size2, ok)
			}
		}
	})
}
