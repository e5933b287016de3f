package netstack

import (
	"encoding/binary"
	"io"
	mathrand "math/rand"
	"math/rand/v2"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/simboard/simboard/nx"
)

// stackClock is the clock gVisor gets in stack.Options: nil (gVisor's own
// real clock) for nx.SystemClock or a clock without AfterFunc, else an
// adapter, so a virtual clock (package sim) also drives gVisor's TCP timers
// (RTO, delayed ACK, TIME_WAIT, keepalive, persist) and ARP/NDP timers.
func stackClock(clk nx.Clock) tcpip.Clock {
	fc, ok := clk.(nx.FuncClock)
	if !ok || clk == nx.SystemClock {
		return nil
	}
	return gvClock{fc}
}

// gvClock adapts an nx.FuncClock to tcpip.Clock. The monotonic reading is
// the clock's time since the Unix epoch, which only moves forward on a
// virtual clock.
type gvClock struct{ c nx.FuncClock }

var _ tcpip.Clock = gvClock{}

func (g gvClock) Now() time.Time { return g.c.Now() }

func (g gvClock) NowMonotonic() tcpip.MonotonicTime {
	var zero tcpip.MonotonicTime
	return zero.Add(time.Duration(g.c.Now().UnixNano()))
}

func (g gvClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	return gvTimer{g.c.AfterFunc(d, f)}
}

type gvTimer struct{ t nx.FuncTimer }

func (t gvTimer) Stop() bool            { return t.t.Stop() }
func (t gvTimer) Reset(d time.Duration) { t.t.Reset(d) }

// random holds what Options.Rand feeds: gVisor's SecureRNG and RandSource
// and the NX_ANY_PORT choice. The zero Options.Rand gives gVisor's defaults
// (nil fields) and rand.IntN.
type random struct {
	secure io.Reader
	source mathrand.Source
	intN   func(n int) int
}

func newRandom(r io.Reader) (random, error) {
	if r == nil {
		return random{intN: rand.IntN}, nil
	}
	lr := &lockedReader{r: r}
	var seed [16]byte
	if _, err := io.ReadFull(lr, seed[:]); err != nil {
		return random{}, err
	}
	s1 := binary.LittleEndian.Uint64(seed[:8])
	s2 := binary.LittleEndian.Uint64(seed[8:])
	ports := rand.New(rand.NewPCG(s1, s2))
	return random{
		secure: lr,
		source: &lockedSource{src: mathrand.NewSource(int64(s1 ^ s2))},
		intN:   ports.IntN, // called under IP.mu
	}, nil
}

// lockedReader serialises reads: gVisor reads its SecureRNG from several
// goroutines.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

// lockedSource is a thread-safe math/rand Source (gVisor requires one).
type lockedSource struct {
	mu  sync.Mutex
	src mathrand.Source
}

func (l *lockedSource) Int63() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Int63()
}

func (l *lockedSource) Seed(seed int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.src.Seed(seed)
}
