package netstack

import (
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
