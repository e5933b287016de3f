package pop3c

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/simboard/simboard/apps/dnsc"
	"github.com/simboard/simboard/nx"
)

// Resolver resolves a server host name. The board's DNS client
// (*dnsc.Client) satisfies it and is used when Options.Resolver is nil;
// *net.Resolver does too, for a board that should use the host's DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// checkServer validates Server or ServerHost (an address literal in
// ServerHost is taken as Server).
func (o *Options) checkServer() error {
	if o.Server.IsValid() && !o.Server.IsUnspecified() {
		o.Server = o.Server.Unmap()
		return nil
	}
	o.Server = netip.Addr{}
	if o.ServerHost == "" {
		return errf("create: no server address or host: %w", ErrParam)
	}
	if strings.ContainsAny(o.ServerHost, " \t\r\n\x00/@") {
		return errf("create: server host %q is not a host name: %w", o.ServerHost, ErrParam)
	}
	if a, err := netip.ParseAddr(strings.Trim(o.ServerHost, "[]")); err == nil && !a.IsUnspecified() {
		o.Server = a.Unmap()
	}
	return nil
}

// resolve looks ServerHost up through Resolver, or else the board's DNS
// client, and returns the first address. It blocks up to ctx. Errors:
// ErrParam (no resolver and no DNS client on the board, before any
// traffic), nx.ErrIPAddress wrapping the resolver's error.
func (o *Options) resolve(ctx context.Context) (netip.Addr, error) {
	var r Resolver = o.Resolver
	if r == nil {
		d := dnsc.For(o.IP)
		if d == nil {
			return netip.Addr{}, errf("create: server host %q: no Resolver and no DNS client on the board (create one with dnsc.New): %w", o.ServerHost, ErrParam)
		}
		r = d
	}
	network := "ip"
	if !o.IP.Addr6().IsValid() {
		network = "ip4"
	} else if !o.IP.Addr().IsValid() {
		network = "ip6"
	}
	addrs, err := r.LookupNetIP(ctx, network, o.ServerHost)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return netip.Addr{}, errf("create: resolve %q: %w: %w", o.ServerHost, nx.ErrIPAddress, err)
	}
	return addrs[0].Unmap(), nil
}
