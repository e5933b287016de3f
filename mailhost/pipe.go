package mailhost

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipeAddr is the net.Addr of the in-memory pipe ends.
type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// pipeBuf is one direction of a pipe: a byte queue with an optional bound,
// close flags and deadlines for its reader and writer.
type pipeBuf struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte // queued bytes are buf[off:]
	off     int
	limit   int // 0 = unbounded
	wclosed bool
	rclosed bool
	rdl     pipeDeadline
	wdl     pipeDeadline
}

type pipeDeadline struct {
	t       *time.Timer
	gen     uint64
	expired bool
}

func newPipeBuf(limit int) *pipeBuf {
	b := &pipeBuf{limit: limit}
	b.cond.L = &b.mu
	return b
}

// set arms d for time t; called with b.mu held.
func (b *pipeBuf) set(d *pipeDeadline, t time.Time) {
	if d.t != nil {
		d.t.Stop()
		d.t = nil
	}
	d.expired = false
	d.gen++
	gen := d.gen
	defer b.cond.Broadcast()
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur <= 0 {
		d.expired = true
	} else {
		d.t = time.AfterFunc(dur, func() {
			b.mu.Lock()
			if d.gen == gen {
				d.expired = true
				b.cond.Broadcast()
			}
			b.mu.Unlock()
		})
	}
	b.cond.Broadcast()
}

func (b *pipeBuf) read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case b.rclosed:
			return 0, net.ErrClosed
		case len(b.buf) > b.off:
			n := copy(p, b.buf[b.off:])
			b.off += n
			if b.off == len(b.buf) {
				b.buf, b.off = b.buf[:0], 0
			}
			b.cond.Broadcast()
			return n, nil
		case b.wclosed:
			return 0, io.EOF
		case b.rdl.expired:
			return 0, os.ErrDeadlineExceeded
		}
		b.cond.Wait()
	}
}

func (b *pipeBuf) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for {
		switch {
		case b.wclosed:
			return n, net.ErrClosed
		case b.rclosed:
			return n, io.ErrClosedPipe
		case b.wdl.expired:
			return n, os.ErrDeadlineExceeded
		case len(p) == 0:
			return n, nil
		}
		room := len(p)
		if b.limit > 0 {
			room = min(room, b.limit-(len(b.buf)-b.off))
		}
		if room > 0 {
			if b.off > 0 && len(b.buf)+room > cap(b.buf) {
				n := copy(b.buf, b.buf[b.off:])
				b.buf, b.off = b.buf[:n], 0
			}
			b.buf = append(b.buf, p[:room]...)
			p = p[room:]
			n += room
			b.cond.Broadcast()
			continue
		}
		b.cond.Wait()
	}
}

// pipeEnd is one end of an in-memory full-duplex pipe. Unlike net.Pipe,
// writes are buffered (up to the direction's limit), so a writer does not
// wait for the reader.
type pipeEnd struct {
	rx, tx *pipeBuf
	local  net.Addr
	remote net.Addr
	once   sync.Once
	owner  *smtpConn // set on go-smtp's end: the interceptor it belongs to
}

// newPipe returns two connected ends; a→b is bounded by abLimit bytes and
// b→a by baLimit (0 = unbounded).
func newPipe(abLimit, baLimit int, aAddr, bAddr net.Addr) (a, b *pipeEnd) {
	ab, ba := newPipeBuf(abLimit), newPipeBuf(baLimit)
	return &pipeEnd{rx: ba, tx: ab, local: aAddr, remote: bAddr},
		&pipeEnd{rx: ab, tx: ba, local: bAddr, remote: aAddr}
}

func (p *pipeEnd) Read(b []byte) (int, error)  { return p.rx.read(b) }
func (p *pipeEnd) Write(b []byte) (int, error) { return p.tx.write(b) }

// Close makes this end's reads fail and its peer read EOF after the data
// already written; it is idempotent.
func (p *pipeEnd) Close() error {
	p.once.Do(func() {
		p.rx.mu.Lock()
		p.rx.rclosed = true
		p.rx.buf, p.rx.off = nil, 0
		p.rx.set(&p.rx.rdl, time.Time{})
		p.rx.cond.Broadcast()
		p.rx.mu.Unlock()
		p.tx.mu.Lock()
		p.tx.wclosed = true
		p.tx.set(&p.tx.wdl, time.Time{})
		p.tx.cond.Broadcast()
		p.tx.mu.Unlock()
	})
	return nil
}

func (p *pipeEnd) LocalAddr() net.Addr  { return p.local }
func (p *pipeEnd) RemoteAddr() net.Addr { return p.remote }

func (p *pipeEnd) SetDeadline(t time.Time) error {
	p.SetReadDeadline(t)
	return p.SetWriteDeadline(t)
}

func (p *pipeEnd) SetReadDeadline(t time.Time) error {
	p.rx.mu.Lock()
	p.rx.set(&p.rx.rdl, t)
	p.rx.mu.Unlock()
	return nil
}

func (p *pipeEnd) SetWriteDeadline(t time.Time) error {
	p.tx.mu.Lock()
	p.tx.set(&p.tx.wdl, t)
	p.tx.mu.Unlock()
	return nil
}

var _ net.Conn = (*pipeEnd)(nil)
