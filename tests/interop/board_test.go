package interop

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/packetpool"
)

// Board is a simboard board attached to the environment's tap0: pools, a driver on
// the TAP and an IP instance (gVisor) at 198.51.100.2 (and 2001:db8::2 with IPv6).
type Board struct {
	IP     *netstack.IP
	Pool   *packetpool.Pool // the IP's default pool
	RxPool *packetpool.Pool // the driver's receive pool
	Driver *driver.Driver
	TAP    *driver.TAP
	Addr   netip.Addr
	Addr6  netip.Addr // valid when opts.IPv6
	// Pcap is the board's own Ethernet trace (driver.Capture around the TAP);
	// FlushPcap makes what was captured so far readable.
	Pcap    string
	capture *driver.Capture
}

// FlushPcap writes the capture's buffered records to Pcap.
func (b *Board) FlushPcap(t testing.TB) string {
	t.Helper()
	if err := b.capture.Flush(); err != nil {
		t.Fatalf("Capture.Flush() = %v", err)
	}
	return b.Pcap
}

// OpenTAP leases tap0 for the test and opens it inside the namespace with
// driver.OpenTAP (which keeps the existing device and waits for the kernel to run
// it). The TAP is closed at the end of the test.
func (e *Env) OpenTAP(t testing.TB, opts driver.TAPOptions) *driver.TAP {
	t.Helper()
	opts.Name = e.LeaseTAP(t)
	var tap *driver.TAP
	if err := e.NS.Do(func() error {
		var err error
		tap, err = driver.OpenTAP(opts)
		return err
	}); err != nil {
		t.Fatalf("driver.OpenTAP(%s) inside %s = %v", opts.Name, e.NS.Name(), err)
	}
	t.Cleanup(func() { tap.Close() })
	return tap
}

// NewBoard builds a board on tap0 (leased for the test) with the pools and TCP
// settings of opts (boardtest.Options; Port is ignored). At the end of the test it
// closes the IP and the driver, then fails the test unless every pool is balanced and
// no goroutine was leaked, as boardtest does for boards on a Wire.
func (e *Env) NewBoard(t testing.TB, opts boardtest.Options) *Board {
	t.Helper()
	boardtest.CheckGoroutines(t) // first: its cleanup runs after the board is gone
	tap := e.OpenTAP(t, driver.TAPOptions{})
	pcapPath := filepath.Join(t.TempDir(), "board.pcap")
	pf, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pf.Close() })
	bo := board.Options{
		Name:   "board",
		Pool:   board.PoolOptions{PayloadSize: opts.PayloadSize, Count: opts.Count},
		RxPool: board.PoolOptions{PayloadSize: opts.RxPayloadSize, Count: opts.RxCount},
		Link:   tap, Capture: pf, Addr: e.BoardPrefix, TCP: opts.TCP, Debug: opts.Debug,
	}
	if opts.IPv6 {
		bo.Addr6 = e.BoardPrefix6
	}
	brd, err := board.New(bo)
	if err != nil {
		t.Fatalf("board.New = %v", err)
	}
	b := &Board{IP: brd.IP, Pool: brd.Pool, RxPool: brd.RxPool, Driver: brd.Driver, TAP: tap,
		Addr: e.BoardPrefix.Addr(), Addr6: bo.Addr6.Addr(), Pcap: pcapPath, capture: brd.Capture}
	t.Cleanup(func() {
		// Close joins the IP and the driver and reports any pool not balanced.
		if err := brd.Close(); err != nil {
			t.Errorf("board.Close() = %v", err)
		}
	})
	return b
}

// TestBoardTCPReachesServers is the board's first step: gVisor on tap0 opens TCP
// connections to Dovecot and Postfix over IPv4 and IPv6 and reads their greetings.
func TestBoardTCPReachesServers(t *testing.T) {
	env := startEnv(t)
	b := env.NewBoard(t, boardtest.Options{IPv6: true})
	for _, addr := range []netip.AddrPort{env.POP3, env.SMTP, env.Submission, env.POP36, env.Submission6} {
		t.Run(addr.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
			defer cancel()
			c, err := b.IP.DialTCP(ctx, addr)
			if err != nil {
				t.Fatalf("DialTCP(%s) = %v", addr, err)
			}
			defer c.Close()
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("Read(greeting) = %v", err)
			}
			want := "220 "
			if addr.Port() == 110 {
				want = "+OK "
			}
			if got := string(buf[:n]); len(got) < 4 || got[:4] != want {
				t.Errorf("greeting from %s = %q, want prefix %q", addr, got, want)
			}
		})
	}
}
