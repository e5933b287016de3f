package sim_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// TestVirtualARPDelay2s: two boards on a Wire that delays every frame 2 s
// each way (a 4 s round trip, longer than gVisor's default ARP give-up of
// 3 s): with NetX's ARP timing (a request every NX_ARP_UPDATE_RATE = 10 s,
// NX_ARP_MAXIMUM_RETRIES = 18 retries) the first request's reply resolves
// the peer and 64 KiB arrive byte-exact, in virtual time.
func TestVirtualARPDelay2s(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Limit: time.Hour})
	d := driver.PortOptions{Delay: 2 * time.Second}
	if err := transfer(t, s, 1, 64<<10, d, d); err != nil {
		t.Fatalf("transfer = %v", err)
	}
	st := s.Stats()
	t.Logf("simulated %v in %v (%d timers, %d snapshots)", st.Simulated, st.Wall, st.Fired, st.Snapshots)
}

// absentPeerMail sends one mail to an address on the Wire where no board
// answers (nobody replies to ARP) and returns how much simulated time it
// took, how many ARP requests the board sent and MailSend's error.
func absentPeerMail(t *testing.T) (time.Duration, uint64, error) {
	s := sim.New(sim.Options{Limit: time.Hour})
	clk := s.Clock()
	var sendErr error
	var took time.Duration
	var arps uint64
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, Clock: clk})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Clock: clk})
		defer func() {
			cli.Close()
			_ = w.Close()
		}()
		c, err := smtpc.Create(smtpc.Options{
			IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
			ServerAddr: netip.MustParseAddr("198.51.100.9"), Auth: smtpc.AuthNone, TLS: smtpc.TLSOff,
		})
		if err != nil {
			return err
		}
		defer c.Delete()
		start := clk.Now()
		_, sendErr = c.MailSend(ctx, "bob@example.com", smtpc.PriorityNormal, "nobody", []byte("hello\n"))
		took = clk.Since(start)
		arps = cli.IP.Info().ARPRequestsSent
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	return took, arps, sendErr
}

// TestVirtualARPAbsentPeer: a mail to an address nobody answers still fails
// with the status it had under gVisor's ARP timing, NX_NOT_CONNECTED, but
// now as NetX fails it: ARP keeps asking (every 10 s, for 190 s), so the
// SMTP client's connect wait (NX_SMTP_CLIENT_CONNECTION_TIMEOUT, 10 s) is
// what ends it, not gVisor's 3 s ARP give-up.
func TestVirtualARPAbsentPeer(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	took, arps, err := absentPeerMail(t)
	t.Logf("MailSend = %v after %v, %d ARP requests", err, took, arps)
	if !errors.Is(err, nx.ErrNotConnected) {
		t.Fatalf("MailSend(absent server) = %v, want %v", err, nx.ErrNotConnected)
	}
	if took < 10*time.Second || took > 10*time.Second+nx.TickDuration {
		t.Fatalf("MailSend(absent server) gave up after %v of simulated time, want the 10 s connect wait", took)
	}
	// A request at once and the next 10 s later (NX_ARP_UPDATE_RATE), not
	// gVisor's three in 3 s.
	if arps < 1 || arps > 2 {
		t.Fatalf("%d ARP requests in the 10 s wait, want 1 or 2", arps)
	}
}
