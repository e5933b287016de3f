//go:build linux

// Package netns gives tests a private Linux network namespace to run TAP
// devices, kernel sockets and real servers in, so that no test traffic can
// leave the machine.
//
// Start with ForTest in a test (it skips with the reason when the machine
// cannot create namespaces, and removes the namespace when the test ends), or
// New + Close elsewhere:
//
//	ns := netns.ForTest(t, "tap")
//	if err := ns.AddTAP(ctx, "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil { ... }
//	err := ns.Do(func() error { tap, err = driver.OpenTAP(...); return err })
//
// Addresses used inside a namespace must come from 198.51.100.0/24 and
// 2001:db8::/64 (board 198.51.100.2, host side 198.51.100.1). AddTAP refuses
// anything else; never use 192.0.2.0/24 (the build machines' real uplink).
//
// Everything here shells out to iproute2 (`ip netns add`, `ip netns exec`)
// except Do, which switches one locked OS thread with setns(2).
package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Prefix is the namespace-name prefix: every namespace this package creates
// is called "simboard-<name>-<pid>".
const Prefix = "simboard-"

// Allowed address ranges inside a namespace (TEST-NET-2 and the IPv6
// documentation prefix).
var (
	AllowedV4 = netip.MustParsePrefix("198.51.100.0/24")
	AllowedV6 = netip.MustParsePrefix("2001:db8::/64")
)

// NS is a named network namespace created by New. It is safe for concurrent
// use; Close is idempotent.
type NS struct {
	name string
	path string

	mu     sync.Mutex
	closed bool
	cmds   []*exec.Cmd // made by Command, killed by Close
}

var seq atomic.Int64 // makes names unique within the process

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// New creates the namespace "simboard-<name>-<pid>[-<n>]" with `ip netns add` and
// brings its loopback up. name must be 1–32 characters of [A-Za-z0-9_.-].
// It blocks for the few milliseconds iproute2 takes. The caller must Close
// the namespace.
func New(name string) (*NS, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("netns: invalid name %q (want 1-32 of [A-Za-z0-9_.-])", name)
	}
	if ok, why := Available(); !ok {
		return nil, fmt.Errorf("netns: cannot create namespaces here: %s", why)
	}
	full := Prefix + name + "-" + strconv.Itoa(os.Getpid())
	if n := seq.Add(1); n > 1 {
		full += "-" + strconv.FormatInt(n, 10)
	}
	ns := &NS{name: full, path: filepath.Join("/run/netns", full)}
	ctx := context.Background()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", full).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("netns: ip netns add %s: %w: %s", full, err, bytes.TrimSpace(out))
	}
	if err := ns.Run(ctx, "ip", "link", "set", "lo", "up"); err != nil {
		_ = ns.Close()
		return nil, err
	}
	return ns, nil
}

// ForTest creates a namespace for t and deletes it in t.Cleanup. It calls
// t.Skip, with the reason, only when Available reports that this machine
// cannot create namespaces; any other failure is fatal.
func ForTest(t testing.TB, name string) *NS {
	t.Helper()
	if ok, why := Available(); !ok {
		if os.Getenv("SIMBOARD_REQUIRE_NETNS") == "1" {
			t.Fatalf("netns: SIMBOARD_REQUIRE_NETNS=1 but this machine cannot create a network namespace: %s", why)
		}
		t.Skipf("netns: skipping, cannot create a network namespace: %s", why)
	}
	ns, err := New(name)
	if err != nil {
		t.Fatalf("netns.New(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("netns %s: Close() = %v", ns.Name(), err)
		}
	})
	return ns
}

// Name returns the namespace's full name as `ip netns list` shows it.
func (ns *NS) Name() string { return ns.name }

// Path returns the namespace's bind-mount path (/run/netns/<name>).
func (ns *NS) Path() string { return ns.path }

// Do runs fn on a locked OS thread that has been switched into the namespace
// with setns(2), then switches the thread back. Sockets, TAP file
// descriptors and netlink sockets that fn opens belong to the namespace for
// their whole life, whichever thread uses them later. Goroutines started by
// fn do NOT run in the namespace. Do blocks until fn returns and returns
// fn's error. If the thread cannot be switched back it is retired (never
// unlocked), so no other goroutine ever runs in the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	if ns.isClosed() {
		return fmt.Errorf("netns %s: do: namespace closed", ns.name)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- ns.do(fn)
	}()
	return <-errc
}

func (ns *NS) do(fn func() error) (err error) {
	runtime.LockOSThread()
	restored := false
	defer func() {
		if restored {
			runtime.UnlockOSThread()
		}
		// Otherwise the goroutine exits with the thread locked and the
		// runtime terminates the thread.
	}()
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		restored = true
		return fmt.Errorf("netns %s: do: open %s: %w", ns.name, self, err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(ns.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		restored = true
		return fmt.Errorf("netns %s: do: open %s: %w", ns.name, ns.path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		restored = true
		return fmt.Errorf("netns %s: do: setns: %w", ns.name, err)
	}
	defer func() {
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			err = errors.Join(err, fmt.Errorf("netns %s: do: restore namespace: %w", ns.name, rerr))
			return
		}
		restored = true
	}()
	return fn()
}

// Command returns a command that runs name with args inside the namespace
// (through `ip netns exec`, which execs name in the same process). The
// context kills the process when done. Close kills every command made here
// that was started (by its *os.Process, so never a recycled pid) and any
// other process still inside the namespace, so servers started with Command
// need no separate cleanup; callers should still Wait. Start the command
// before calling Close, not concurrently with it.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", ns.name, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	// Kill the whole group so `ip netns exec`'s child goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	ns.mu.Lock()
	ns.cmds = append(ns.cmds, cmd)
	ns.mu.Unlock()
	return cmd
}

// Run runs args[0] with args[1:] inside the namespace and waits for it. On
// failure the error carries the command line and its combined output.
func (ns *NS) Run(ctx context.Context, args ...string) error {
	_, err := ns.Output(ctx, args...)
	return err
}

// Output is Run that also returns the command's combined output.
func (ns *NS) Output(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("netns %s: run: no command", ns.name)
	}
	out, err := ns.Command(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netns %s: %s: %w: %s", ns.name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// AddTAP creates a persistent TAP device named dev in the namespace
// (`ip tuntap add dev <dev> mode tap`), assigns addrs (kernel side, e.g.
// 198.51.100.1/24) and sets it up. IPv6 is disabled on the device unless
// an IPv6 address is given, so no MLD or router solicitations show up on
// the TAP. Every address must lie in 198.51.100.0/24 or 2001:db8::/64.
// A process that opens the device (water, driver.OpenTAP) must do so inside
// Do, or it would create a new device in the host namespace.
func (ns *NS) AddTAP(ctx context.Context, dev string, addrs ...netip.Prefix) error {
	v6 := false
	for _, a := range addrs {
		if !Allowed(a.Addr()) {
			return fmt.Errorf("netns %s: add tap %s: address %s outside %s and %s", ns.name, dev, a, AllowedV4, AllowedV6)
		}
		if a.Addr().Is6() {
			v6 = true
		}
	}
	if err := ns.Run(ctx, "ip", "tuntap", "add", "dev", dev, "mode", "tap"); err != nil {
		return err
	}
	if !v6 {
		if err := ns.Run(ctx, "sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1"); err != nil {
			return err
		}
	}
	for _, a := range addrs {
		args := []string{"ip", "addr", "add", a.String(), "dev", dev}
		if a.Addr().Is6() {
			args = append(args, "nodad")
		}
		if err := ns.Run(ctx, args...); err != nil {
			return err
		}
	}
	return ns.Run(ctx, "ip", "link", "set", dev, "up")
}

// Allowed reports whether a may be used inside a test namespace.
func Allowed(a netip.Addr) bool {
	a = a.Unmap()
	return AllowedV4.Contains(a) || AllowedV6.Contains(a)
}

// Close kills the commands started through Command and every other process
// still inside the namespace (other than this one), then removes it with `ip netns del`; devices in it, such as TAPs,
// go with it once the last file descriptor that refers to the namespace is
// closed. Close is idempotent.
func (ns *NS) Close() error {
	ns.mu.Lock()
	if ns.closed {
		ns.mu.Unlock()
		return nil
	}
	ns.closed = true
	cmds := ns.cmds
	ns.cmds = nil
	ns.mu.Unlock()

	ctx := context.Background()
	var errs []error
	for _, cmd := range cmds {
		if cmd.Process == nil {
			continue // never started
		}
		if err := cmd.Process.Signal(os.Kill); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("netns %s: kill %d: %w", ns.name, cmd.Process.Pid, err))
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns.name).Output(); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
			if err != nil || pid == os.Getpid() || pid <= 1 {
				continue
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("netns %s: kill %d: %w", ns.name, pid, err))
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("netns %s: ip netns del: %w: %s", ns.name, err, bytes.TrimSpace(out)))
	}
	return errors.Join(errs...)
}

func (ns *NS) isClosed() bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.closed
}

var availableOnce = sync.OnceValues(probe)

// Available reports whether this machine can create a network namespace
// with a TAP in it: effective CAP_SYS_ADMIN and CAP_NET_ADMIN (root), the
// `ip` command, and /dev/net/tun. When it cannot, why says what is missing.
// The result is computed once per process; it proves the point by creating
// and deleting a throwaway namespace.
func Available() (ok bool, why string) { return availableOnce() }

func probe() (bool, string) {
	if _, err := exec.LookPath("ip"); err != nil {
		return false, "iproute2 `ip` not found in PATH"
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return false, fmt.Sprintf("no /dev/net/tun (%v); try: sudo modprobe tun", err)
	}
	caps, err := effectiveCaps()
	if err != nil {
		return false, err.Error()
	}
	const capNetAdmin, capSysAdmin = 12, 21
	if caps&(1<<capSysAdmin) == 0 || caps&(1<<capNetAdmin) == 0 {
		return false, fmt.Sprintf("needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), running as uid %d; run the tests with sudo", os.Geteuid())
	}
	name := Prefix + "probe-" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return false, fmt.Sprintf("ip netns add failed: %v: %s", err, bytes.TrimSpace(out))
	}
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		return false, fmt.Sprintf("ip netns del failed: %v: %s", err, bytes.TrimSpace(out))
	}
	return true, ""
}

func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			c, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %v", v, err)
			}
			return c, nil
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}
