package netstack_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/sim"
)

// virtualPair runs body inside a Sim with two boards on a Wire on the Sim's
// clock and a connected Conn pair (client side c, server side peer). Both
// boards are closed inside the simulation.
func virtualPair(t *testing.T, body func(ctx context.Context, clk *sim.Clock, c, peer *netstack.Conn) error) {
	t.Helper()
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Seed: 1, Limit: time.Hour})
	clk := s.Clock()
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, Clock: clk})
		srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{Clock: clk})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Clock: clk})
		defer func() {
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		ln, err := srv.IP.ListenTCP(5001)
		if err != nil {
			return err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		c, err := cli.IP.DialTCP(ctx, netip.AddrPortFrom(srv.Addr, 5001))
		if err != nil {
			return err
		}
		defer c.Close()
		peer := <-accepted
		if peer == nil {
			return fmt.Errorf("accept failed")
		}
		defer peer.Close()
		return body(ctx, clk, c, peer.(*netstack.Conn))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConnDeadlineWallClockOnSimClock: a deadline given as a wall-clock time
// (time.Now().Add(30 s), as go-smtp and crypto/tls compute it) expires after
// 30 s of SIMULATED time on a board whose clock is a Sim's, whose epoch is
// months away from the wall clock. Before the fix the deadline was compared
// with the simulated clock as is, so it was either long past (the read
// failed at once) or months away (it never fired).
func TestConnDeadlineWallClockOnSimClock(t *testing.T) {
	virtualPair(t, func(ctx context.Context, clk *sim.Clock, c, _ *netstack.Conn) error {
		start := clk.Now()
		if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return err
		}
		_, err := c.Read(make([]byte, 16))
		took := clk.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("Read past a 30 s deadline = %v, want os.ErrDeadlineExceeded", err)
		}
		// The wall time between time.Now and SetReadDeadline is rounded
		// up to a tick: 30 s exactly unless the test was descheduled for
		// more than a tick in between.
		if took < 30*time.Second-nx.TickDuration || took > 30*time.Second {
			return fmt.Errorf("Read gave up after %v of simulated time, want 30 s", took)
		}
		// The write deadline maps the same way.
		start = clk.Now()
		if err := c.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
			return err
		}
		if n, err := c.Write([]byte("x")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("Write past a passed deadline = %d, %v, want 0, os.ErrDeadlineExceeded", n, err)
		}
		if took := clk.Since(start); took != 0 {
			return fmt.Errorf("Write past a passed deadline took %v of simulated time, want 0", took)
		}
		return nil
	})
}

// TestConnDeadlineAfter: SetReadDeadlineAfter takes the duration on the IP's
// clock exactly (no wall-clock reading), a passed deadline fails the next
// Read at once, and the zero deadline means none.
func TestConnDeadlineAfter(t *testing.T) {
	virtualPair(t, func(ctx context.Context, clk *sim.Clock, c, peer *netstack.Conn) error {
		start := clk.Now()
		_ = c.SetReadDeadlineAfter(12340 * time.Millisecond)
		_, err := c.Read(make([]byte, 16))
		if took := clk.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || took != 12340*time.Millisecond {
			return fmt.Errorf("Read with SetReadDeadlineAfter(12.34 s) = %v after %v, want os.ErrDeadlineExceeded after 12.34 s", err, took)
		}
		start = clk.Now()
		_ = c.SetReadDeadlineAfter(0)
		if _, err := c.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) || clk.Since(start) != 0 {
			return fmt.Errorf("Read with SetReadDeadlineAfter(0) = %v after %v, want os.ErrDeadlineExceeded at once", err, clk.Since(start))
		}
		// No deadline: the Read waits for the peer's bytes, sent 90 s later.
		_ = c.SetDeadline(time.Time{})
		go func() {
			_ = clk.Sleep(ctx, 90*time.Second)
			_, _ = peer.Write([]byte("late"))
		}()
		start = clk.Now()
		b := make([]byte, 16)
		n, err := c.Read(b)
		if err != nil || string(b[:n]) != "late" || clk.Since(start) < 90*time.Second {
			return fmt.Errorf("Read without deadline = %q, %v after %v, want \"late\" after 90 s", b[:n], err, clk.Since(start))
		}
		return nil
	})
}

// TestConnDeadlineGoSMTPReadTimeout: a go-smtp server with ReadTimeout 30 s
// on a board under a Sim (go-smtp sets time.Now().Add(30 s) before each
// read) closes an idle session with "421 4.4.2 Idle timeout" 30 s of
// simulated time after its greeting. The simulated instant is asserted;
// the wall time is only logged.
func TestConnDeadlineGoSMTPReadTimeout(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	s := sim.New(sim.Options{Seed: 1, Limit: time.Hour})
	clk := s.Clock()
	var greeted, closed time.Time
	var reply string
	err := s.Run(context.Background(), func(ctx context.Context) error {
		w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, Clock: clk})
		srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{Clock: clk})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Clock: clk})
		defer func() {
			cli.Close()
			srv.Close()
			_ = w.Close()
		}()
		ln, err := srv.IP.ListenTCP(25)
		if err != nil {
			return err
		}
		gs := smtp.NewServer(nopBackend{})
		gs.Domain = "board.test"
		gs.ReadTimeout = 30 * time.Second
		gs.WriteTimeout = 30 * time.Second
		served := make(chan error, 1)
		go func() { served <- gs.Serve(ln) }()
		defer func() {
			_ = gs.Close()
			<-served
		}()
		c, err := cli.IP.DialTCP(ctx, netip.AddrPortFrom(srv.Addr, 25))
		if err != nil {
			return err
		}
		defer c.Close()
		r := bufio.NewReader(c)
		g, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(g, "220 ") {
			return fmt.Errorf("greeting = %q, %v", g, err)
		}
		greeted = clk.Now()
		reply, err = r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reading the idle-timeout reply: %v", err)
		}
		closed = clk.Now()
		if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
			return fmt.Errorf("after the 421: %v, want io.EOF", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reply, "421 4.4.2 ") {
		t.Fatalf("reply after 30 s of silence = %q, want 421 4.4.2 Idle timeout", reply)
	}
	if idle := closed.Sub(greeted); idle < 30*time.Second-nx.TickDuration || idle > 30*time.Second+nx.TickDuration {
		t.Fatalf("go-smtp's 30 s ReadTimeout fired after %v of simulated time, want 30 s", idle)
	}
	st := s.Stats()
	t.Logf("421 after %v of simulated silence; run simulated %v in %v wall", closed.Sub(greeted), st.Simulated, st.Wall)
}

// nopBackend refuses every session (the test never gets past the greeting).
type nopBackend struct{}

func (nopBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return nil, errors.New("no sessions")
}
