package driver

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
)

// Ethernet framing constants. Frames carried by a Link have no preamble and
// no FCS: destination MAC, source MAC, EtherType, payload.
const (
	// EthernetHeaderLen is the 14-byte Ethernet II header (dst, src, type).
	EthernetHeaderLen = 14
	// DefaultMTU is the IP MTU of Ethernet; the largest frame is
	// DefaultMTU+EthernetHeaderLen = 1514 bytes.
	DefaultMTU = 1500
	// MinMTU and MaxMTU bound the MTU options of this package.
	MinMTU = 68
	MaxMTU = 65535 - EthernetHeaderLen
)

// Link is a network device carrying Ethernet frames (dst MAC, src MAC,
// EtherType, payload; no FCS). *Port, *TAP and *Capture implement it.
//
// Implementations are safe for concurrent use: one goroutine may read while
// others write.
type Link interface {
	// MAC returns the device's own hardware address.
	MAC() net.HardwareAddr
	// MTU returns the IP MTU (1500 for Ethernet); the largest frame is
	// MTU()+EthernetHeaderLen.
	MTU() int
	// WriteFrame transmits one frame. It may block for back-pressure and
	// does not retain frame after it returns.
	WriteFrame(frame []byte) error
	// ReadFrame blocks for the next frame and copies it into buf, which
	// should hold MTU()+EthernetHeaderLen bytes. After Close it returns an
	// error wrapping ErrClosed.
	ReadFrame(buf []byte) (int, error)
	// LinkUp reports whether the link has carrier (cable plugged in).
	LinkUp() bool
	// Close releases the device and unblocks pending ReadFrame and
	// WriteFrame calls. It is idempotent.
	Close() error
}

// ContextReader is implemented by links whose reads can be abandoned when a
// context is done, without losing a frame. The Driver uses it when present
// so Receive(ctx) needs no helper goroutine. An implementation that cannot
// honour the context for a particular inner link (a Capture around a TAP)
// returns an error wrapping errors.ErrUnsupported at once, consuming nothing.
type ContextReader interface {
	ReadFrameContext(ctx context.Context, buf []byte) (int, error)
}

// readsWithContext reports whether l's ReadFrameContext honours contexts
// (decorators in this package may wrap a link that cannot).
func readsWithContext(l Link) bool {
	if d, ok := l.(interface{ readsWithContext() bool }); ok {
		return d.readsWithContext()
	}
	_, ok := l.(ContextReader)
	return ok
}

// ErrClosed is returned (wrapped) by every Link operation after Close. It
// wraps net.ErrClosed, so errors.Is(err, net.ErrClosed) holds too.
var ErrClosed = fmt.Errorf("driver: link closed: %w", net.ErrClosed)

// Interface assertions.
var (
	_ Link          = (*Port)(nil)
	_ Link          = (*Capture)(nil)
	_ ContextReader = (*Port)(nil)
	_ ContextReader = (*Capture)(nil)
)

// Broadcast is the Ethernet broadcast address ff:ff:ff:ff:ff:ff.
var Broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// checkMTU validates an MTU option; 0 means DefaultMTU.
func checkMTU(mtu int) (int, error) {
	if mtu == 0 {
		return DefaultMTU, nil
	}
	if mtu < MinMTU || mtu > MaxMTU {
		return 0, fmt.Errorf("mtu %d outside [%d, %d]", mtu, MinMTU, MaxMTU)
	}
	return mtu, nil
}

// checkMAC validates a unicast MAC option; nil means "generate one".
func checkMAC(mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("mac %v: want 6 bytes, got %d", mac, len(mac))
	}
	if mac[0]&1 != 0 {
		return fmt.Errorf("mac %v is a group (multicast) address", mac)
	}
	if isZeroMAC(mac) {
		return errors.New("mac 00:00:00:00:00:00 is not a station address")
	}
	return nil
}

func isZeroMAC(mac []byte) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}

// localMAC turns 5 bytes into a locally administered unicast MAC 02:xx:...
func localMAC(b []byte) net.HardwareAddr {
	return net.HardwareAddr{0x02, b[0], b[1], b[2], b[3], b[4]}
}

// nameMAC derives a stable locally administered MAC from a name, so a board
// keeps its address across runs (and pcap traces stay comparable).
func nameMAC(name string) net.HardwareAddr {
	h := fnv.New64a()
	h.Write([]byte("simboard:" + name))
	s := h.Sum(nil)
	return localMAC(s[:5])
}

func cloneMAC(mac net.HardwareAddr) net.HardwareAddr {
	return append(net.HardwareAddr(nil), mac...)
}
