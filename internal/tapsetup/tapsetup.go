// Package tapsetup plans, prints and runs the ip(8) commands that create a
// persistent, user-owned Linux TAP device for a simboard board, the part of
// `simboard tap` that touches the host.
//
// A persistent TAP created once by root with `ip tuntap add dev tap0 mode tap
// user $USER` can afterwards be opened by that user without privileges, which
// is how a firmware engineer runs boards on a TAP day to day. Start with
// [Plan] (what to create), print it with [Render] or run it with [Apply], and
// undo it with [Teardown]. [Options.Validate] explains why a name or address
// is refused.
//
// Nothing here sends traffic. Plan only assigns addresses to the new device;
// the defaults come from TEST-NET-2 (198.51.100.1/24) and the IPv6
// documentation range (2001:db8::1/64). Host addresses in 192.0.2.0/24 are
// refused: the build machines' real uplink and default gateway live there.
//
// The package has no state; every function is safe for concurrent use.
package tapsetup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultName = "tap0"
)

var (
	// DefaultHostAddr is the host side of the TAP (TEST-NET-2); the board
	// takes 198.51.100.2.
	DefaultHostAddr = netip.MustParsePrefix("198.51.100.1/24")
	// DefaultHostAddr6 is the host side of the TAP in the IPv6 documentation
	// range; the board takes 2001:db8::2.
	DefaultHostAddr6 = netip.MustParsePrefix("2001:db8::1/64")

	// forbidden is TEST-NET-1, which carries the build machines' real
	// uplink and default gateway.
	forbidden = netip.MustParsePrefix("192.0.2.0/24")
)

// Options describes the TAP device to create. Every field's zero value is
// usable; Validate reports what is wrong with the others.
type Options struct {
	// Name is the TAP device name. "" = "tap0". At most 15 bytes of
	// letters, digits, '_', '-' and '.', not starting with '-'.
	Name string

	// User owns the device and may open it without privileges, as a
	// user name or a numeric uid. "" = the invoking user: $SUDO_USER when
	// it is set (the command runs under sudo), else the current user.
	User string

	// HostAddr is the host's IPv4 address and prefix on the TAP.
	// Zero = 198.51.100.1/24. Must be IPv4 and must not overlap
	// 192.0.2.0/24.
	HostAddr netip.Prefix

	// HostAddr6 is the host's IPv6 address and prefix on the TAP.
	// Zero = 2001:db8::1/64. It is added with nodad so that host-side
	// servers can bind it before a board attaches (a TAP has no carrier
	// until then, so duplicate address detection would leave it
	// "tentative" and unbindable).
	HostAddr6 netip.Prefix

	// NoIPv6 skips HostAddr6 and disables IPv6 on the device
	// (net.ipv6.conf.<name>.disable_ipv6=1), so the kernel sends no MLD or
	// router solicitations into the board's pcap. False = IPv6 on.
	NoIPv6 bool

	// Netns, when set, puts the TAP in that network namespace: Plan
	// creates it with `ip netns add`, brings its loopback up, and runs
	// every other command under `ip netns exec <Netns>`; Teardown deletes
	// it. "" = the current namespace. Same character rules as Name, at
	// most 64 bytes.
	Netns string

	// NetnsExists says Netns already exists: Plan neither creates it nor
	// brings its loopback up, and Teardown leaves it in place. Ignored
	// when Netns is "".
	NetnsExists bool
}

// Step is one command of a plan.
type Step struct {
	// Args is the command and its arguments, run without a shell.
	Args []string
	// Why says in one line what the command is for.
	Why string
	// BestEffort lets Apply go on to the next step when this one fails;
	// the failure is still reported. Teardown's steps are best effort, so
	// a half-made plan is still cleaned up.
	BestEffort bool
}

// String returns the command as a line a POSIX shell would run unchanged,
// each argument quoted when it needs to be.
func (s Step) String() string {
	q := make([]string, len(s.Args))
	for i, a := range s.Args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.User == "" {
		o.User = invokingUser()
	}
	if !o.HostAddr.IsValid() {
		o.HostAddr = DefaultHostAddr
	}
	if !o.HostAddr6.IsValid() {
		o.HostAddr6 = DefaultHostAddr6
	}
	return o
}

// invokingUser is the user who asked for the TAP: the sudo caller when
// running under sudo, else the current user, else "" (no owner).
func invokingUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// Validate reports whether Plan and Teardown can use o, after defaults are
// applied. Names (device, user, namespace) may contain only letters,
// digits, '_', '-' and '.', so that nothing in a plan can be read as shell
// syntax when it is printed; host addresses must be of the right family,
// usable as a host address, and outside 192.0.2.0/24.
func (o Options) Validate() error {
	o = o.withDefaults()
	if err := checkName("device name", o.Name, 15); err != nil {
		return err
	}
	if o.User == "" {
		return errors.New("tapsetup: no user to own the TAP: set Options.User (the current user could not be determined)")
	}
	if err := checkName("user", o.User, 32); err != nil {
		return err
	}
	if o.Netns != "" {
		if err := checkName("namespace name", o.Netns, 64); err != nil {
			return err
		}
	}
	if err := checkHostAddr(o.HostAddr, false); err != nil {
		return err
	}
	if !o.NoIPv6 {
		if err := checkHostAddr(o.HostAddr6, true); err != nil {
			return err
		}
	}
	return nil
}

// checkName enforces the character rules for names placed in commands.
func checkName(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("tapsetup: %s is empty", what)
	}
	if len(s) > max {
		return fmt.Errorf("tapsetup: %s %q is %d bytes long, at most %d allowed", what, s, len(s), max)
	}
	if s == "." || s == ".." {
		return fmt.Errorf("tapsetup: %s %q is not allowed", what, s)
	}
	if s[0] == '-' {
		return fmt.Errorf("tapsetup: %s %q starts with '-', which ip(8) would read as an option", what, s)
	}
	for _, r := range s {
		if !nameChar(r) {
			return fmt.Errorf("tapsetup: %s %q contains %q: only letters, digits, '_', '-' and '.' are allowed, because the name is passed to ip(8) and printed as a shell command", what, s, r)
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// checkHostAddr validates one host address on the TAP.
func checkHostAddr(p netip.Prefix, v6 bool) error {
	a := p.Addr()
	if v6 {
		if !a.Is6() || a.Is4In6() {
			return fmt.Errorf("tapsetup: IPv6 host address %v is not an IPv6 prefix", p)
		}
	} else {
		if !a.Is4() {
			return fmt.Errorf("tapsetup: IPv4 host address %v is not an IPv4 prefix", p)
		}
		if p.Overlaps(forbidden) {
			return fmt.Errorf("tapsetup: host address %v overlaps 192.0.2.0/24 (TEST-NET-1): the build machines' real uplink and default gateway live there, so a TAP route over it would take real traffic off the uplink; use 198.51.100.0/24 (the default) or a 10.x network", p)
		}
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return fmt.Errorf("tapsetup: host address %v is not a usable unicast host address", p)
	}
	if !v6 && p.Bits() < 31 {
		if a == p.Masked().Addr() {
			return fmt.Errorf("tapsetup: host address %v is the network address of its prefix", p)
		}
		if a == lastAddr4(p) {
			return fmt.Errorf("tapsetup: host address %v is the broadcast address of its prefix", p)
		}
	}
	return nil
}

// lastAddr4 returns the highest address of an IPv4 prefix.
func lastAddr4(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// inNetns prefixes args with `ip netns exec <ns>` when ns is set.
func inNetns(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"ip", "netns", "exec", ns}, args...)
}

// Plan returns the commands that create the TAP described by opts: in
// order, the namespace (when Netns is set and NetnsExists is not),
//
//	ip tuntap add dev tap0 mode tap user $USER
//	ip addr add 198.51.100.1/24 dev tap0
//	ip -6 addr add 2001:db8::1/64 dev tap0 nodad
//	ip link set tap0 up
//
// each under `ip netns exec <Netns>` when Netns is set. Plan runs nothing;
// it reads $SUDO_USER and the current user only when opts.User is "". It
// returns nil when opts is invalid: call opts.Validate for the reason.
func Plan(opts Options) []Step {
	if opts.Validate() != nil {
		return nil
	}
	o := opts.withDefaults()
	var steps []Step
	if o.Netns != "" && !o.NetnsExists {
		steps = append(steps,
			Step{Args: []string{"ip", "netns", "add", o.Netns}, Why: fmt.Sprintf("create the network namespace %s to hold the TAP", o.Netns)},
			Step{Args: inNetns(o.Netns, "ip", "link", "set", "lo", "up"), Why: "bring up the namespace's loopback (a new namespace starts with it down)"},
		)
	}
	steps = append(steps,
		Step{Args: inNetns(o.Netns, "ip", "tuntap", "add", "dev", o.Name, "mode", "tap", "user", o.User),
			Why: fmt.Sprintf("create the persistent TAP %s, which %s may open without root", o.Name, o.User)},
		Step{Args: inNetns(o.Netns, "ip", "addr", "add", o.HostAddr.String(), "dev", o.Name),
			Why: fmt.Sprintf("give the host side of %s its IPv4 address", o.Name)},
	)
	if o.NoIPv6 {
		steps = append(steps, Step{Args: inNetns(o.Netns, "sysctl", "-qw", "net.ipv6.conf."+o.Name+".disable_ipv6=1"),
			Why: fmt.Sprintf("disable IPv6 on %s so the kernel sends no MLD or router solicitations to the board", o.Name)})
	} else {
		steps = append(steps, Step{Args: inNetns(o.Netns, "ip", "-6", "addr", "add", o.HostAddr6.String(), "dev", o.Name, "nodad"),
			Why: fmt.Sprintf("give the host side of %s its IPv6 address, usable at once (nodad: the TAP has no carrier until a board attaches)", o.Name)})
	}
	steps = append(steps, Step{Args: inNetns(o.Netns, "ip", "link", "set", o.Name, "up"),
		Why: fmt.Sprintf("bring %s up (it shows NO-CARRIER until a board opens it)", o.Name)})
	return steps
}

// Teardown returns the commands that undo Plan(opts): delete the TAP (its
// addresses go with it) and, when Plan created the namespace, delete the
// namespace. Every step is BestEffort, so Apply tries them all even when
// the TAP is already gone. It returns nil when opts is invalid.
func Teardown(opts Options) []Step {
	if opts.Validate() != nil {
		return nil
	}
	o := opts.withDefaults()
	steps := []Step{{Args: inNetns(o.Netns, "ip", "tuntap", "del", "dev", o.Name, "mode", "tap"),
		Why: fmt.Sprintf("delete the TAP %s and its addresses", o.Name), BestEffort: true}}
	if o.Netns != "" && !o.NetnsExists {
		steps = append(steps, Step{Args: []string{"ip", "netns", "del", o.Netns},
			Why: fmt.Sprintf("delete the network namespace %s (it lives on while processes are still inside it)", o.Netns), BestEffort: true})
	}
	return steps
}

// Render writes steps as a shell script fragment: a comment saying root is
// needed, then for each step a comment with its Why and the command behind
// `sudo`, every argument shell-quoted. It returns an error for an empty plan
// (Plan returned nil: the options were invalid) or when w fails.
func Render(w io.Writer, steps []Step) error {
	if len(steps) == 0 {
		return errors.New("tapsetup: render: empty plan (invalid options? see Options.Validate)")
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# These commands need root (CAP_NET_ADMIN): run them as shown with sudo, or from a root shell without it.")
	for _, s := range steps {
		fmt.Fprintf(bw, "# %s\nsudo %s\n", s.Why, s)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tapsetup: render: %w", err)
	}
	return nil
}

// Runner runs one command given as program and arguments, without a shell,
// and returns an error describing any failure.
type Runner func(ctx context.Context, args []string) error

// StepError is the error Apply returns when a step fails or is refused.
type StepError struct {
	Index int  // 0-based index of the step in the plan
	Step  Step // the step
	Err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("tapsetup: step %d (%s): %v", e.Index+1, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Apply runs steps in order with run (nil = ExecRunner), stopping at the
// first failure of a step that is not BestEffort. It blocks until the last
// step returns. Before running a step it re-checks it and refuses, without
// running it, any step whose program is not ip or sysctl, any argument with
// characters outside letters, digits and "_-.:/=@+," and any address inside
// 192.0.2.0/24 (a refusal always stops Apply). Steps already run are not
// undone: after a failure, apply Teardown. A cancelled ctx stops Apply
// before the next step. Each failure is a *StepError; several are joined
// with errors.Join (errors.As finds the first). An empty plan is an error.
// Safe for concurrent use if run is.
func Apply(ctx context.Context, steps []Step, run Runner) error {
	if len(steps) == 0 {
		return errors.New("tapsetup: apply: empty plan (invalid options? see Options.Validate)")
	}
	if run == nil {
		run = ExecRunner
	}
	var errs []error
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, &StepError{Index: i, Step: s, Err: err})...)
		}
		if err := checkStep(s); err != nil {
			return errors.Join(append(errs, &StepError{Index: i, Step: s, Err: err})...)
		}
		if err := run(ctx, s.Args); err != nil {
			errs = append(errs, &StepError{Index: i, Step: s, Err: err})
			if !s.BestEffort {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// checkStep is Apply's last line of defence against a plan that was built
// or edited by hand.
func checkStep(s Step) error {
	if len(s.Args) == 0 {
		return errors.New("empty command")
	}
	if p := s.Args[0]; p != "ip" && p != "sysctl" {
		return fmt.Errorf("refused: program %q is not ip or sysctl", p)
	}
	for _, a := range s.Args {
		if a == "" {
			return errors.New("refused: empty argument")
		}
		for _, r := range a {
			if !nameChar(r) && !strings.ContainsRune(":/=@+,", r) {
				return fmt.Errorf("refused: argument %q contains %q", a, r)
			}
		}
		if p, err := netip.ParsePrefix(a); err == nil && p.Overlaps(forbidden) {
			return fmt.Errorf("refused: %s overlaps 192.0.2.0/24, the build machines' real uplink", a)
		}
		if ad, err := netip.ParseAddr(a); err == nil && forbidden.Contains(ad.Unmap()) {
			return fmt.Errorf("refused: %s is in 192.0.2.0/24, the build machines' real uplink", a)
		}
	}
	return nil
}

// ExecRunner is the default Runner: it runs args with exec.CommandContext
// (looking in /usr/sbin and /sbin too, where ip often lives outside a
// root PATH) and returns the exit error together with the command's
// trimmed output. It blocks until the command exits or ctx is done.
func ExecRunner(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("tapsetup: exec: empty command")
	}
	prog, err := lookPath(args[0])
	if err != nil {
		return fmt.Errorf("tapsetup: exec: %w", err)
	}
	out, err := exec.CommandContext(ctx, prog, args[1:]...).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("tapsetup: exec %s: %w: %s", args[0], err, msg)
		}
		return fmt.Errorf("tapsetup: exec %s: %w", args[0], err)
	}
	return nil
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if fi, serr := os.Stat(dir + "/" + name); serr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return dir + "/" + name, nil
		}
	}
	return "", err
}

// capNetAdmin and capSysAdmin are the capability bits Apply's commands
// need: CAP_NET_ADMIN for the TAP and addresses, CAP_SYS_ADMIN for
// `ip netns add` and `ip netns exec`.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// CheckPrivileged reports whether this process can run a plan itself (it
// is root, or holds CAP_NET_ADMIN and CAP_SYS_ADMIN, and /dev/net/tun
// exists), with a one-line explanation fit to show the user either way. It
// does not block and is safe for concurrent use.
func CheckPrivileged() (bool, string) {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return false, "tapsetup: /dev/net/tun is missing: load the tun module (sudo modprobe tun)"
	}
	if os.Geteuid() == 0 {
		return true, "running as root"
	}
	caps, err := effectiveCaps()
	if err != nil {
		return false, fmt.Sprintf("tapsetup: not root and capabilities unknown (%v): run with sudo", err)
	}
	net, sys := caps&(1<<capNetAdmin) != 0, caps&(1<<capSysAdmin) != 0
	switch {
	case net && sys:
		return true, "not root, but CAP_NET_ADMIN and CAP_SYS_ADMIN are effective"
	case net:
		return true, "not root, CAP_NET_ADMIN is effective (enough without a namespace; `ip netns` also needs CAP_SYS_ADMIN)"
	default:
		return false, "tapsetup: not root and no CAP_NET_ADMIN: run with sudo, or print the commands and run them with sudo"
	}
}

// effectiveCaps reads CapEff from /proc/self/status.
func effectiveCaps() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

// shellQuote returns s unchanged when a POSIX shell would read it as one
// word with no expansion, else single-quoted.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !nameChar(r) && !strings.ContainsRune(":/=@+,%", r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
