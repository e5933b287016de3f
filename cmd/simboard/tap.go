package main

import (
	"flag"
	"fmt"
	"net/netip"

	"github.com/simboard/simboard/internal/tapsetup"
)

// tapCmd is `simboard tap`.
type tapCmd struct {
	o               tapsetup.Options
	host, host6     string
	apply, teardown bool
}

func (c *tapCmd) groups() []flagGroup { return []flagGroup{c} }

func (c *tapCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.host, "host", tapsetup.DefaultHostAddr.String(), "host IPv4 `ADDR/PREFIX` on the TAP")
	fs.StringVar(&c.host6, "host6", "2001:db8::1/64", "host IPv6 `ADDR/PREFIX` on the TAP")
	fs.BoolVar(&c.apply, "apply", false, "run the commands (needs root or CAP_NET_ADMIN) instead of printing them")
	fs.BoolVar(&c.teardown, "teardown", false, "remove the TAP (and the namespace) instead of creating it")
	fs.StringVar(&c.o.Name, "name", tapsetup.DefaultName, "TAP device `NAME`")
	fs.StringVar(&c.o.User, "user", "", "`USER` who may open the TAP without root (default: you, or $SUDO_USER)")
	fs.StringVar(&c.o.Netns, "netns", "", "create the TAP inside the network namespace `NAME`")
	fs.BoolVar(&c.o.NoIPv6, "no-ipv6", false, "disable IPv6 on the TAP")
}

func (c *tapCmd) check() error {
	var err error
	if c.o.HostAddr, err = netip.ParsePrefix(c.host); err != nil {
		return usagef("bad --host %q: %v", c.host, err)
	}
	if !c.o.NoIPv6 {
		if c.o.HostAddr6, err = netip.ParsePrefix(c.host6); err != nil {
			return usagef("bad --host6 %q: %v", c.host6, err)
		}
	}
	if err := c.o.Validate(); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

func (c *tapCmd) run(e *cmdEnv) error {
	o, stdout := c.o, e.stdout
	steps := tapsetup.Plan(o)
	if c.teardown {
		steps = tapsetup.Teardown(o)
	}
	if !c.apply {
		if err := tapsetup.Render(stdout, steps); err != nil {
			return err
		}
		if !c.teardown {
			fmt.Fprintf(stdout, "\nThen run boards without root, e.g.:\n  simboard send --tap %s --ip 198.51.100.2/24 --server %s ...\n", o.Name, o.HostAddr.Addr())
		}
		return nil
	}
	if ok, why := tapsetup.CheckPrivileged(); !ok {
		return fmt.Errorf("--apply needs privileges: %s (or run without --apply and paste the commands into a root shell)", why)
	}
	if err := tapsetup.Apply(e.ctx, steps, tapsetup.ExecRunner); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d commands ran\n", len(steps))
	return nil
}
