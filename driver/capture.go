package driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/simboard/simboard/nx"
)

// DefaultSnaplen is the pcap snapshot length when CaptureOptions.Snaplen is 0.
const DefaultSnaplen = 65535

// CaptureOptions configures NewCapture. The zero value is valid.
type CaptureOptions struct {
	// Clock stamps every record. nil means nx.SystemClock.
	Clock nx.Clock
	// Snaplen is the pcap snapshot length; longer frames are truncated in
	// the file (their original length is kept). 0 means 65535.
	Snaplen int
	// BufferSize is the size of the write buffer in front of w. 0 means
	// 64 KiB; a negative value writes every record straight through (useful
	// to watch a live file, at the cost of two writes per frame).
	BufferSize int
	// Logger receives the first write error at Warn. nil discards.
	Logger *slog.Logger
}

// Capture is a Link decorator that records every frame it passes, in both
// directions (frames written and frames read, ARP included), to a classic
// pcap stream (LinkTypeEthernet, microsecond timestamps from the injected
// clock) that Wireshark and tcpdump read.
//
// A capture never changes the traffic: frames are passed on even when
// recording fails. The first write error stops recording; it is logged,
// returned by Err and by Close, and never panics. Safe for concurrent use:
// one mutex serialises records. Lock order: the mutex is taken after the
// inner link's call returns and never held across it.
type Capture struct {
	inner Link
	clk   nx.Clock
	log   *slog.Logger
	snap  int

	mu  sync.Mutex // guards ew, bw, pw, err
	ew  *errWriter
	bw  *bufio.Writer
	pw  *pcapgo.Writer
	err error

	closeOnce sync.Once
	closeErr  error
}

// NewCapture wraps l and writes the pcap file header to w at once (an error
// here is returned). Close flushes the buffer and closes l; w stays open
// and belongs to the caller. Errors wrap nx.ErrPtr for a nil link or writer
// and nx.ErrInvalidParameters for a bad snaplen.
func NewCapture(l Link, w io.Writer, opts CaptureOptions) (*Capture, error) {
	if l == nil || w == nil {
		return nil, fmt.Errorf("driver: capture: nil link or writer: %w", nx.ErrPtr)
	}
	snap := opts.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	if snap < EthernetHeaderLen || snap > 1<<18 {
		return nil, fmt.Errorf("driver: capture: snaplen %d outside [14, 262144]: %w", opts.Snaplen, nx.ErrInvalidParameters)
	}
	c := &Capture{inner: l, clk: opts.Clock, log: opts.Logger, snap: snap}
	if c.clk == nil {
		c.clk = nx.SystemClock
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ew = &errWriter{w: w}
	var out io.Writer = c.ew
	switch {
	case opts.BufferSize == 0:
		c.bw = bufio.NewWriterSize(c.ew, 64<<10)
		out = c.bw
	case opts.BufferSize > 0:
		c.bw = bufio.NewWriterSize(c.ew, opts.BufferSize)
		out = c.bw
	}
	c.pw = pcapgo.NewWriter(out)
	if err := c.pw.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("driver: capture: write pcap header: %w", c.ew.cause(err))
	}
	return c, nil
}

// Link returns the wrapped link.
func (c *Capture) Link() Link { return c.inner }

// MAC returns the wrapped link's MAC.
func (c *Capture) MAC() net.HardwareAddr { return c.inner.MAC() }

// MTU returns the wrapped link's MTU.
func (c *Capture) MTU() int { return c.inner.MTU() }

// LinkUp returns the wrapped link's carrier state.
func (c *Capture) LinkUp() bool { return c.inner.LinkUp() }

// SpeedBitsPerSecond forwards the wrapped link's speed when it reports one.
func (c *Capture) SpeedBitsPerSecond() int64 {
	if s, ok := c.inner.(interface{ SpeedBitsPerSecond() int64 }); ok {
		return s.SpeedBitsPerSecond()
	}
	return 0
}

// WriteFrame records frame, stamped now, and transmits it on the wrapped
// link. It returns the link's error; recording errors go to Err. Safe for
// concurrent use.
func (c *Capture) WriteFrame(frame []byte) error {
	// Record first: once the inner link has the frame, the peer's answer can
	// be read (and recorded) before this call returns, and a trace whose
	// reply precedes its request confuses every dissector. A frame the link
	// then refuses stays in the trace; the error is returned.
	c.record(c.clk.Now(), frame)
	return c.inner.WriteFrame(frame)
}

// ReadFrame reads from the wrapped link and records the frame stamped with
// the time it arrived. Safe for concurrent use.
func (c *Capture) ReadFrame(buf []byte) (int, error) {
	n, err := c.inner.ReadFrame(buf)
	if err != nil {
		return n, err
	}
	c.record(c.clk.Now(), buf[:n])
	return n, nil
}

// ReadFrameContext is ReadFrame honouring ctx when the wrapped link
// implements ContextReader; otherwise it returns an error wrapping
// errors.ErrUnsupported at once.
func (c *Capture) ReadFrameContext(ctx context.Context, buf []byte) (int, error) {
	cr, ok := c.inner.(ContextReader)
	if !ok {
		return 0, fmt.Errorf("driver: capture: %T cannot read with a context: %w", c.inner, errors.ErrUnsupported)
	}
	n, err := cr.ReadFrameContext(ctx, buf)
	if err != nil {
		return n, err
	}
	c.record(c.clk.Now(), buf[:n])
	return n, nil
}

// readsWithContext tells the Driver whether ReadFrameContext works for the
// wrapped link.
func (c *Capture) readsWithContext() bool {
	_, ok := c.inner.(ContextReader)
	return ok && readsWithContext(c.inner)
}

func (c *Capture) record(ts time.Time, frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.pw == nil {
		return
	}
	data := frame
	if len(data) > c.snap {
		data = data[:c.snap]
	}
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(frame)}
	if err := c.pw.WritePacket(ci, data); err != nil {
		c.fail(fmt.Errorf("driver: capture: write record: %w", c.ew.cause(err)))
	}
}

// fail records the first error; c.mu is held.
func (c *Capture) fail(err error) {
	if c.err == nil {
		c.err = err
		c.log.Warn("driver: capture stopped", "err", err)
	}
}

// Flush writes buffered records to the underlying writer. It returns the
// capture's error, if any. Safe for concurrent use.
func (c *Capture) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.bw != nil {
		if err := c.bw.Flush(); err != nil {
			c.fail(fmt.Errorf("driver: capture: flush: %w", c.ew.cause(err)))
		}
	}
	return c.err
}

// Err returns the first recording error (nil while recording works).
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close flushes the records, stops recording and closes the wrapped link.
// It returns the first recording error, else the link's close error. It is
// idempotent.
func (c *Capture) Close() error {
	c.closeOnce.Do(func() {
		ferr := c.Flush()
		c.mu.Lock()
		c.pw = nil
		c.mu.Unlock()
		lerr := c.inner.Close()
		c.closeErr = ferr
		if c.closeErr == nil {
			c.closeErr = lerr
		}
	})
	return c.closeErr
}

// errWriter remembers the first error of the caller's writer, because
// pcapgo flattens errors to strings and errors.Is must still find it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// cause returns the writer's own error when there is one, else err.
func (e *errWriter) cause(err error) error {
	if e.err != nil {
		return e.err
	}
	return err
}
