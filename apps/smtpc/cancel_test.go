package smtpc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// stallReader gives first at once, then blocks until ctx is done (a body
// still being read when the deadline passes), then gives rest and EOF.
type stallReader struct {
	ctx         context.Context
	first, rest []byte
	n           int
}

func (r *stallReader) Read(p []byte) (int, error) {
	switch r.n {
	case 0:
		r.n++
		return copy(p, r.first), nil
	case 1:
		<-r.ctx.Done()
		testSleep(10 * time.Millisecond) // well past the deadline
		r.n++
		return copy(p, r.rest), nil
	}
	return 0, io.EOF
}

func checkAborted(t *testing.T, err error, res Result) {
	t.Helper()
	if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.DeadlineExceeded) || NetXStatus(err) != uint32(nx.ErrWaitAborted) {
		t.Errorf("error = %v (NetXStatus %#x), want NX_WAIT_ABORTED with context.DeadlineExceeded", err, NetXStatus(err))
	}
	if res.Accepted {
		t.Errorf("Result.Accepted = true after a cancelled body")
	}
}

// Issue 9 §2 "cancelled sends": the context expires while a streamed body is
// being read. The end-of-data marker (or BDAT ... LAST) must not leave, no
// command may follow (no QUIT: the connection is reset), and the error is
// NX_WAIT_ABORTED with context.DeadlineExceeded. A scripted server reads
// everything the client sends until it closes.
func TestCancelledBodyNoEndOfData(t *testing.T) {
	envelope := []scriptStep{greet, {want: "EHLO", send: []string{"250-x\r\n250-CHUNKING\r\n250 8BITMIME\r\n"}},
		{want: "MAIL FROM:", send: []string{"250 ok\r\n"}}, {want: "RCPT TO:", send: []string{"250 ok\r\n"}}}
	for _, tt := range []struct {
		name     string
		chunking bool
		last     scriptStep
		first    int
	}{
		{"DATA", false, scriptStep{want: "DATA", send: []string{"354 go\r\n"}}, 1000},
		{"BDAT", true, scriptStep{want: "BDAT", chunks: true, send: []string{"250 queued\r\n"}}, 40 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := boardtest.WithTimeout(t, context.Background(), 300*time.Millisecond)
			defer cancel()
			o := noAuth(pipeOpts())
			o.Chunking = tt.chunking
			body := &stallReader{ctx: ctx, first: bytes.Repeat([]byte("line of the body\r\n"), tt.first/18+1), rest: []byte("last line\r\n")}
			script := append(append([]scriptStep(nil), envelope...), tt.last)
			if !tt.chunking {
				script = append(script, scriptStep{data: true, send: []string{"250 queued\r\n"}})
			}
			script = append(script, quitOK)
			out := runPipeCtx(t, ctx, o, &mail{to: []string{"a@example.com"}, reader: body, size: -1}, script)
			checkAborted(t, out.err, out.res)
			if out.srv.err == nil {
				t.Fatalf("the scripted server finished its script (the mail was completed): saw %q", out.srv.lines)
			}
			all := append(append([]string(nil), out.srv.lines...), out.srv.extra...)
			for _, l := range all {
				if strings.Contains(strings.ToUpper(l), "LAST") || l == "." || strings.EqualFold(l, "QUIT") {
					t.Errorf("client sent %q after the context was done (server saw %q)", l, all)
				}
			}
			if strings.Contains(out.transcript, "\nC: .\n") {
				t.Errorf("transcript shows the end of data:\n%s", out.transcript)
			}
		})
	}
}

// The same on the board's packet path against the built-in mail host: no
// mail is delivered and every pool is balanced.
func TestCancelledBodyNotDelivered(t *testing.T) {
	e := newHostEnv(t, envOptions{host: mailhost.Options{}})
	for _, chunking := range []bool{false, true} {
		ctx, cancel := boardtest.WithTimeout(t, context.Background(), 300*time.Millisecond)
		o := e.options()
		o.Chunking = chunking
		c := e.client(t, o)
		body := &stallReader{ctx: ctx, first: bytes.Repeat([]byte("0123456789abcdef\r\n"), 3000), rest: []byte("end\r\n")}
		res, err := c.Send(ctx, &Message{To: []string{"bob@example.com"}, Subject: "cancelled", Body: body})
		cancel()
		checkAborted(t, err, res)
	}
	_ = e.host.Close() // waits for the sessions: a delivery would be in the store now
	if r := e.host.Store().Received(); len(r) != 0 {
		t.Errorf("the host delivered %d mail(s) after cancelled sends", len(r))
	}
}
