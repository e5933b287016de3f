// Package boardtest builds simboard boards for tests: packet pools, a driver
// on a Wire port, and an IP instance, with cleanups that fail the test when a
// pool is not balanced or goroutines leak. Every stack test in the project
// uses it, so "every pool balanced, no goroutine leaked" is checked in one
// place.
package boardtest

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/boardtest/leak"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/packetpool"
)

// Options describe one board. Zero values are noted per field.
type Options struct {
	// PayloadSize and Count size the default pool (0 => 1536 x 256).
	PayloadSize, Count int
	// RxPayloadSize and RxCount size the driver's receive pool (0 => 1536 x 256).
	RxPayloadSize, RxCount int
	// Port holds this board's port impairments on the Wire.
	Port driver.PortOptions
	// IPv6 also gives the board 2001:db8::<host>/64.
	IPv6 bool
	// Debug records allocation sites so a leak names its origin.
	Debug bool
	// TCP overrides the IP's TCP options.
	TCP netstack.TCPOptions
	// Capture, when set, receives every frame the board sends or receives
	// as pcap (a driver.Capture between the driver and its Wire port). It is
	// flushed by Board.Close; read it after that.
	Capture io.Writer
}

// Board is one simulated board.
type Board struct {
	IP     *netstack.IP
	Pool   *packetpool.Pool
	RxPool *packetpool.Pool
	Driver *driver.Driver
	Port   *driver.Port
	Addr   netip.Addr // 198.51.100.<host>
	Addr6  netip.Addr // 2001:db8::<host> when IPv6
	// Capture is the pcap recorder when Options.Capture was set.
	Capture *driver.Capture

	closeOnce sync.Once
	close     func()
}

// Close closes the board's IP instance and driver (nx_ip_delete, then the
// driver) and flushes the capture, if any. It is idempotent and also runs
// at cleanup; a test calls it early to read the capture or to check what
// closing the IP puts on the wire.
func (b *Board) Close() {
	b.closeOnce.Do(b.close)
}

// NewWire returns a Wire closed at the end of the test.
func NewWire(t testing.TB, seed int64) *driver.Wire {
	t.Helper()
	w, err := driver.NewWire(driver.WireOptions{Seed: seed})
	if err != nil {
		t.Fatalf("driver.NewWire: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// NewBoard attaches a board named name with address 198.51.100.<host> to w.
// At cleanup it closes the IP and driver, then fails the test unless every
// pool is balanced (free == total, no invalid releases).
func NewBoard(t testing.TB, w *driver.Wire, name string, host byte, opts Options) *Board {
	t.Helper()
	pay, cnt := defaults(opts.PayloadSize, opts.Count)
	rpay, rcnt := defaults(opts.RxPayloadSize, opts.RxCount)
	pool, err := packetpool.New(packetpool.Options{Name: name + "-pool", PayloadSize: pay, Count: cnt, Debug: opts.Debug})
	if err != nil {
		t.Fatalf("packetpool.New: %v", err)
	}
	rx, err := packetpool.New(packetpool.Options{Name: name + "-rx", PayloadSize: rpay, Count: rcnt, Debug: opts.Debug})
	if err != nil {
		t.Fatalf("packetpool.New: %v", err)
	}
	port, err := w.Attach(opts.Port)
	if err != nil {
		t.Fatalf("Wire.Attach: %v", err)
	}
	var link driver.Link = port
	var capt *driver.Capture
	if opts.Capture != nil {
		if capt, err = driver.NewCapture(port, opts.Capture, driver.CaptureOptions{}); err != nil {
			t.Fatalf("driver.NewCapture: %v", err)
		}
		link = capt
	}
	drv, err := driver.New(driver.Options{Name: name, Link: link, RxPool: rx})
	if err != nil {
		t.Fatalf("driver.New: %v", err)
	}
	b := &Board{Pool: pool, RxPool: rx, Driver: drv, Port: port, Capture: capt, Addr: netip.AddrFrom4([4]byte{198, 51, 100, host})}
	ipOpts := netstack.Options{Name: name, Pool: pool, Driver: drv, Addr: netip.PrefixFrom(b.Addr, 24), TCP: opts.TCP}
	if opts.IPv6 {
		b.Addr6 = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", host))
		ipOpts.Addr6 = netip.PrefixFrom(b.Addr6, 64)
	}
	ip, err := netstack.New(ipOpts)
	if err != nil {
		t.Fatalf("netstack.New: %v", err)
	}
	b.IP = ip
	b.close = func() {
		_ = ip.Close()
		_ = drv.Close()
		if capt != nil {
			if err := capt.Flush(); err != nil {
				t.Errorf("board %s: capture: %v", name, err)
			}
		}
	}
	t.Cleanup(func() {
		b.Close()
		CheckBalanced(t, pool, rx)
	})
	return b
}

// Pair returns two boards on a fresh Wire: the client at .2 and the server at .1.
func Pair(t testing.TB, opts Options) (client, server *Board) {
	t.Helper()
	w := NewWire(t, 1)
	server = NewBoard(t, w, "server", 1, opts)
	client = NewBoard(t, w, "client", 2, opts)
	return client, server
}

func defaults(pay, cnt int) (int, int) {
	if pay <= 0 {
		pay = 1536
	}
	if cnt <= 0 {
		cnt = 256
	}
	return pay, cnt
}

// CheckBalanced fails t unless every pool has all its packets free and no
// invalid release was counted. Packets still held by stack goroutines that
// are shutting down get a moment to come back first.
func CheckBalanced(t testing.TB, pools ...*packetpool.Pool) {
	t.Helper()
	for _, p := range pools {
		in := p.Info()
		for i := 0; i < 200 && in.Free != in.Total; i++ {
			time.Sleep(5 * time.Millisecond)
			in = p.Info()
		}
		if in.Free != in.Total || in.InvalidReleases != 0 {
			var leaks []string
			for _, l := range p.Leaks() {
				leaks = append(leaks, fmt.Sprint(l))
			}
			t.Errorf("pool %q: free %d of %d, invalid releases %d; outstanding: %s",
				p.Name(), in.Free, in.Total, in.InvalidReleases, strings.Join(leaks, "; "))
		}
	}
}

// CheckGoroutines snapshots the goroutine count; at cleanup it fails the test
// if more goroutines are running than at the start (after letting exiting
// goroutines finish), and prints their stacks. Call it first in a test so
// its cleanup runs last; boards close in their own cleanups, so a test that
// fails midway is still checked after everything it started is closed.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	leak.Check(t)
}

// RequireNetNSEnv is the environment variable that turns a missing network
// namespace or tool into a failure instead of a skip ("1"), as CI sets it.
const RequireNetNSEnv = "SIMBOARD_REQUIRE_NETNS"

// MissingTools returns the commands among names that are neither in PATH nor
// in the sbin directories a non-root PATH lacks.
func MissingTools(names ...string) []string {
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err == nil {
			continue
		}
		found := false
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
			if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, n)
		}
	}
	return missing
}

// RequireTools skips the test, naming the missing commands and how to
// install them, unless every command in names is installed. With
// SIMBOARD_REQUIRE_NETNS=1 (CI) a missing tool fails the test instead: there
// it means a broken machine, not a reason to skip. TAP tests call it next to
// netns.ForTest, so `go test ./...` on a machine without the test packages
// passes with skips that say why.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	missing := MissingTools(names...)
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("boardtest: skipping, missing %s in PATH; install with: sudo scripts/test-deps.sh", strings.Join(missing, ", "))
	if os.Getenv(RequireNetNSEnv) == "1" {
		t.Fatalf("%s (and %s=1, so this is a failure, not a skip)", msg, RequireNetNSEnv)
	}
	t.Skip(msg)
}
