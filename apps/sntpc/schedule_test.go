package sntpc_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

// schedClock records the waits the polling goroutine asks for. The first
// limit timers fire at once (time jumps by their duration); later ones
// never fire, so the loop parks until Stop.
type schedClock struct {
	mu    sync.Mutex
	now   time.Time
	durs  []time.Duration
	limit int
	full  chan struct{}
}

type schedTimer struct{ ch chan time.Time }

func (t *schedTimer) C() <-chan time.Time { return t.ch }
func (t *schedTimer) Stop() bool          { return true }

func (c *schedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *schedClock) NewTimer(d time.Duration) nx.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &schedTimer{ch: make(chan time.Time, 1)}
	c.durs = append(c.durs, d)
	if len(c.durs) <= c.limit {
		c.now = c.now.Add(d)
		t.ch <- c.now
	}
	if len(c.durs) == c.limit+1 {
		close(c.full)
	}
	return t
}

// NetX's unicast schedule on the injected clock: a request at once; after
// each failed update the next poll is PollInterval × 2 × n (capped at
// MaxTimeLapse); after a valid update it is PollInterval again.
func TestPollScheduleBackoff(t *testing.T) {
	var mu sync.Mutex
	n := 0
	cl, srv, _ := setup(t, netsvc.NTPOptions{Clock: nx.SystemClock, Script: func(_ sntpc.Packet, p *sntpc.Packet) bool {
		mu.Lock()
		defer mu.Unlock()
		n++
		switch n {
		case 1, 2, 3, 7: // kiss-o'-death RATE
			p.Stratum, p.RefID = 0, [4]byte{'R', 'A', 'T', 'E'}
		}
		return true
	}})
	clk := &schedClock{now: time.Now(), limit: 7, full: make(chan struct{})}
	c := newClient(t, cl, sntpc.Options{Clock: clk, PollInterval: time.Minute, MaxTimeLapse: 5 * time.Minute, MaxAdjustment: 24 * time.Hour})
	_ = c.InitializeUnicast(srv.Addr)
	if err := c.RunUnicast(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-clk.full:
	case <-time.After(20 * time.Second):
		t.Fatalf("the polling loop did not ask for 8 waits; last error %v", c.LastError())
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	clk.mu.Lock()
	got := clk.durs
	clk.mu.Unlock()
	m := time.Minute
	// RATE ×3: 2, 4, 6 min (6 capped at 5); valid ×3: 1 min each; RATE: 2 min
	// again (the backoff was reset); valid: 1 min.
	want := []time.Duration{2 * m, 4 * m, 5 * m, m, m, m, 2 * m, m}
	if !slices.Equal(got, want) {
		t.Fatalf("poll waits = %v, want %v", got, want)
	}
	if st := c.Stats(); st.Requests != 8 || st.Updates != 4 || st.Rejected != 4 || !c.ReceivingUpdates() || c.LastError() != nil {
		t.Errorf("Stats() = %+v, LastError() = %v; want 8 requests, 4 updates, 4 kiss-o'-death replies, ending synchronised", st, c.LastError())
	}
}
