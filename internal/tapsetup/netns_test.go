package tapsetup

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestApplyTeardownInNetns runs a real plan inside a private network
// namespace that the test creates and removes: nothing is created in the
// test's own namespace and no traffic is sent. It needs root and
// /dev/net/tun and skips, saying why, only when they are missing.
func TestApplyTeardownInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		skipNetns(t, "needs root to create a network namespace and a TAP (run as root or with sudo)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		skipNetns(t, "no /dev/net/tun: %v", err)
	}
	if _, err := lookPath("ip"); err != nil {
		skipNetns(t, "no ip(8): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ns := fmt.Sprintf("sbtaptest%d", os.Getpid())
	owner := "nobody"
	if _, err := user.Lookup(owner); err != nil {
		owner = fmt.Sprint(os.Getuid())
	}
	opts := Options{Name: "tap0", User: owner, Netns: ns}
	plan, down := Plan(opts), Teardown(opts)
	if plan == nil || down == nil {
		t.Fatalf("Plan/Teardown(%+v) = nil; Validate() = %v", opts, opts.Validate())
	}
	// Safety: only the namespace itself is created or deleted outside it.
	for _, s := range slices.Concat(plan, down) {
		a := s.Args
		inside := len(a) > 4 && strings.Join(a[:4], " ") == "ip netns exec "+ns
		nsOnly := len(a) == 4 && a[0] == "ip" && a[1] == "netns" && (a[2] == "add" || a[2] == "del") && a[3] == ns
		if !inside && !nsOnly {
			t.Fatalf("step %q would run outside namespace %s", s, ns)
		}
	}

	_, hostTapErr := net.InterfaceByName("tap0")
	t.Cleanup(func() {
		// Whatever happened, leave no namespace behind.
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})

	if err := Apply(ctx, plan, nil); err != nil {
		if strings.Contains(err.Error(), "Operation not permitted") {
			skipNetns(t, "this machine refuses namespaces to root: %v", err)
		}
		t.Fatalf("Apply(Plan(%+v)) = %v", opts, err)
	}

	inNS := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip netns exec %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	link := inNS("ip", "-d", "link", "show", "tap0")
	for _, want := range []string{"tun type tap", "pi off", "persist on", "user " + owner, ",UP"} {
		if !strings.Contains(link, want) {
			t.Errorf("ip -d link show tap0 in %s lacks %q:\n%s", ns, want, link)
		}
	}
	addrs := inNS("ip", "addr", "show", "dev", "tap0")
	for _, want := range []string{"inet 198.51.100.1/24", "inet6 2001:db8::1/64"} {
		if !strings.Contains(addrs, want) {
			t.Errorf("ip addr show dev tap0 in %s lacks %q:\n%s", ns, want, addrs)
		}
	}
	if strings.Contains(addrs, "tentative") {
		t.Errorf("IPv6 address is tentative (nodad missing?):\n%s", addrs)
	}
	if lo := inNS("ip", "link", "show", "lo"); !strings.Contains(lo, "UP") {
		t.Errorf("loopback in %s is not up:\n%s", ns, lo)
	}
	if _, err := net.InterfaceByName("tap0"); (err == nil) != (hostTapErr == nil) {
		t.Errorf("tap0 in the test's own namespace changed existence (before err=%v, after err=%v)", hostTapErr, err)
	}

	// A second Apply must fail cleanly on the existing namespace.
	if err := Apply(ctx, plan, nil); err == nil {
		t.Errorf("second Apply(Plan(%+v)) = nil, want an error (namespace exists)", opts)
	}

	if err := Apply(ctx, down, nil); err != nil {
		t.Fatalf("Apply(Teardown(%+v)) = %v", opts, err)
	}
	if _, err := os.Stat("/run/netns/" + ns); err == nil {
		t.Errorf("namespace %s still exists after Teardown", ns)
	}
	// Tearing down again fails (nothing left) but tries every step.
	var calls int
	counting := func(ctx context.Context, args []string) error { calls++; return ExecRunner(ctx, args) }
	if err := Apply(ctx, down, counting); err == nil || calls != len(down) {
		t.Errorf("second Apply(Teardown) = %v after %d of %d steps, want an error after all of them", err, calls, len(down))
	}
}

// skipNetns skips a namespace test with the reason, or fails it when
// SIMBOARD_REQUIRE_NETNS=1 (CI), where namespaces must work.
func skipNetns(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SIMBOARD_REQUIRE_NETNS") == "1" {
		t.Fatalf("SIMBOARD_REQUIRE_NETNS=1: "+format, args...)
	}
	t.Skipf(format, args...)
}
