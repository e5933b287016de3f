package smtpc

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/nx"
)

// Mail by name: with no Resolver, ServerHost resolves through the board's
// own DNS client; port 0 is the standard port of the TLS mode; the Date
// header takes Options.Now (an SNTP-corrected wall clock).
func TestMailByNameThroughBoardDNS(t *testing.T) {
	e := newHostEnv(t, envOptions{})
	srv, err := netsvc.StartDNS(netsvc.DNSOptions{IP: e.srv.IP, Zone: map[string][]netip.Addr{"mail.simboard.test": {e.srv.Addr}}})
	if err != nil {
		t.Fatalf("netsvc.StartDNS: %v", err)
	}
	defer srv.Close()

	o := e.options()
	o.ServerAddr, o.ServerHost, o.Port = netip.Addr{}, "mail.simboard.test", 0
	date := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	o.Now = func() time.Time { return date }
	c := e.client(t, o)
	_, err = c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "by name", []byte("x"))
	if !errors.Is(err, ErrInvalidParam) || !strings.Contains(err.Error(), "no DNS client") {
		t.Fatalf("MailSend without a DNS client on the board = %v, want NX_SMTP_INVALID_PARAM naming dnsc", err)
	}

	d, err := dnsc.New(dnsc.Options{IP: e.cli.IP})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete()
	if err := d.ServerAdd(e.srv.Addr); err != nil {
		t.Fatal(err)
	}
	res, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "by name", []byte("x"))
	if err != nil || res.Server != netip.AddrPortFrom(e.srv.Addr, 25) {
		t.Fatalf("MailSend(mail.simboard.test) = %+v, %v; want delivered via %v:25", res, err, e.srv.Addr)
	}
	if st := d.Stats(); st.Queries != 1 {
		t.Errorf("board DNS client Stats() = %+v, want 1 query", st)
	}
	if got := lastReceived(t, e.host).Data; !strings.Contains(string(got), "Date: Thu, 03 Dec 2026 06:00:00 +0000\r\n") {
		t.Errorf("stored header does not carry Options.Now's date:\n%s", got)
	}

	// An unknown name: the DNS client's status is kept under NX_IP_ADDRESS_ERROR.
	o.ServerHost = "nosuch.simboard.test"
	_, err = e.client(t, o).MailSend(context.Background(), "bob@example.com", PriorityNormal, "x", []byte("x"))
	var re *dnsc.RcodeError
	if !errors.Is(err, nx.ErrIPAddress) || !errors.Is(err, dnsc.ErrQueryFailed) || !errors.As(err, &re) {
		t.Fatalf("MailSend(nosuch) = %v, want NX_IP_ADDRESS_ERROR wrapping NX_DNS_QUERY_FAILED and NXDOMAIN", err)
	}
}

// A 554 greeting is reported as µC/SMTPc describes it: the server allows the
// connection but refuses service; the client sends QUIT.
func TestGreeting554ServiceRefused(t *testing.T) {
	m := &mail{to: []string{"a@example.com"}, body: []byte("x")}
	out := runPipe(t, noAuth(pipeOpts()), m, []scriptStep{{send: []string{"554 5.3.2 no service here\r\n"}}, quitOK})
	var re *ReplyError
	if !errors.Is(out.err, ErrServiceRefused) || !errors.Is(out.err, ErrGreetReply) || !errors.As(out.err, &re) || re.Code != 554 {
		t.Fatalf("session = %v, want ErrServiceRefused with NX_SMTP_GREET_REPLY_ERROR and the 554 ReplyError", out.err)
	}
	if !strings.Contains(out.err.Error(), "refuses service") || !strings.Contains(out.err.Error(), "no service here") {
		t.Errorf("error text %q does not explain the refusal with the server's text", out.err)
	}
	if n := len(out.srv.lines); n == 0 || out.srv.lines[n-1] != "QUIT" {
		t.Errorf("server saw %q, want QUIT", out.srv.lines)
	}
	out = runPipe(t, noAuth(pipeOpts()), m, []scriptStep{{send: []string{"421 busy\r\n"}, act: actClose}})
	if errors.Is(out.err, ErrServiceRefused) || !errors.Is(out.err, ErrGreetReply) {
		t.Errorf("421 greeting = %v, want NX_SMTP_GREET_REPLY_ERROR without ErrServiceRefused", out.err)
	}
}
