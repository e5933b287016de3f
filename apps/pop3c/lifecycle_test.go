package pop3c_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// TestDeleteAbortsBlockedCall: Delete from another goroutine ends a call
// blocked on a silent server with NX_WAIT_ABORTED, and nothing leaks.
func TestDeleteAbortsBlockedCall(t *testing.T) {
	e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true,
		Faults: []mailhost.Fault{{Stage: mailhost.POP3Stat, Kind: mailhost.FaultSilent}}}, false)
	o := e.opts()
	o.Auth = pop3c.AuthUserPass
	o.Timeouts.Reply = nx.WaitForever
	tr := &syncBuffer{}
	o.Transcript = tr
	c, err := pop3c.Create(context.Background(), o)
	mustOK(t, err, "Create()")
	done := make(chan error)
	go func() {
		_, _, err := c.MailItemsGet(context.Background())
		done <- err
	}()
	// Wait until the client has started STAT (it holds its lock and will
	// block in the receive), then delete.
	waitFor(t, func() bool { return strings.Contains(tr.String(), "C: STAT") })
	mustOK(t, c.Delete(context.Background()), "Delete()")
	if err := <-done; !errors.Is(err, nx.ErrWaitAborted) {
		t.Errorf("MailItemsGet() interrupted by Delete = %v, want nx.ErrWaitAborted", err)
	}
	if err := c.Noop(context.Background()); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("Noop() after Delete = %v, want nx.ErrPtr", err)
	}
}

// TestContextCancel: cancelling the caller's context aborts the wait with
// NX_WAIT_ABORTED and resets the connection.
func TestContextCancel(t *testing.T) {
	e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true,
		Faults: []mailhost.Fault{{Stage: mailhost.POP3Noop, Kind: mailhost.FaultSilent}}}, false)
	o := e.opts()
	o.Auth = pop3c.AuthUserPass
	o.Timeouts.Reply = nx.WaitForever
	tr := &syncBuffer{}
	o.Transcript = tr
	c, err := pop3c.Create(context.Background(), o)
	mustOK(t, err, "Create()")
	defer deleteClient(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Noop(ctx) }()
	waitFor(t, func() bool { return strings.Contains(tr.String(), "C: NOOP") })
	cancel()
	if err := <-done; !errors.Is(err, nx.ErrWaitAborted) {
		t.Errorf("Noop(cancelled ctx) = %v, want nx.ErrWaitAborted", err)
	}
	if _, _, err := c.MailItemsGet(context.Background()); !errors.Is(err, nx.ErrNotConnected) {
		t.Errorf("MailItemsGet() after the abort = %v, want nx.ErrNotConnected", err)
	}
}

// TestIPv6Server: the server address may be IPv6; commands then go out in
// IPv6 TCP packets (more header room).
func TestIPv6Server(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{IPv6: true, Debug: true})
	h, err := mailhost.New(mailhost.Options{Users: map[string]string{mailUser: mailPass}, AllowInsecureAuth: true})
	mustOK(t, err, "mailhost.New()")
	l, err := server.IP.ListenTCP(110)
	mustOK(t, err, "ListenTCP()")
	served := make(chan struct{})
	go func() { _ = h.ServePOP3(l); close(served) }()
	defer func() { _ = h.Close(); <-served }()
	mustOK(t, h.Store().Deliver("a@b", []string{mailUser}, []byte("Subject: v6\r\n\r\nhi\r\n")), "Deliver()")

	ctx := context.Background()
	c, err := pop3c.Create(ctx, pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr6, Name: mailUser, Password: mailPass})
	mustOK(t, err, "Create()")
	defer deleteClient(t, c)
	n, _, err := c.MailItemsGet(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MailItemsGet() over IPv6 = %d, %v; want 1, nil", n, err)
	}
	mustOK(t, c.Quit(ctx), "Quit()")
}

// TestCreateRefused: no server on the port. Create reports the TCP status
// and leaves nothing behind (the boards' cleanups check the pools).
func TestCreateRefused(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{Debug: true})
	o := pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr, Port: 110, Name: mailUser, Password: mailPass,
		Timeouts: pop3c.Timeouts{Connect: nx.Seconds(2)}}
	if c, err := pop3c.Create(context.Background(), o); c != nil || !errors.Is(err, nx.ErrNotConnected) {
		t.Fatalf("Create() with no listener = %v, %v; want nil, nx.ErrNotConnected", c, err)
	}
	// Bad options fail before any traffic: nothing reaches the server board.
	before := server.Driver.Stats()
	o.Name = "alice\r\nDELE 1"
	if c, err := pop3c.Create(context.Background(), o); c != nil || !errors.Is(err, pop3c.ErrParam) {
		t.Fatalf("Create() with CR LF in the name = %v, %v; want nil, ErrParam", c, err)
	}
	if after := server.Driver.Stats(); after != before {
		t.Errorf("server driver stats changed from %+v to %+v: traffic before the ErrParam", before, after)
	}
}
