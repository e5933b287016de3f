package sntpc_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

func setup(t *testing.T, srvOpts netsvc.NTPOptions) (*boardtest.Board, *boardtest.Board, *netsvc.NTPServer) {
	t.Helper()
	boardtest.CheckGoroutines(t)
	cl, sb := boardtest.Pair(t, boardtest.Options{IPv6: true})
	srvOpts.IP = sb.IP
	s, err := netsvc.StartNTP(srvOpts)
	if err != nil {
		t.Fatalf("netsvc.StartNTP: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return cl, sb, s
}

func newClient(t *testing.T, b *boardtest.Board, opts sntpc.Options) *sntpc.Client {
	t.Helper()
	opts.IP = b.IP
	c, err := sntpc.New(opts)
	if err != nil {
		t.Fatalf("sntpc.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Delete() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func near(d, want time.Duration) bool { return d > want-time.Second && d < want+time.Second }

func TestRequestUpdateGivesOffset(t *testing.T) {
	cl, srv, s := setup(t, netsvc.NTPOptions{Offset: 90 * time.Second})
	c := newClient(t, cl, sntpc.Options{})
	if _, err := c.LocalTime(); !errors.Is(err, sntpc.ErrInvalidLocalTime) {
		t.Fatalf("LocalTime() before any update = %v, want %v", err, sntpc.ErrInvalidLocalTime)
	}
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); !errors.Is(err, sntpc.ErrClientNotInitialized) {
		t.Fatalf("RequestUpdate before InitializeUnicast = %v, want %v", err, sntpc.ErrClientNotInitialized)
	}
	if err := c.InitializeUnicast(srv.Addr6); err != nil {
		t.Fatalf("InitializeUnicast(%v) = %v", srv.Addr6, err)
	}
	u, err := c.RequestUpdate(ctxT(t), nx.Seconds(1))
	if err != nil || !near(u.Offset, 90*time.Second) || u.Stratum != 1 || u.Server != srv.Addr6 {
		t.Fatalf("RequestUpdate = %+v, %v; want offset ~90s, stratum 1 from %v", u, err, srv.Addr6)
	}
	lt, err := c.LocalTime()
	if err != nil || !near(time.Until(lt), 90*time.Second) || !near(time.Until(c.Now()), 90*time.Second) {
		t.Fatalf("LocalTime() = %v, %v; Now() = %v; want about now + 90 s", lt, err, c.Now())
	}
	if off, ok := c.Offset(); !ok || off != u.Offset || !c.ReceivingUpdates() {
		t.Fatalf("Offset() = %v, %v; ReceivingUpdates() = %v", off, ok, c.ReceivingUpdates())
	}
	if st := c.Stats(); st.Requests != 1 || st.Updates != 1 || s.Requests() != 1 {
		t.Fatalf("Stats() = %+v, server saw %d", st, s.Requests())
	}
}

// The bad replies of the issue and NetX's other sanity checks, each with its
// status and no packet left behind (boardtest checks the pools).
func TestBadReplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(*sntpc.Packet)
		opts   sntpc.Options
		want   error
	}{
		{"leap3", func(p *sntpc.Packet) { p.Leap = 3 }, sntpc.Options{}, sntpc.ErrServerClockNotSync},
		{"stratum0", func(p *sntpc.Packet) { p.Stratum = 0; p.RefID = [4]byte{'R', 'A', 'T', 'E'} }, sntpc.Options{}, sntpc.ErrKODServerNotAvailable},
		{"origin_mismatch", func(p *sntpc.Packet) { p.OrigTime ^= 1 }, sntpc.Options{}, sntpc.ErrInvalidTimestamp},
		{"origin_zero", func(p *sntpc.Packet) { p.OrigTime = 0 }, sntpc.Options{}, sntpc.ErrInvalidTimestamp},
		{"transmit_before_receive", func(p *sntpc.Packet) { p.TxTime = p.RxTime - 1<<32 }, sntpc.Options{}, sntpc.ErrInvalidTimestamp},
		{"mode_broadcast", func(p *sntpc.Packet) { p.Mode = sntpc.ModeBroadcast }, sntpc.Options{}, sntpc.ErrInvalidServerMode},
		{"version4", func(p *sntpc.Packet) { p.Version = 4 }, sntpc.Options{}, sntpc.ErrInvalidNTPVersion},
		{"stratum3", func(p *sntpc.Packet) { p.Stratum = 3 }, sntpc.Options{}, sntpc.ErrInvalidServerStratum},
		{"stratum16", func(p *sntpc.Packet) { p.Stratum = 16 }, sntpc.Options{MaxStratum: 15}, sntpc.ErrInvalidServerStratum},
		{"root_dispersion", func(p *sntpc.Packet) { p.RootDispersion = 1 << 16 }, sntpc.Options{}, sntpc.ErrBadServerRootDispersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, srv, _ := setup(t, netsvc.NTPOptions{Script: func(_ sntpc.Packet, p *sntpc.Packet) bool { tc.script(p); return true }})
			c := newClient(t, cl, tc.opts)
			if err := c.InitializeUnicast(srv.Addr); err != nil {
				t.Fatal(err)
			}
			_, err := c.RequestUpdate(ctxT(t), nx.Seconds(1))
			if !errors.Is(err, tc.want) {
				t.Fatalf("RequestUpdate = %v, want %v", err, tc.want)
			}
			if _, ok := c.Offset(); ok {
				t.Fatalf("a rejected reply was applied")
			}
			if st := c.Stats(); st.Rejected != 1 || st.InvalidUpdates != 1 {
				t.Fatalf("Stats() = %+v, want 1 rejected", st)
			}
		})
	}
}

func TestNoReply(t *testing.T) {
	cl, srv, s := setup(t, netsvc.NTPOptions{Script: func(sntpc.Packet, *sntpc.Packet) bool { return false }})
	c := newClient(t, cl, sntpc.Options{})
	_ = c.InitializeUnicast(srv.Addr)
	_, err := c.RequestUpdate(ctxT(t), nx.Ticks(20))
	if !errors.Is(err, sntpc.ErrNoUnicastFromServer) || !errors.Is(err, nx.ErrNoPacket) || s.Requests() != 1 {
		t.Fatalf("RequestUpdate to a silent server = %v (server saw %d), want %v", err, s.Requests(), sntpc.ErrNoUnicastFromServer)
	}
}

func TestDuplicateReply(t *testing.T) {
	var first *sntpc.Packet
	cl, srv, _ := setup(t, netsvc.NTPOptions{Script: func(_ sntpc.Packet, p *sntpc.Packet) bool {
		if first == nil {
			c := *p
			first = &c
		} else {
			*p = *first
		}
		return true
	}})
	c := newClient(t, cl, sntpc.Options{})
	_ = c.InitializeUnicast(srv.Addr)
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); err != nil {
		t.Fatalf("first RequestUpdate = %v", err)
	}
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); !errors.Is(err, sntpc.ErrDupeServerPacket) {
		t.Fatalf("replayed reply: RequestUpdate = %v, want %v", err, sntpc.ErrDupeServerPacket)
	}
}

func TestMaxAdjustment(t *testing.T) {
	var n int
	cl, srv, _ := setup(t, netsvc.NTPOptions{Script: func(_ sntpc.Packet, p *sntpc.Packet) bool {
		n++
		if n == 2 {
			p.RxTime += 600 << 32
			p.TxTime += 600 << 32
		}
		return true
	}})
	c := newClient(t, cl, sntpc.Options{})
	_ = c.InitializeUnicast(srv.Addr)
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); err != nil {
		t.Fatalf("first RequestUpdate = %v", err)
	}
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); !errors.Is(err, sntpc.ErrInvalidTime) {
		t.Fatalf("a 600 s step: RequestUpdate = %v, want %v", err, sntpc.ErrInvalidTime)
	}
}

func TestLeapSecondHandler(t *testing.T) {
	cl, srv, _ := setup(t, netsvc.NTPOptions{Script: func(_ sntpc.Packet, p *sntpc.Packet) bool { p.Leap = 1; return true }})
	var got int
	c := newClient(t, cl, sntpc.Options{LeapSecond: func(i int) { got = i }})
	_ = c.InitializeUnicast(srv.Addr)
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); err != nil || got != 1 {
		t.Fatalf("leap indicator 1: RequestUpdate = %v, handler saw %d; want success and 1", err, got)
	}
}

// SNTP kiss-o'-death against a scripted server, through the polling loop:
// RATE twice (the handler lets polling go on with NetX's backoff), then a
// good reply is applied; a DENY whose handler removes the server stops
// polling after one request.
func TestKissOfDeathPolling(t *testing.T) {
	var mu sync.Mutex
	kod := []string{"RATE", "RATE"}
	cl, srv, s := setup(t, netsvc.NTPOptions{Script: func(_ sntpc.Packet, p *sntpc.Packet) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(kod) > 0 {
			p.Stratum, p.RefID = 0, [4]byte(([]byte(kod[0]))[:4])
			kod = kod[1:]
		}
		return true
	}})
	var codes []string
	updated := make(chan sntpc.Update, 1)
	c := newClient(t, cl, sntpc.Options{
		PollInterval: 20 * time.Millisecond,
		KissOfDeath: func(code string) error {
			mu.Lock()
			codes = append(codes, code)
			mu.Unlock()
			if code == "DENY" {
				return sntpc.ErrKODRemoveServer
			}
			return sntpc.ErrKODServerNotAvailable
		},
		TimeUpdate: func(u sntpc.Update) {
			select {
			case updated <- u:
			default:
			}
		},
	})
	_ = c.InitializeUnicast(srv.Addr)
	if err := c.RunUnicast(); err != nil {
		t.Fatalf("RunUnicast() = %v", err)
	}
	if err := c.RunUnicast(); !errors.Is(err, sntpc.ErrClientAlreadyStarted) {
		t.Fatalf("second RunUnicast() = %v, want %v", err, sntpc.ErrClientAlreadyStarted)
	}
	if _, err := c.RequestUpdate(ctxT(t), nx.Seconds(1)); !errors.Is(err, sntpc.ErrClientAlreadyStarted) {
		t.Fatalf("RequestUpdate while polling = %v, want %v", err, sntpc.ErrClientAlreadyStarted)
	}
	select {
	case <-updated:
	case <-time.After(20 * time.Second):
		t.Fatalf("no update after the kiss-o'-death replies; last error %v", c.LastError())
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	mu.Lock()
	if len(codes) != 2 || codes[0] != "RATE" || s.Requests() < 3 {
		t.Fatalf("handler saw %v over %d requests, want [RATE RATE] then an update", codes, s.Requests())
	}
	codes = nil
	kod = []string{"DENY", "DENY"}
	mu.Unlock()
	before := s.Requests()

	if err := c.RunUnicast(); err != nil {
		t.Fatalf("RunUnicast() again = %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.Running() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c.Running() || !errors.Is(c.LastError(), sntpc.ErrKODRemoveServer) {
		t.Fatalf("after DENY: Running() = %v, LastError() = %v; want stopped with %v", c.Running(), c.LastError(), sntpc.ErrKODRemoveServer)
	}
	var ke *sntpc.KissError
	if !errors.As(c.LastError(), &ke) || ke.Code != "DENY" || s.Requests() != before+1 {
		t.Fatalf("LastError() = %v, %d requests; want a DENY KissError after one request", c.LastError(), s.Requests()-before)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop() after polling ended = %v", err)
	}
	if err := c.Stop(); !errors.Is(err, sntpc.ErrClientNotStarted) {
		t.Fatalf("Stop() twice = %v, want %v", err, sntpc.ErrClientNotStarted)
	}
}
