package sim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/sim"
)

// mailBodySize is a body of about size bytes of CRLF lines (at least one;
// no leading dots), distinct per i.
func mailBodySize(i, size int) []byte {
	var b bytes.Buffer
	for b.Len() == 0 || b.Len() < size-80 {
		fmt.Fprintf(&b, "mail %05d line %05d %s\r\n", i, b.Len(), "0123456789abcdefghijklmnopqrstuvwxyz0123456789")
	}
	return b.Bytes()
}

// dayStats count what a mail day needed beyond one attempt per mail.
type dayStats struct {
	resends int // SMTP sessions sent again
	refetch int // POP3 sessions run again
	fetches int // POP3 sessions that completed
}

// dayPlan is what mailEvery sends: mails bodies of size bytes, one every
// period, over Wire ports with port's impairments (drawn from seed), fetched
// back over POP3 after every fetchEvery mails and after the last.
type dayPlan struct {
	mails, size, fetchEvery int
	period                  time.Duration
	port                    driver.PortOptions
	seed                    int64 // the Wire's
}

// mailDay is the day: a 10 KiB mail a minute over 5 % loss (20 ms
// delay), fetched once an hour.
func mailDay(n int) dayPlan {
	return dayPlan{mails: n, size: 10 << 10, fetchEvery: 60, period: time.Minute, seed: 1,
		port: driver.PortOptions{Loss: 0.05, Delay: 20 * time.Millisecond}}
}

// mailEvery runs plan: a board sends its mails to the built-in mail host, a
// simulated period apart, over a Wire whose two ports carry plan.port, and
// the same board fetches them back over POP3 every plan.fetchEvery mails
// and after the last: each message retrieved (RETR) must
// end with the body sent, byte-exact, and is deleted (DELE, committed by
// QUIT). Failures are handled as firmware would: an SMTP session that did
// not get its mail accepted is run again (at most twice more); a POP3
// session that did not end with QUIT's +OK committed no deletion, so its
// mails are fetched again by the next one. At the end every mail was
// fetched, the mailbox is empty and the host stored every mail byte-exact.
func mailEvery(tb testing.TB, s *sim.Sim, plan dayPlan, ds *dayStats) error {
	clk := s.Clock()
	n := plan.mails
	body := func(i int) []byte { return mailBodySize(i, plan.size) }
	return s.Run(context.Background(), func(ctx context.Context) error {
		imp := plan.port
		w := boardtest.NewWireOptions(tb, driver.WireOptions{Seed: plan.seed, Clock: clk})
		srv := boardtest.NewBoard(tb, w, "server", 1, boardtest.Options{Clock: clk, Port: imp, Rand: s.Rand("server")})
		cli := boardtest.NewBoard(tb, w, "client", 2, boardtest.Options{Clock: clk, Port: imp, Rand: s.Rand("client")})
		h, err := mailhost.New(mailhost.Options{
			Domain: "mail.example.test", Clock: clk, CatchAll: "bob",
			Users: map[string]string{"bob": "day-pass"}, AllowInsecureAuth: true,
		})
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		for port, serve := range map[uint16]func(net.Listener) error{25: h.ServeSMTP, 110: h.ServePOP3} {
			ln, err := srv.IP.ListenTCP(port)
			if err != nil {
				return err
			}
			wg.Go(func() { _ = serve(ln) })
		}
		defer func() {
			_ = h.Close()
			wg.Wait()
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		c, err := smtpc.Create(smtpc.Options{
			IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
			ServerAddr: srv.Addr, Auth: smtpc.AuthNone, TLS: smtpc.TLSOff,
		})
		if err != nil {
			return err
		}
		defer c.Delete()
		fetched := make([]bool, n)
		for i := 0; i < n; i++ {
			due := clk.Now().Add(plan.period)
			msg := body(i)
			res, err := c.MailSend(ctx, "bob@example.com", smtpc.PriorityNormal, fmt.Sprintf("reading %d", i), msg)
			for try := 1; try < 3 && err != nil && !res.Accepted && !errors.Is(err, context.Canceled); try++ {
				// At 5 % loss a few connections a day lose the greeting and
				// its retransmission within NetX's 10 s greeting wait
				// (NX_NO_PACKET): firmware sends the mail again.
				ds.resends++
				res, err = c.MailSend(ctx, "bob@example.com", smtpc.PriorityNormal, fmt.Sprintf("reading %d", i), msg)
			}
			if err != nil || !res.Accepted {
				return fmt.Errorf("mail %d at %v: MailSend = %+v, %v (server pool %+v, rx %+v; client pool %+v, rx %+v; srv port %+v; cli port %+v)", i, clk.Now().Sub(sim.DefaultEpoch), res, err,
					srv.Pool.Info(), srv.RxPool.Info(), cli.Pool.Info(), cli.RxPool.Info(), srv.Port.Stats(), cli.Port.Stats())
			}
			if i%plan.fetchEvery == plan.fetchEvery-1 && i != n-1 {
				// A failed fetch is left to the next hour's: its
				// deletions were not committed, so nothing is lost.
				if err := fetchAll(ctx, cli, srv.Addr, fetched, body); err != nil {
					if errors.Is(err, context.Canceled) {
						return err
					}
					ds.refetch++
				} else {
					ds.fetches++
				}
			}
			if err := clk.Sleep(ctx, due.Sub(clk.Now())); err != nil {
				return err
			}
		}
		// The last fetch, tried once a minute until it completes (a
		// session whose reset was lost keeps the maildrop locked until
		// the host's idle timeout).
		for try := 0; ; try++ {
			err := fetchAll(ctx, cli, srv.Addr, fetched, body)
			if err == nil {
				ds.fetches++
				break
			}
			if errors.Is(err, context.Canceled) || try == 30 {
				return fmt.Errorf("last fetch at %v: %w", clk.Now().Sub(sim.DefaultEpoch), err)
			}
			ds.refetch++
			if err := clk.Sleep(ctx, time.Minute); err != nil {
				return err
			}
		}
		for i, ok := range fetched {
			if !ok {
				return fmt.Errorf("mail %d was never fetched", i)
			}
		}
		if left := h.Store().Messages("bob"); len(left) != 0 {
			return fmt.Errorf("%d messages left in the mailbox after the last fetch", len(left))
		}
		// The host's own record: every mail accepted, each byte-exact (a
		// mail accepted twice, its 250 reply lost, would be listed twice).
		stored := make([]bool, n)
		for k, e := range h.Store().Received() {
			i := mailNumber(e.Data)
			if i < 0 || i >= n || !bytes.HasSuffix(e.Data, body(i)) {
				return fmt.Errorf("stored message %d is not a mail of the day, byte for byte", k)
			}
			stored[i] = true
		}
		for i, ok := range stored {
			if !ok {
				return fmt.Errorf("mail %d was never stored", i)
			}
		}
		return nil
	})
}

// fetchAll runs one POP3 session as user bob: every message is retrieved,
// checked against the body it carries the number of (fetched[i] is set),
// and deleted; QUIT commits the deletions. A message that matches no body
// sent, or a body that differs by one byte, is an error.
func fetchAll(ctx context.Context, b *boardtest.Board, server netip.Addr, fetched []bool, body func(int) []byte) error {
	pc, err := pop3c.Create(ctx, pop3c.Options{
		IP: b.IP, Pool: b.Pool, Server: server, Name: "bob", Password: "day-pass",
		Auth: pop3c.AuthUserPass, AllowPlaintextAuth: true,
	})
	if err != nil {
		return err
	}
	defer pc.Delete(ctx)
	count, _, err := pc.MailItemsGet(ctx)
	if err != nil {
		return err
	}
	var msg bytes.Buffer
	for item := 1; item <= count; item++ {
		msg.Reset()
		if _, err := pc.RetrTo(ctx, item, &msg); err != nil {
			return fmt.Errorf("RETR %d: %w", item, err)
		}
		i := mailNumber(msg.Bytes())
		if i < 0 || i >= len(fetched) {
			return fmt.Errorf("RETR %d: not a mail of the day (%d bytes)", item, msg.Len())
		}
		if !bytes.HasSuffix(msg.Bytes(), body(i)) {
			return fmt.Errorf("RETR %d: mail %d does not end with the body sent, byte for byte", item, i)
		}
		fetched[i] = true
		if err := pc.MailItemDelete(ctx, item); err != nil {
			return fmt.Errorf("DELE %d: %w", item, err)
		}
	}
	return pc.Quit(ctx)
}

// mailNumber returns the i of the first "mail %05d line" in a message, or
// -1.
func mailNumber(msg []byte) int {
	k := bytes.Index(msg, []byte("\r\nmail "))
	if k < 0 || len(msg) < k+12 {
		return -1
	}
	i, err := strconv.Atoi(string(msg[k+7 : k+12]))
	if err != nil {
		return -1
	}
	return i
}

// TestVirtualMailEveryMinute: 20 mails, one a simulated minute, over a lossy
// link: all stored and fetched back over POP3 byte-exact, 20 simulated
// minutes pass.
func TestVirtualMailEveryMinute(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Seed: 1, Limit: 2 * time.Hour})
	var ds dayStats
	if err := mailEvery(t, s, mailDay(20), &ds); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Simulated < 20*time.Minute {
		t.Fatalf("simulated %v, want >= 20m", st.Simulated)
	}
	t.Logf("simulated %v in %v (%d timers, %d snapshots, %d confirmed quiet; %d mails sent again, %d POP3 sessions, %d failed)",
		st.Simulated, st.Wall, st.Fired, st.Snapshots, st.Confirmed, ds.resends, ds.fetches, ds.refetch)
}

// BenchmarkVirtualMailDay: the day of firmware behaviour, one 10 KiB
// mail a simulated minute for 24 simulated hours (1,440 mails; set
// SIMBOARD_SIM_MAILS for another count) over 5 % loss, fetched back over
// POP3 once a simulated hour, all stored and fetched byte-exact. Read
// sim/wall and the ns/op (one op = the whole day). Two schedulers:
// "snapshot=every-advance" is the default (a stop-the-world snapshot before
// time moves), "snapshot=2ms" is Options.SnapshotInterval = 2 ms.
//
// At 5 % loss a few of the day's SMTP connections lose the 220 greeting and
// its retransmission inside NetX's 10 s greeting wait (NX_NO_PACKET; seen in
// a pcap: the handshake took 3 s, so the RTO grew to 6.3 s); those mails are
// sent again ("resends" metric). A POP3 session that fails commits no
// deletion; the next fetches its mails ("refetches" metric).
func BenchmarkVirtualMailDay(b *testing.B) {
	n := 1440
	if v := os.Getenv("SIMBOARD_SIM_MAILS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("SIMBOARD_SIM_MAILS=%q: want a positive count", v)
		}
	}
	for _, mode := range []struct {
		name     string
		interval time.Duration
	}{{"snapshot=every-advance", 0}, {"snapshot=2ms", 2 * time.Millisecond}} {
		b.Run(mode.name, func(b *testing.B) {
			var sims, walls time.Duration
			runs := 0
			var ds dayStats
			for b.Loop() {
				s := sim.New(sim.Options{Seed: 1, Limit: time.Duration(n+120) * time.Minute, SnapshotInterval: mode.interval})
				if err := mailEvery(b, s, mailDay(n), &ds); err != nil {
					b.Fatal(err)
				}
				st := s.Stats()
				sims += st.Simulated
				walls += st.Wall
				runs++
				b.Logf("simulated %v in %v (%d timers, %d snapshots, %d confirmed quiet, %d without a snapshot)", st.Simulated, st.Wall, st.Fired, st.Snapshots, st.Confirmed, st.Quick)
			}
			report(b, sims, walls, runs)
			b.ReportMetric(float64(ds.resends)/float64(runs), "resends/op")
			b.ReportMetric(float64(ds.refetch)/float64(runs), "refetches/op")
		})
	}
}
