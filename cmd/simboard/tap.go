package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/simboard/simboard/internal/tapsetup"
)

func runTap(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tap", "[--apply] [--teardown] [--name tap0] [--user USER] [--host 198.51.100.1/24] [--netns NAME]", stderr)
	var (
		o        tapsetup.Options
		host     = fs.String("host", tapsetup.DefaultHostAddr.String(), "host address and prefix on the TAP (IPv4)")
		host6    = fs.String("host6", "2001:db8::1/64", "host IPv6 address and prefix on the TAP")
		apply    = fs.Bool("apply", false, "run the commands (needs root or CAP_NET_ADMIN) instead of printing them")
		teardown = fs.Bool("teardown", false, "remove the TAP (and the namespace) instead of creating it")
	)
	fs.StringVar(&o.Name, "name", tapsetup.DefaultName, "TAP device name")
	fs.StringVar(&o.User, "user", "", "user who may open the TAP without root (default: you, or $SUDO_USER)")
	fs.StringVar(&o.Netns, "netns", "", "create the TAP inside this network namespace")
	fs.BoolVar(&o.NoIPv6, "no-ipv6", false, "disable IPv6 on the TAP")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.HostAddr, err = netip.ParsePrefix(*host); err != nil {
		return usagef("bad --host %q: %v", *host, err)
	}
	if !o.NoIPv6 {
		if o.HostAddr6, err = netip.ParsePrefix(*host6); err != nil {
			return usagef("bad --host6 %q: %v", *host6, err)
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err.Error()}
	}
	steps := tapsetup.Plan(o)
	if *teardown {
		steps = tapsetup.Teardown(o)
	}
	if !*apply {
		if err := tapsetup.Render(stdout, steps); err != nil {
			return err
		}
		if !*teardown {
			fmt.Fprintf(stdout, "\nThen run boards without root, e.g.:\n  simboard send --tap %s --ip 198.51.100.2/24 --server %s ...\n", o.Name, o.HostAddr.Addr())
		}
		return nil
	}
	if ok, why := tapsetup.CheckPrivileged(); !ok {
		return fmt.Errorf("--apply needs privileges: %s (or run without --apply and paste the commands into a root shell)", why)
	}
	if err := tapsetup.Apply(context.Background(), steps, tapsetup.ExecRunner); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d commands ran\n", len(steps))
	return nil
}
