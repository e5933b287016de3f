// Package boardtest builds simboard boards for tests: packet pools, a driver
// on a Wire port, and an IP instance, with cleanups that fail the test when a
// pool is not balanced or goroutines leak. Every stack test in the project
// uses it, so "every pool balanced, no goroutine leaked" is checked in one
// place.
//
// Virtual time: a test whose Lab has LabOptions.Virtual set runs, from
// NewLab on, inside a simulation (package sim, sim.Test): its own
// goroutine, the boards, the Wire, the mail host and the cleanups that
// close and check them run on a simulated clock that moves only when all
// of them wait, so a 30 s server silence or an hour of reports costs no
// wall time and a seed repeats a run. Wait on Lab.Clock (or with Sleep,
// After, WithTimeout), never on real time, and pass Lab.Context to
// blocking calls:
//
//	func TestReports(t *testing.T) {
//		lab := boardtest.NewLab(t, boardtest.LabOptions{Virtual: true})
//		mail := lab.MailHost(mailhost.Options{...}, boardtest.Options{})
//		dev := lab.Board("sensor", boardtest.Options{})
//		ctx, clk := lab.Context(), lab.Sim().Clock()
//		... send, then clk.Sleep(ctx, time.Minute) ...
//	}
//
// With SIMBOARD_TEST_CLOCK=virtual (ClockEnv) every test that builds its
// Wire, boards or Lab here without an explicit Clock runs that way, from
// its first board on; scripts/test.sh runs the stack tests once in each
// mode. examples/usertest holds a user's test in both modes.
package boardtest

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/boardtest/leak"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
	"github.com/simboard/simboard/sim"
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
	// Clock is the board's clock (pools, driver, capture, IP and through it
	// gVisor's timers). nil means the clock of the simulation the caller
	// runs in (sim.Current), else, with ClockEnv=virtual, that of a new
	// simulation started for the test (sim.Test), else nx.SystemClock.
	// With a sim.Clock, build and Close the board inside the simulation.
	Clock nx.Clock
	// Rand is the IP's source of random choices (netstack.Options.Rand:
	// TCP initial sequence numbers, NX_ANY_PORT); nil means the
	// simulation's stream named after the board (Sim.Rand) when the board
	// runs in one, else crypto/rand.
	Rand io.Reader
}

// Board is one simulated board: a board.Board with its addresses.
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
	// Board is the public board behind the fields above.
	Board *board.Board
}

// Close closes the board's IP instance and driver (nx_ip_delete, then the
// driver) and flushes the capture, if any. It is idempotent and also runs
// at cleanup; a test calls it early to read the capture or to check what
// closing the IP puts on the wire. The pools are checked at cleanup, so a
// test may still release packets after Close.
func (b *Board) Close() {
	_ = b.Board.Close()
}

// NewWire returns a Wire closed at the end of the test.
func NewWire(t testing.TB, seed int64) *driver.Wire {
	t.Helper()
	return NewWireOptions(t, driver.WireOptions{Seed: seed})
}

// NewWireOptions returns a Wire built from opts (e.g. with a sim.Clock),
// closed at the end of the test. A nil opts.Clock means the clock of the
// simulation the caller runs in, else (ClockEnv=virtual) of a new one
// seeded with opts.Seed that the rest of the test runs in (sim.Test), else
// the system clock.
func NewWireOptions(t testing.TB, opts driver.WireOptions) *driver.Wire {
	t.Helper()
	if opts.Clock == nil {
		if s := simFor(t, opts.Seed, VirtualMode(), 0); s != nil {
			opts.Clock = s.Clock()
		}
	}
	w, err := driver.NewWire(opts)
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
	return newBoard(t, w, name, host, opts, t.Cleanup)
}

// newBoard is NewBoard with the cleanup registered through atEnd.
func newBoard(t testing.TB, w *driver.Wire, name string, host byte, opts Options, atEnd func(func())) *Board {
	t.Helper()
	if opts.Clock == nil {
		if s := simFor(t, 1, VirtualMode(), 0); s != nil {
			opts.Clock = s.Clock()
			if opts.Rand == nil {
				opts.Rand = s.Rand("board/" + name)
			}
		}
	}
	bo := board.Options{
		Name:    name,
		Pool:    board.PoolOptions{PayloadSize: opts.PayloadSize, Count: opts.Count},
		RxPool:  board.PoolOptions{PayloadSize: opts.RxPayloadSize, Count: opts.RxCount},
		Wire:    w,
		Port:    opts.Port,
		Capture: opts.Capture,
		Addr:    netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, host}), 24),
		TCP:     opts.TCP,
		Debug:   opts.Debug,
		Clock:   opts.Clock,
		Rand:    opts.Rand,
	}
	if opts.IPv6 {
		bo.Addr6 = netip.PrefixFrom(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", host)), 64)
	}
	brd, err := board.New(bo)
	if err != nil {
		t.Fatalf("board.New: %v", err)
	}
	b := &Board{IP: brd.IP, Pool: brd.Pool, RxPool: brd.RxPool, Driver: brd.Driver, Port: brd.Port,
		Capture: brd.Capture, Addr: bo.Addr.Addr(), Addr6: bo.Addr6.Addr(), Board: brd}
	atEnd(func() {
		b.Close()
		if b.Capture != nil {
			if err := b.Capture.Err(); err != nil {
				t.Errorf("board %s: capture: %v", name, err)
			}
		}
		CheckBalanced(t, brd.Pool, brd.RxPool)
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

// CheckBalanced fails t unless every pool has all its packets free and no
// invalid release was counted. Packets still held by stack goroutines that
// are shutting down get a second to come back first (of simulated time
// when the caller runs in a simulation).
func CheckBalanced(t testing.TB, pools ...*packetpool.Pool) {
	t.Helper()
	for _, p := range pools {
		if err := balanced(p, time.Second); err != nil {
			t.Error(err)
		}
	}
}

// CheckGoroutines snapshots the goroutine count; at cleanup it fails the test
// if more goroutines are running than at the start (after letting exiting
// goroutines finish), and prints their stacks. Call it first in a test so
// its cleanup runs last; boards close in their own cleanups, so a test that
// fails midway is still checked after everything it started is closed.
//
// When the check runs inside a simulation (it was registered after the
// simulation started), it waits on the simulation's clock.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	leak.CheckWith(t, func(d time.Duration) {
		if s := sim.Current(); s != nil {
			_ = s.Clock().Sleep(context.Background(), d)
			return
		}
		time.Sleep(d)
	})
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
