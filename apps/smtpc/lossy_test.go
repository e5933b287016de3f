package smtpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/simboard/simboard/nx"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
)

// randomBody returns n octets of text lines of random length (0..200),
// with LF or CRLF ends, some lines starting with '.', and some 8-bit text.
func randomBody(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		l := min(rng.IntN(201), n-len(b))
		for j := 0; j < l; j++ {
			switch r := rng.IntN(100); {
			case j == 0 && r < 10:
				b = append(b, '.')
			case r < 2:
				b = append(b, 0xC3, 0xA9)[:len(b)+min(2, n-len(b))]
			default:
				b = append(b, byte(' '+rng.IntN(95)))
			}
		}
		if len(b) < n {
			if rng.IntN(2) == 0 && len(b)+2 <= n {
				b = append(b, '\r', '\n')
			} else {
				b = append(b, '\n')
			}
		}
	}
	return b[:n]
}

// TestLossyWire sends the same 100 mails of random sizes (seeded) over a
// wire that drops 5% and reorders 5% of the frames in both directions; all
// must arrive byte-exact. Ten clients share the work to keep the test
// short, the boards' minimum RTO is 20 ms, and a context bounds the run.
//
// The disconnect timeout is lowered to 0.5 s: under this loss a graceful
// close sometimes never completes (the socket stays ESTABLISHED after our
// FIN until the timeout, then is reset), which costs NetX's full 5 s per
// occurrence without changing the outcome: the mail was accepted before.
func TestLossyWire(t *testing.T) {
	if testing.Short() {
		t.Skip("100 mails over a lossy wire")
	}
	port := driver.PortOptions{Loss: 0.05, Reorder: 0.05}
	tcp := netstack.TCPOptions{MinRTO: 20 * time.Millisecond}
	e := newHostEnv(t, envOptions{seed: 5, host: mailhost.Options{MaxMessageBytes: -1},
		cli: boardtest.Options{Port: port, TCP: tcp}, srv: boardtest.Options{Port: port, TCP: tcp}})
	o := e.options()
	o.Timeouts.Disconnect = nx.Ticks(50)
	// Under 5% loss a segment can be lost repeatedly; with RTO backoff
	// (1, 2, 4, 8 s before an RTT sample) NetX's 10 s reply timeouts are
	// sometimes too short, as they would be on a real lossy link.
	o.Timeouts.Greeting, o.Timeouts.Envelope, o.Timeouts.Message = nx.Seconds(30), nx.Seconds(30), nx.Seconds(60)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	type mailCase struct {
		msg  *Message
		body []byte
	}
	rng := rand.New(rand.NewPCG(2025, 5))
	mails := make([]mailCase, 100)
	for i := range mails {
		body := randomBody(rng, rng.IntN(64<<10)+1)
		mails[i] = mailCase{body: body, msg: &Message{To: []string{"bob@example.com"}, Subject: fmt.Sprintf("lossy %d", i),
			Date: testDate, MessageID: fmt.Sprintf("lossy%d@example.com", i)}}
	}
	const workers = 10
	var wg sync.WaitGroup
	for w := range workers {
		c := e.client(t, o)
		wg.Go(func() {
			for i := w; i < len(mails); i += workers {
				m := mails[i]
				// A mail that failed on the transport is sent again, as
				// firmware would; one the server accepted is never resent.
				for try := 1; ; try++ {
					msg := *m.msg
					msg.Body = bytes.NewReader(m.body)
					res, err := c.Send(ctx, &msg)
					if err == nil && res.Accepted {
						break
					}
					if try == 3 || !(errors.Is(err, nx.ErrNoPacket) || errors.Is(err, nx.ErrNotConnected)) {
						t.Errorf("mail %d (%d octets): Send() = %+v, %v", i, len(m.body), res, err)
						return
					}
					t.Logf("mail %d: try %d failed on the transport (%v), sending again", i, try, err)
				}
			}
		})
	}
	wg.Wait()
	got := map[string][]byte{}
	for _, env := range e.host.Store().Received() {
		i := bytes.Index(env.Data, []byte("Message-ID: <"))
		j := bytes.IndexByte(env.Data[i:], '>')
		got[string(env.Data[i+13:i+j])] = env.Data
	}
	for i, m := range mails {
		want := expected(t, o, m.msg, m.body)
		if data, ok := got[m.msg.MessageID]; !ok {
			t.Errorf("mail %d never arrived", i)
		} else if !bytes.Equal(data, want) {
			t.Errorf("mail %d (%d octets) differs: %s", i, len(m.body), diffAt(data, want))
		}
	}
	if len(got) != len(mails) {
		t.Errorf("the host holds %d distinct mails, want %d", len(got), len(mails))
	}
	if n := len(e.host.Store().Messages("bob")); n != len(mails) {
		// Only possible when a 250 was lost for longer than the message
		// timeout and the resent mail was accepted again.
		t.Logf("bob's mailbox has %d messages for %d mails (duplicates after a resend)", n, len(mails))
	}
	cs, ss := e.cli.Port.Stats(), e.srv.Port.Stats()
	t.Logf("frames lost: client %d, server %d; reordered: client %d, server %d", cs.Drops.Loss, ss.Drops.Loss, cs.Reordered, ss.Reordered)
	if cs.Drops.Loss == 0 || ss.Drops.Loss == 0 {
		t.Errorf("the wire lost no frames (client %d, server %d): impairments not applied", cs.Drops.Loss, ss.Drops.Loss)
	}
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
}
