package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
)

// testType is the EtherType of test frames (IEEE local experimental).
const testType = 0x88b5

// mkFrame builds a test frame dst <- src carrying seq, padded to size bytes.
func mkFrame(dst, src net.HardwareAddr, seq uint32, size int) []byte {
	if size < 18 {
		size = 18
	}
	f := make([]byte, size)
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], testType)
	binary.BigEndian.PutUint32(f[14:18], seq)
	for i := 18; i < size; i++ {
		f[i] = byte(seq) + byte(i)
	}
	return f
}

func frameSeq(f []byte) uint32 { return binary.BigEndian.Uint32(f[14:18]) }

// tryRead returns the next queued frame of p without blocking.
func tryRead(t testing.TB, p *Port) ([]byte, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf := make([]byte, p.MaxFrame())
	n, err := p.ReadFrameContext(ctx, buf)
	if errors.Is(err, context.Canceled) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("%s.ReadFrameContext() = %v", p.Name(), err)
	}
	return buf[:n], true
}

// drain reads every queued frame of p without blocking.
func drain(t testing.TB, p *Port) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		f, ok := tryRead(t, p)
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

func newWire(t testing.TB, opts WireOptions) *Wire {
	t.Helper()
	w, err := NewWire(opts)
	if err != nil {
		t.Fatalf("NewWire(%+v) = %v", opts, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func attach(t testing.TB, w *Wire, opts PortOptions) *Port {
	t.Helper()
	p, err := w.Attach(opts)
	if err != nil {
		t.Fatalf("Attach(%+v) = %v", opts, err)
	}
	return p
}

func mustWrite(t testing.TB, p *Port, f []byte) {
	t.Helper()
	if err := p.WriteFrame(f); err != nil {
		t.Fatalf("%s.WriteFrame(%d bytes) = %v", p.Name(), len(f), err)
	}
}

// fakeClock is a settable nx.Clock for timestamps (no timers).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) NewTimer(time.Duration) nx.Timer { panic("fakeClock: timers not supported") }

// nullLink discards writes and never has anything to read until closed.
type nullLink struct {
	mac    net.HardwareAddr
	once   sync.Once
	closed chan struct{}
}

func newNullLink() *nullLink {
	return &nullLink{mac: net.HardwareAddr{2, 0, 0, 0, 0, 1}, closed: make(chan struct{})}
}

func (l *nullLink) MAC() net.HardwareAddr { return l.mac }
func (l *nullLink) MTU() int              { return DefaultMTU }
func (l *nullLink) LinkUp() bool          { return true }
func (l *nullLink) WriteFrame(f []byte) error {
	select {
	case <-l.closed:
		return ErrClosed
	default:
		return nil
	}
}
func (l *nullLink) ReadFrame(buf []byte) (int, error) {
	<-l.closed
	return 0, ErrClosed
}
func (l *nullLink) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

// plainLink hides a Port's ReadFrameContext, like a TAP, so the Driver
// falls back to its pump goroutine.
type plainLink struct{ p *Port }

func (l plainLink) MAC() net.HardwareAddr             { return l.p.MAC() }
func (l plainLink) MTU() int                          { return l.p.MTU() }
func (l plainLink) LinkUp() bool                      { return l.p.LinkUp() }
func (l plainLink) WriteFrame(f []byte) error         { return l.p.WriteFrame(f) }
func (l plainLink) ReadFrame(buf []byte) (int, error) { return l.p.ReadFrame(buf) }
func (l plainLink) Close() error                      { return l.p.Close() }
