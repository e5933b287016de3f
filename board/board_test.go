package board_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/boardtest/leak"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

func newWire(t *testing.T) *driver.Wire {
	t.Helper()
	w, err := driver.NewWire(driver.WireOptions{Seed: 1})
	if err != nil {
		t.Fatalf("driver.NewWire: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// TestCloseNamesUnbalancedPool: a packet the application still holds at
// Close is an error naming the pool (and, with Debug, where it came from);
// released, the same board closes cleanly.
func TestCloseNamesUnbalancedPool(t *testing.T) {
	leak.Check(t)
	w := newWire(t)
	b, err := board.New(board.Options{Name: "leaky", Wire: w, Addr: netip.MustParsePrefix("198.51.100.2/24"), Debug: true,
		Pool: board.PoolOptions{Count: 4}})
	if err != nil {
		t.Fatalf("board.New = %v", err)
	}
	pkt, err := b.Pool.Allocate(context.Background(), packetpool.TCPPacket, nx.NoWait)
	if err != nil {
		t.Fatalf("Allocate = %v", err)
	}
	err = b.Close()
	if err == nil || !strings.Contains(err.Error(), `pool "leaky-pool" not balanced: 3 of 4 free`) || !strings.Contains(err.Error(), "board_test.go") {
		t.Fatalf("Close() = %v, want the unbalanced leaky-pool with its allocation site", err)
	}
	if strings.Contains(err.Error(), "leaky-rx") {
		t.Errorf("Close() = %v, names the balanced rx pool", err)
	}
	if again := b.Close(); again == nil || again.Error() != err.Error() {
		t.Errorf("second Close() = %v, want the first error again", again)
	}
	_ = pkt.Release()
	if err := board.Balanced(b.Pool, 0); err != nil {
		t.Errorf("Balanced after release = %v", err)
	}
}

// TestPoolsByCountAndMemory: pools sized by count, by NetX memory size, and
// the defaults.
func TestPoolsByCountAndMemory(t *testing.T) {
	leak.Check(t)
	w := newWire(t)
	b, err := board.New(board.Options{Wire: w,
		Pool:   board.PoolOptions{PayloadSize: 1536, MemorySize: 15360},
		RxPool: board.PoolOptions{PayloadSize: 256, Count: 10}})
	if err != nil {
		t.Fatalf("board.New = %v", err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}()
	if got := b.Pool.Info().Total; got != 9 || !b.Pool.Carve().FromMemory {
		t.Errorf("pool from 15360 bytes: %d packets (carve %+v), want 9 carved from memory", got, b.Pool.Carve())
	}
	if got := b.RxPool.Info().Total; got != 10 || b.RxPool.PayloadSize() != 256 {
		t.Errorf("rx pool: %d x %d, want 10 x 256", got, b.RxPool.PayloadSize())
	}
	if b.Name != "board" || b.Pool.Name() != "board-pool" || b.RxPool.Name() != "board-rx" || b.Port == nil || b.Port.Name() != "board" {
		t.Errorf("names: board %q pool %q rx %q port %v", b.Name, b.Pool.Name(), b.RxPool.Name(), b.Port)
	}

	n, err := board.New(board.Options{Name: "n", Wire: w, Pool: board.PoolOptions{Name: "n pool", Count: 2}})
	if err != nil {
		t.Fatalf("board.New(named pool) = %v", err)
	}
	if n.Pool.Name() != "n pool" || n.RxPool.Name() != "n-rx" {
		t.Errorf("named pool: %q and %q, want \"n pool\" and \"n-rx\"", n.Pool.Name(), n.RxPool.Name())
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}

	d, err := board.New(board.Options{Name: "d", Wire: w})
	if err != nil {
		t.Fatalf("board.New(defaults) = %v", err)
	}
	if in := d.Pool.Info(); in.Total != board.DefaultCount || d.Pool.PayloadSize() != board.DefaultPayloadSize {
		t.Errorf("default pool %d x %d", in.Total, d.Pool.PayloadSize())
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

// closeCounter is a Link that counts Close calls.
type closeCounter struct {
	driver.Link
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return c.Link.Close() }

// TestBadOptions: no link, two links, Port without Wire, a bad pool and a
// bad address are errors with the NetX status, and a caller's Link is
// closed whenever New fails.
func TestBadOptions(t *testing.T) {
	leak.Check(t)
	w := newWire(t)
	for _, tc := range []struct {
		name string
		opts board.Options
		link bool
		want error
	}{
		{"no link", board.Options{}, false, nx.ErrPtr},
		{"two links", board.Options{Wire: w}, true, nx.ErrPtr},
		{"port without wire", board.Options{Port: driver.PortOptions{MTU: 1400}}, true, nx.ErrPtr},
		{"count and memory", board.Options{Pool: board.PoolOptions{Count: 3, MemorySize: 9000}}, true, nx.ErrSize},
		{"memory too small", board.Options{RxPool: board.PoolOptions{MemorySize: 100}}, true, nx.ErrSize},
		{"v6 as v4", board.Options{Addr: netip.MustParsePrefix("2001:db8::2/64")}, true, nx.ErrIPAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			var cc *closeCounter
			if tc.link {
				p, err := w.Attach(driver.PortOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cc = &closeCounter{Link: p}
				opts.Link = cc
			}
			b, err := board.New(opts)
			if !errors.Is(err, tc.want) || b != nil {
				t.Fatalf("board.New(%s) = %v, %v; want %v", tc.name, b, err, tc.want)
			}
			if cc != nil && cc.closed != 1 {
				t.Errorf("caller's link closed %d times, want 1", cc.closed)
			}
		})
	}
}

// TestCaptureAndIPv6: a board with a capture and both address families;
// the capture holds pcap records after Close, and a v6 ping works.
func TestCaptureAndIPv6(t *testing.T) {
	leak.Check(t)
	w := newWire(t)
	var pcap bytes.Buffer
	a, err := board.New(board.Options{Name: "a", Wire: w, Capture: &pcap,
		Addr: netip.MustParsePrefix("198.51.100.2/24"), Addr6: netip.MustParsePrefix("2001:db8::2/64")})
	if err != nil {
		t.Fatalf("board.New(a) = %v", err)
	}
	s, err := board.New(board.Options{Name: "s", Wire: w,
		Addr: netip.MustParsePrefix("198.51.100.1/24"), Addr6: netip.MustParsePrefix("2001:db8::1/64")})
	if err != nil {
		t.Fatalf("board.New(s) = %v", err)
	}
	ln, err := s.IP.ListenTCP(9)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.Close()
		}
	}()
	c, err := a.IP.DialTCP(context.Background(), netip.MustParseAddrPort("[2001:db8::1]:9"))
	if err != nil {
		t.Fatalf("DialTCP over IPv6 = %v", err)
	}
	_ = c.Close()
	_ = ln.Close()
	if err := a.Close(); err != nil {
		t.Errorf("a.Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("s.Close() = %v", err)
	}
	// pcap global header (24 bytes, magic a1b2c3d4 little-endian) then records.
	if pcap.Len() <= 24+16 || !bytes.Equal(pcap.Bytes()[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Errorf("capture: %d bytes, starts %x; want a pcap with records", pcap.Len(), pcap.Bytes()[:min(4, pcap.Len())])
	}
}
