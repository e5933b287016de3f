package smtpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// cancelReader cancels a context once n bytes have been read from it.
type cancelReader struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	if c.n -= k; c.n <= 0 {
		c.cancel()
	}
	return k, err
}

func TestCancelMidMessage(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	c := e.client(t, e.options())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := &cancelReader{r: bytes.NewReader(bigBody(1<<20, 2)), n: 200 << 10, cancel: cancel}
	_, err := c.Send(ctx, &Message{To: []string{"bob@example.com"}, Body: body})
	if !errors.Is(err, nx.ErrWaitAborted) {
		t.Fatalf("Send(cancelled mid-message) = %v, want NX_WAIT_ABORTED", err)
	}
	if n := len(e.host.Store().Received()); n != 0 {
		t.Errorf("host stored %d mails from a cancelled session, want 0", n)
	}
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "after cancel", []byte("ok")); err != nil {
		t.Fatalf("MailSend after a cancel = %v", err)
	}
}

func TestCancelWhileWaitingForReply(t *testing.T) {
	cli, srv := netxPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server cancels the client's context when MAIL arrives and never answers.
	script := []scriptStep{greet, ehloMin, {want: "MAIL", act: actSilent}}
	done := serveScriptHook(t, srv, script, map[int]func(){2: cancel})
	c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com", ServerAddr: srv.Addr, Auth: AuthNone, TLS: TLSOff})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	_, err = c.MailSend(ctx, "a@example.com", PriorityNormal, "x", []byte("x"))
	if !errors.Is(err, nx.ErrWaitAborted) {
		t.Fatalf("MailSend(cancelled while waiting) = %v, want NX_WAIT_ABORTED", err)
	}
	if got := waitScript(t, done); len(got.extra) != 0 {
		t.Errorf("client sent %q after the cancel, want nothing (reset)", got.extra)
	}
	boardtest.CheckBalanced(t, cli.Pool, cli.RxPool)
}

func TestPoolExhaustion(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	small, err := packetpool.New(packetpool.Options{Name: "smtp client", PayloadSize: 512, Count: 6, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	o := e.options()
	o.Pool, o.ChainSize = small, 8<<10 // a chain needs more packets than the pool has
	o.Timeouts.Packet = nx.Ticks(5)
	c := e.client(t, o)
	_, err = c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "big", bigBody(64<<10, 3))
	if !errors.Is(err, ErrPacketAllocate) || !errors.Is(err, nx.ErrNoPacket) {
		t.Fatalf("MailSend(pool too small) = %v, want NX_SMTP_PACKET_ALLOCATE_ERROR and NX_NO_PACKET", err)
	}
	if in := small.Info(); in.Free != in.Total || in.InvalidReleases != 0 || in.EmptyRequests == 0 {
		t.Errorf("client pool after exhaustion = %+v, want all free, no invalid release, empty requests counted", in)
	}
	if n := len(e.host.Store().Received()); n != 0 {
		t.Errorf("host stored %d mails, want 0", n)
	}
	// A mail that fits goes through with the same client.
	if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "small", []byte("fits\n")); err != nil {
		t.Fatalf("MailSend(small) after exhaustion = %v", err)
	}
	boardtest.CheckBalanced(t, small, e.cli.Pool, e.cli.RxPool)
}

type mapResolver map[string][]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := m[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestResolverAndIPv6(t *testing.T) {
	e := newHostEnv(t, envOptions{cli: boardtest.Options{IPv6: true}, srv: boardtest.Options{IPv6: true}})
	t.Run("host name", func(t *testing.T) {
		o := e.options()
		o.ServerAddr, o.ServerHost = netip.Addr{}, "mail.example.test"
		// The first address refuses (nothing listens there): the next is tried.
		o.Resolver = mapResolver{"mail.example.test": {netip.MustParseAddr("198.51.100.9"), e.srv.Addr}}
		o.Timeouts.Connection = nx.Ticks(50)
		res, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "resolved", []byte("x"))
		if err != nil || res.Server.Addr() != e.srv.Addr {
			t.Fatalf("MailSend(host name) = %+v, %v; want delivered via %v", res, err, e.srv.Addr)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		o := e.options()
		o.ServerAddr, o.ServerHost, o.Resolver = netip.Addr{}, "nowhere.example.test", mapResolver{}
		_, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x"))
		if !errors.Is(err, nx.ErrIPAddress) || !strings.Contains(err.Error(), "nowhere.example.test") {
			t.Fatalf("MailSend(unknown host) = %v, want NX_IP_ADDRESS_ERROR naming the host", err)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		o := e.options()
		o.ServerAddr = e.srv.Addr6
		res, err := e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "v6", bigBody(20000, 4))
		if err != nil || !res.Server.Addr().Is6() {
			t.Fatalf("MailSend(IPv6) = %+v, %v", res, err)
		}
		env := lastReceived(t, e.host)
		if !bytes.HasSuffix(env.Data, normalise(bigBody(20000, 4))) {
			t.Errorf("IPv6 mail body differs")
		}
	})
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
}

func TestDelete(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	c, err := Create(e.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if err := c.Delete(); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("second Delete() = %v, want NX_PTR_ERROR", err)
	}
	if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x")); !errors.Is(err, ErrClientNotInitialized) {
		t.Errorf("MailSend after Delete = %v, want NX_SMTP_CLIENT_NOT_INTIALIZED", err)
	}
	if _, err := Create(Options{Pool: e.cli.Pool, From: "a@b", ServerAddr: e.srv.Addr}); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("Create(nil IP) = %v, want NX_PTR_ERROR", err)
	}
	if _, err := Create(Options{IP: e.cli.IP, From: "a@b", ServerAddr: e.srv.Addr}); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("Create(nil pool) = %v, want NX_PTR_ERROR", err)
	}
}

// One client used from several goroutines: sessions are serialised and all
// mails arrive.
func TestConcurrentUse(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	c := e.client(t, e.options())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 {
				if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, fmt.Sprintf("g%d-%d", g, i), []byte("x\n")); err != nil {
					t.Errorf("MailSend(g%d, %d) = %v", g, i, err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(e.host.Store().Messages("bob")); n != 12 {
		t.Errorf("bob has %d messages, want 12", n)
	}
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
}

// TestNetXCancelMidMessage: ProfileNetX sends nothing once ctx is done: a
// body reader that cancels mid-message ends the session with NX_WAIT_ABORTED
// (errors.Is context.Canceled) and a reset, never with NetX's end of message,
// so the server stores nothing; the client is reusable.
func TestNetXCancelMidMessage(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	o := e.options()
	o.Profile = ProfileNetX
	c := e.client(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := &cancelReader{r: bytes.NewReader(bigBody(1<<20, 2)), n: 200 << 10, cancel: cancel}
	_, err := c.Send(ctx, &Message{To: []string{"bob@example.com"}, Body: body})
	if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) || NetXStatus(err) != uint32(nx.ErrWaitAborted) {
		t.Fatalf("Send(netx, cancelled mid-message) = %v, want NX_WAIT_ABORTED with context.Canceled", err)
	}
	if n := len(e.host.Store().Received()); n != 0 {
		t.Errorf("host stored %d mails from a cancelled session, want 0", n)
	}
	boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "after cancel", []byte("ok\r\n")); err != nil {
		t.Fatalf("MailSend after a cancel = %v", err)
	}
}
