package pop3c_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// TestServerFaults is the server-fault matrix: at each command the mail host
// answers -ERR, closes, resets, stays silent or sends a garbage line. Each
// case must give the documented status, leave the client in the documented
// state, and leak nothing (the boards' cleanups check every pool and the
// goroutines).
//
// Documented outcomes:
//   - reply (-ERR): *ReplyError, errors.Is ErrServerErrorStatus; the
//     session stays usable. Exceptions: -ERR to CAPA means "no
//     capabilities" and -ERR to APOP falls back to USER/PASS, so Create
//     succeeds.
//   - close, reset: nx.ErrNotConnected.
//   - silent: nx.ErrNoPacket after Timeouts.Reply.
//   - garbage: *ProtocolError, errors.Is ErrServerErrorStatus.
//
// After anything but a -ERR the connection has been reset and the next call
// returns nx.ErrNotConnected.
func TestServerFaults(t *testing.T) {
	type op struct {
		stage mailhost.Stage
		run   func(ctx context.Context, c *pop3c.Client) error
	}
	ops := []op{
		{mailhost.POP3Stat, func(ctx context.Context, c *pop3c.Client) error { _, _, err := c.MailItemsGet(ctx); return err }},
		{mailhost.POP3List, func(ctx context.Context, c *pop3c.Client) error { _, err := c.MailItemSizeGet(ctx, 1); return err }},
		{mailhost.POP3UIDL, func(ctx context.Context, c *pop3c.Client) error { _, err := c.UIDL(ctx); return err }},
		{mailhost.POP3Top, func(ctx context.Context, c *pop3c.Client) error { _, err := c.TopTo(ctx, 1, 0, io.Discard); return err }},
		{mailhost.POP3Retr, func(ctx context.Context, c *pop3c.Client) error { _, err := c.RetrTo(ctx, 1, io.Discard); return err }},
		{mailhost.POP3Dele, func(ctx context.Context, c *pop3c.Client) error { return c.MailItemDelete(ctx, 1) }},
		{mailhost.POP3Rset, func(ctx context.Context, c *pop3c.Client) error { return c.Rset(ctx) }},
		{mailhost.POP3Noop, func(ctx context.Context, c *pop3c.Client) error { return c.Noop(ctx) }},
		{mailhost.POP3Quit, func(ctx context.Context, c *pop3c.Client) error { return c.Quit(ctx) }},
	}
	// Stages inside Create, with the options that reach them.
	login := []struct {
		stage mailhost.Stage
		opts  func(o *pop3c.Options)
	}{
		{mailhost.POP3Greeting, nil},
		{mailhost.POP3Capa, nil},
		{mailhost.POP3APOP, func(o *pop3c.Options) { o.Auth, o.APOPFallback = pop3c.AuthAPOP, true }},
		{mailhost.POP3User, nil},
		{mailhost.POP3Pass, nil},
		{mailhost.POP3Auth, func(o *pop3c.Options) { o.Auth = pop3c.AuthPlain }},
	}
	kinds := []struct {
		kind mailhost.FaultKind
		want error
	}{
		{mailhost.FaultReply, pop3c.ErrServerErrorStatus},
		{mailhost.FaultClose, nx.ErrNotConnected},
		{mailhost.FaultReset, nx.ErrNotConnected},
		{mailhost.FaultSilent, nx.ErrNoPacket},
		{mailhost.FaultGarbage, pop3c.ErrServerErrorStatus},
	}
	checkErr := func(t *testing.T, call string, kind mailhost.FaultKind, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s = %v, want errors.Is %v", call, err, want)
		}
		var se *pop3c.ReplyError
		var pe *pop3c.ProtocolError
		switch kind {
		case mailhost.FaultReply:
			if !errors.As(err, &se) {
				t.Errorf("%s = %v, want a *ReplyError", call, err)
			}
		case mailhost.FaultGarbage:
			if !errors.As(err, &pe) {
				t.Errorf("%s = %v, want a *ProtocolError", call, err)
			}
		}
	}
	newOpts := func(e *mailEnv) pop3c.Options {
		o := e.opts()
		o.Auth = pop3c.AuthUserPass
		// Short enough for the silent cases, long for a loaded machine.
		o.Timeouts.Reply = nx.Ticks(50)
		return o
	}

	for _, k := range kinds {
		for _, l := range login {
			t.Run(string(l.stage)+"/"+string(k.kind), func(t *testing.T) {
				e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true,
					Faults: []mailhost.Fault{{Stage: l.stage, Kind: k.kind, Text: "injected", Times: 1}}}, false)
				o := newOpts(e)
				if l.opts != nil {
					l.opts(&o)
				}
				c, err := pop3c.Create(context.Background(), o)
				tolerated := k.kind == mailhost.FaultReply && (l.stage == mailhost.POP3Capa || l.stage == mailhost.POP3APOP)
				if tolerated {
					mustOK(t, err, "Create() with -ERR at "+string(l.stage))
					defer deleteClient(t, c)
					mustOK(t, c.Noop(context.Background()), "Noop()")
					return
				}
				if c != nil {
					deleteClient(t, c)
					t.Fatalf("Create() with %s at %s = client, nil; want %v", k.kind, l.stage, k.want)
				}
				checkErr(t, "Create()", k.kind, err, k.want)
			})
		}
		for _, o := range ops {
			t.Run(string(o.stage)+"/"+string(k.kind), func(t *testing.T) {
				ctx := context.Background()
				e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true,
					Faults: []mailhost.Fault{{Stage: o.stage, Kind: k.kind, Text: "injected", Times: 1}}}, false)
				e.deliver(t, "Subject: f\r\n\r\nbody\r\n")
				c, err := pop3c.Create(ctx, newOpts(e))
				mustOK(t, err, "Create()")
				defer deleteClient(t, c)
				for _, before := range ops {
					if before.stage == o.stage {
						break
					}
					mustOK(t, before.run(ctx, c), string(before.stage))
				}
				err = o.run(ctx, c)
				checkErr(t, string(o.stage), k.kind, err, k.want)
				next := c.Noop(ctx)
				switch {
				case k.kind == mailhost.FaultReply && o.stage == mailhost.POP3Quit:
					if !errors.Is(next, pop3c.ErrClientInvalidState) {
						t.Errorf("Noop() after a refused QUIT = %v, want ErrClientInvalidState", next)
					}
				case k.kind == mailhost.FaultReply:
					if next != nil {
						t.Errorf("Noop() after a -ERR = %v, want nil (session usable)", next)
					}
				default:
					if !errors.Is(next, nx.ErrNotConnected) {
						t.Errorf("Noop() after %s = %v, want nx.ErrNotConnected (connection reset)", k.kind, next)
					}
				}
			})
		}
	}
}

// TestServerFaultsTLS runs the fault kinds at STAT over implicit TLS: the
// statuses are the same as in plain text (the TLS transport maps deadlines
// and closed connections to NetX statuses), and nothing leaks.
func TestServerFaultsTLS(t *testing.T) {
	for _, k := range []struct {
		kind mailhost.FaultKind
		want error
	}{
		{mailhost.FaultReply, pop3c.ErrServerErrorStatus},
		{mailhost.FaultClose, nx.ErrNotConnected},
		{mailhost.FaultSilent, nx.ErrNoPacket},
		{mailhost.FaultGarbage, pop3c.ErrServerErrorStatus},
	} {
		t.Run(string(k.kind), func(t *testing.T) {
			ctx := context.Background()
			e := newMailEnv(t, mailhost.Options{Faults: []mailhost.Fault{{Stage: mailhost.POP3Stat, Kind: k.kind, Times: 1}}}, true)
			o := e.opts()
			o.TLS, o.TLSConfig = pop3c.TLSImplicit, &tls.Config{RootCAs: e.roots}
			if k.kind == mailhost.FaultSilent {
				// Short enough for the test, long enough that a loaded
				// machine (-race, 2 cores) still gets the greeting in.
				o.Timeouts.Reply = nx.Ticks(200)
			}
			c, err := pop3c.Create(ctx, o)
			mustOK(t, err, "Create()")
			defer deleteClient(t, c)
			if _, _, err := c.MailItemsGet(ctx); !errors.Is(err, k.want) {
				t.Fatalf("MailItemsGet() over TLS with %s = %v, want %v", k.kind, err, k.want)
			}
			next := c.Noop(ctx)
			if k.kind == mailhost.FaultReply && next != nil {
				t.Errorf("Noop() after a -ERR over TLS = %v, want nil", next)
			}
			if k.kind != mailhost.FaultReply && !errors.Is(next, nx.ErrNotConnected) {
				t.Errorf("Noop() after %s over TLS = %v, want nx.ErrNotConnected", k.kind, next)
			}
		})
	}
}
