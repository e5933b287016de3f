package mailconn

import (
	"bytes"
	"context"
	"time"

	"github.com/simboard/simboard/nx"
)

// Source is what a LineReader reads from (*Conn, or a scripted source in
// tests): Recv returns the next received bytes, never empty on success,
// valid until the next Recv.
type Source interface {
	Recv(ctx context.Context, wait nx.Wait) ([]byte, error)
}

var _ Source = (*Conn)(nil)

// LineReader reads lines of bounded length from a Source, across any split of
// packets, segments and TLS records. Bytes after a line stay buffered (In)
// for the next call or for a caller that reads raw data (a POP3 message).
// The zero value is ready once Src is set. Not safe for concurrent use.
type LineReader struct {
	Src Source
	// Clock bounds a line's total wait (nil: nx.SystemClock).
	Clock nx.Clock
	// OnFill, when set, is called after every Recv (for instance to refuse
	// chained reply packets as NetX does).
	OnFill func() error
	// OnPartial, when set, sees the incomplete line before each Recv, so a
	// caller can refuse garbage at once instead of after a timeout.
	OnPartial func(partial []byte) error

	in    []byte // received, not consumed (aliases the source's memory)
	fresh bool   // in is the whole of the last Recv
	line  []byte // line being assembled
	held  int    // bytes of an incomplete line in line
}

// TooLongError is a line longer than the bound; Line holds its first bytes.
// The reader has consumed what it buffered: the stream is out of step.
type TooLongError struct {
	Max  int
	Line []byte
}

func (e *TooLongError) Error() string { return "line longer than the bound" }

// In returns the buffered bytes not consumed yet; Fresh whether they are the
// whole of the last Recv (so the packet behind them may be taken).
func (r *LineReader) In() []byte  { return r.in }
func (r *LineReader) Fresh() bool { return r.fresh }

// Consume drops the first n buffered bytes.
func (r *LineReader) Consume(n int) { r.in, r.fresh = r.in[n:], false }

// Pending reports the bytes received and not yet returned (buffered input
// and a partial line).
func (r *LineReader) Pending() int { return len(r.in) + r.held }

// Reset drops everything buffered (after a protocol error or a switch to
// TLS).
func (r *LineReader) Reset() { r.in, r.fresh, r.line, r.held = nil, false, r.line[:0], 0 }

// Fill receives the next bytes into the buffer (which must be empty),
// waiting up to wait.
func (r *LineReader) Fill(ctx context.Context, wait nx.Wait) error {
	b, err := r.Src.Recv(ctx, wait)
	if err != nil {
		return err
	}
	r.in, r.fresh = b, true
	if r.OnFill != nil {
		return r.OnFill()
	}
	return nil
}

// ReadLine returns the next line without its line ending (CRLF, or a bare LF
// from a lenient peer), receiving as needed for at most wait in total (on
// the board's clock). The slice is valid until the next call. A line longer
// than max octets (line ending excluded) is a *TooLongError; a timeout
// nx.ErrNoPacket (wrapped); other errors come from the Source.
func (r *LineReader) ReadLine(ctx context.Context, wait nx.Wait, max int) ([]byte, error) {
	r.line = r.line[:0]
	deadline := NewDeadline(r.Clock, wait)
	for {
		if len(r.in) == 0 {
			if r.OnPartial != nil {
				if err := r.OnPartial(r.line); err != nil {
					return nil, err
				}
			}
			w, ok := deadline.Left()
			if !ok {
				return nil, nx.ErrNoPacket
			}
			if err := r.Fill(ctx, w); err != nil {
				return nil, err
			}
		}
		j := bytes.IndexByte(r.in, '\n')
		if j < 0 {
			r.line = append(r.line, r.in...)
			r.in, r.fresh = nil, false
			r.held = len(r.line)
			if len(r.line) > max+1 {
				r.held = 0
				return nil, &TooLongError{Max: max, Line: r.line}
			}
			continue
		}
		r.line = append(r.line, r.in[:j]...)
		r.in, r.fresh, r.held = r.in[j+1:], false, 0
		line := r.line
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > max {
			return nil, &TooLongError{Max: max, Line: line}
		}
		return line, nil
	}
}

// Deadline is one wait option turned into a point on the board's clock, for
// an operation made of several waits (a multi-packet reply).
type Deadline struct {
	clock nx.Clock
	wait  nx.Wait
	at    time.Time
}

// NewDeadline starts wait on clock (nil: nx.SystemClock) now.
func NewDeadline(clock nx.Clock, wait nx.Wait) Deadline {
	if clock == nil {
		clock = nx.SystemClock
	}
	d := Deadline{clock: clock, wait: wait}
	if wait != nx.NoWait && !wait.Forever() {
		d.at = clock.Now().Add(wait.Duration())
	}
	return d
}

// Left returns the wait that remains, and false once it has run out (for a
// finite wait). nx.NoWait and nx.WaitForever are returned as they are.
func (d Deadline) Left() (nx.Wait, bool) {
	if d.at.IsZero() {
		return d.wait, true
	}
	w := nx.FromDuration(d.at.Sub(d.clock.Now()))
	return w, w != nx.NoWait
}
