package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simboard/simboard/nx"
)

// UplinkOptions configures NewUplink. The zero value is valid.
type UplinkOptions struct {
	// Port configures the Wire port the uplink occupies. Its MAC is never
	// used as a source: the uplink forwards frames with the addresses they
	// carry. "" Name means "uplink".
	Port PortOptions
	// Logger receives start and stop events at Info. nil discards.
	Logger *slog.Logger
}

// UplinkStats counts the frames an Uplink moved, and the frames it could
// not hand on (a write error on either side, e.g. an oversize frame).
type UplinkStats struct {
	ToLink, FromLink uint64 // frames Wire -> link and link -> Wire
	Errors           uint64 // frames dropped on a write error
}

// Uplink bridges a Wire to another Link, normally a TAP: every frame the
// Wire floods or switches to the uplink's port goes out on the link, and
// every frame the link receives enters the Wire through that port, where
// the Wire learns the sender's MAC as it learns a board's. So each board on
// the Wire is a distinct station (its own MAC and IP) on the link's far
// side: one process puts a fleet of boards in front of a kernel's network,
// and several processes, each with its own uplink TAP, meet on a Linux
// bridge (one host) or VXLAN (several hosts).
//
// The uplink is a learning bridge's port: it does not rewrite, filter or
// answer anything. With WireOptions.DirectARP the kernel's ARP requests for
// a board go to that board alone once the board has spoken.
//
// Two goroutines pump the frames; Close stops and joins them. Safe for
// concurrent use.
type Uplink struct {
	port *Port
	link Link
	log  *slog.Logger

	toLink, fromLink, errs atomic.Uint64

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// NewUplink attaches a port to w and bridges it to link until Close. The
// uplink owns link: Close closes it (also when NewUplink fails). It does not
// block. Errors are those of Wire.Attach (nx.ErrInvalidParameters,
// nx.ErrDuplicatedEntry, ErrClosed), or nx.ErrPtr-wrapped for a nil Wire or
// link.
func NewUplink(w *Wire, link Link, opts UplinkOptions) (*Uplink, error) {
	if w == nil || link == nil {
		if link != nil {
			_ = link.Close()
		}
		return nil, fmt.Errorf("driver: uplink: nil wire or link: %w", nx.ErrPtr)
	}
	po := opts.Port
	if po.Name == "" {
		po.Name = "uplink"
	}
	if po.MTU == 0 {
		po.MTU = link.MTU()
	}
	port, err := w.Attach(po)
	if err != nil {
		_ = link.Close()
		return nil, fmt.Errorf("driver: uplink: %w", err)
	}
	u := &Uplink{port: port, link: link, log: opts.Logger}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	u.wg.Add(2)
	go u.pump(port, link, &u.toLink)
	go u.pump(link, port, &u.fromLink)
	u.log.Info("driver: uplink started", "port", port.Name(), "mtu", po.MTU)
	return u, nil
}

// pump copies frames from src to dst until src is closed.
func (u *Uplink) pump(src, dst Link, n *atomic.Uint64) {
	defer u.wg.Done()
	buf := make([]byte, max(src.MTU(), dst.MTU())+EthernetHeaderLen)
	for {
		k, err := src.ReadFrame(buf)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			// A frame that did not fit, or a transient read error:
			// count it and go on (after a breath, so a link that keeps
			// failing does not spin); a closed link ends the loop above.
			u.errs.Add(1)
			time.Sleep(time.Millisecond)
			continue
		}
		if err := dst.WriteFrame(buf[:k]); err != nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			u.errs.Add(1)
			continue
		}
		n.Add(1)
	}
}

// Port returns the uplink's port on the Wire.
func (u *Uplink) Port() *Port { return u.port }

// Stats returns the frame counters.
func (u *Uplink) Stats() UplinkStats {
	return UplinkStats{ToLink: u.toLink.Load(), FromLink: u.fromLink.Load(), Errors: u.errs.Load()}
}

// Close detaches the port, closes the link and joins both pumps. It is
// idempotent and returns the link's close error.
func (u *Uplink) Close() error {
	u.closeOnce.Do(func() {
		_ = u.port.Close()
		u.closeErr = u.link.Close()
		u.wg.Wait()
		u.log.Info("driver: uplink stopped", "port", u.port.Name())
	})
	return u.closeErr
}
