package pop3c_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/internal/netsvc"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// Mail by name: with no Resolver, ServerHost resolves through the board's
// own DNS client, and port 0 is the standard POP3 port.
func TestFetchByNameThroughBoardDNS(t *testing.T) {
	e := newMailEnv(t, mailhost.Options{AllowInsecureAuth: true}, false)
	e.deliver(t, "Subject: x\r\n\r\nhello\r\n")
	srv, err := netsvc.StartDNS(netsvc.DNSOptions{IP: e.server.IP, Zone: map[string][]netip.Addr{"mail.simboard.test": {e.server.Addr}}})
	if err != nil {
		t.Fatalf("netsvc.StartDNS: %v", err)
	}
	defer srv.Close()
	ctx := context.Background()

	o := e.opts()
	o.Server, o.ServerHost, o.Port = netip.Addr{}, "mail.simboard.test", 0
	if _, err := pop3c.Create(ctx, o); !errors.Is(err, pop3c.ErrParam) || !strings.Contains(err.Error(), "no DNS client") {
		t.Fatalf("Create without a DNS client on the board = %v, want ErrParam naming dnsc", err)
	}
	d, err := dnsc.New(dnsc.Options{IP: e.client.IP})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Delete()
	_ = d.ServerAdd(e.server.Addr)
	c, err := pop3c.Create(ctx, o)
	if err != nil {
		t.Fatalf("Create(mail.simboard.test) = %v", err)
	}
	n, _, err := c.MailItemsGet(ctx)
	if err != nil || n != 1 {
		t.Fatalf("MailItemsGet = %d, %v; want 1 message", n, err)
	}
	_ = c.Delete(ctx)

	o.ServerHost = "nosuch.simboard.test"
	if _, err := pop3c.Create(ctx, o); !errors.Is(err, nx.ErrIPAddress) || !errors.Is(err, dnsc.ErrQueryFailed) {
		t.Fatalf("Create(nosuch) = %v, want NX_IP_ADDRESS_ERROR wrapping NX_DNS_QUERY_FAILED", err)
	}
	o.ServerHost = ""
	if _, err := pop3c.Create(ctx, o); !errors.Is(err, pop3c.ErrParam) {
		t.Fatalf("Create without server or host = %v, want ErrParam", err)
	}
}
