package tapsetup

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func args(s string) []string { return strings.Fields(s) }

func stepArgs(steps []Step) [][]string {
	var out [][]string
	for _, s := range steps {
		out = append(out, s.Args)
	}
	return out
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want [][]string
	}{
		{
			name: "defaults",
			opts: Options{User: "alice"},
			want: [][]string{
				args("ip tuntap add dev tap0 mode tap user alice"),
				args("ip addr add 198.51.100.1/24 dev tap0"),
				args("ip -6 addr add 2001:db8::1/64 dev tap0 nodad"),
				args("ip link set tap0 up"),
			},
		},
		{
			name: "custom",
			opts: Options{Name: "sb1", User: "1000", HostAddr: netip.MustParsePrefix("10.9.0.1/16"), HostAddr6: netip.MustParsePrefix("2001:db8:5::1/64")},
			want: [][]string{
				args("ip tuntap add dev sb1 mode tap user 1000"),
				args("ip addr add 10.9.0.1/16 dev sb1"),
				args("ip -6 addr add 2001:db8:5::1/64 dev sb1 nodad"),
				args("ip link set sb1 up"),
			},
		},
		{
			name: "no IPv6",
			opts: Options{User: "alice", NoIPv6: true},
			want: [][]string{
				args("ip tuntap add dev tap0 mode tap user alice"),
				args("ip addr add 198.51.100.1/24 dev tap0"),
				args("sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1"),
				args("ip link set tap0 up"),
			},
		},
		{
			name: "new namespace",
			opts: Options{User: "alice", Netns: "board1"},
			want: [][]string{
				args("ip netns add board1"),
				args("ip netns exec board1 ip link set lo up"),
				args("ip netns exec board1 ip tuntap add dev tap0 mode tap user alice"),
				args("ip netns exec board1 ip addr add 198.51.100.1/24 dev tap0"),
				args("ip netns exec board1 ip -6 addr add 2001:db8::1/64 dev tap0 nodad"),
				args("ip netns exec board1 ip link set tap0 up"),
			},
		},
		{
			name: "existing namespace",
			opts: Options{User: "alice", Netns: "board1", NetnsExists: true},
			want: [][]string{
				args("ip netns exec board1 ip tuntap add dev tap0 mode tap user alice"),
				args("ip netns exec board1 ip addr add 198.51.100.1/24 dev tap0"),
				args("ip netns exec board1 ip -6 addr add 2001:db8::1/64 dev tap0 nodad"),
				args("ip netns exec board1 ip link set tap0 up"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := Plan(tt.opts)
			if got := stepArgs(steps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan(%+v) =\n%q\nwant\n%q", tt.opts, got, tt.want)
			}
			for i, s := range steps {
				if s.Why == "" {
					t.Errorf("Plan(%+v)[%d].Why is empty", tt.opts, i)
				}
			}
		})
	}
}

func TestTeardown(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want [][]string
	}{
		{"host namespace", Options{User: "alice"}, [][]string{args("ip tuntap del dev tap0 mode tap")}},
		{"new namespace", Options{User: "alice", Name: "t1", Netns: "b"}, [][]string{
			args("ip netns exec b ip tuntap del dev t1 mode tap"),
			args("ip netns del b"),
		}},
		{"existing namespace", Options{User: "alice", Netns: "b", NetnsExists: true}, [][]string{
			args("ip netns exec b ip tuntap del dev tap0 mode tap"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stepArgs(Teardown(tt.opts)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Teardown(%+v) = %q, want %q", tt.opts, got, tt.want)
			}
		})
	}
}

func TestDefaultUser(t *testing.T) {
	t.Setenv("SUDO_USER", "carol")
	steps := Plan(Options{})
	if len(steps) == 0 {
		t.Fatalf("Plan(Options{}) = nil, Validate() = %v", Options{}.Validate())
	}
	if got, want := steps[0].Args, args("ip tuntap add dev tap0 mode tap user carol"); !reflect.DeepEqual(got, want) {
		t.Errorf("Plan(Options{}) with SUDO_USER=carol: first step %q, want %q", got, want)
	}
}

func TestValidate(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; "" = valid
	}{
		{"defaults", Options{User: "alice"}, ""},
		{"uid", Options{User: "1000"}, ""},
		{"10.x", Options{User: "a", HostAddr: p("10.1.2.3/8")}, ""},
		{"point to point", Options{User: "a", HostAddr: p("10.0.0.0/31")}, ""},
		{"test-net-1", Options{User: "a", HostAddr: p("192.0.2.1/24")}, "real uplink"},
		{"test-net-1 host route", Options{User: "a", HostAddr: p("192.0.2.77/32")}, "192.0.2.0/24"},
		{"supernet of test-net-1", Options{User: "a", HostAddr: p("192.0.0.1/16")}, "overlaps 192.0.2.0/24"},
		{"v6 as v4", Options{User: "a", HostAddr: p("2001:db8::1/64")}, "not an IPv4"},
		{"v4 as v6", Options{User: "a", HostAddr6: p("198.51.100.1/24")}, "not an IPv6"},
		{"v4-mapped as v6", Options{User: "a", HostAddr6: p("::ffff:198.51.100.1/120")}, "not an IPv6"},
		{"v6 ignored when off", Options{User: "a", NoIPv6: true, HostAddr6: p("198.51.100.1/24")}, ""},
		{"network address", Options{User: "a", HostAddr: p("198.51.100.0/24")}, "network address"},
		{"broadcast address", Options{User: "a", HostAddr: p("198.51.100.255/24")}, "broadcast"},
		{"loopback", Options{User: "a", HostAddr: p("127.0.0.2/8")}, "not a usable"},
		{"link-local v6", Options{User: "a", HostAddr6: p("fe80::1/64")}, "not a usable"},
		{"name semicolon", Options{User: "a", Name: "tap0;reboot"}, `contains ';'`},
		{"name space", Options{User: "a", Name: "tap 0"}, `contains ' '`},
		{"name dollar", Options{User: "a", Name: "tap$X"}, `contains '$'`},
		{"name backtick", Options{User: "a", Name: "t`id`"}, "contains '`'"},
		{"name too long", Options{User: "a", Name: "abcdefghijklmnop"}, "at most 15"},
		{"name option", Options{User: "a", Name: "-all"}, "starts with '-'"},
		{"name dotdot", Options{User: "a", Name: ".."}, "not allowed"},
		{"user quote", Options{User: "al'ice"}, `contains '\''`},
		{"user newline", Options{User: "alice\nid"}, `contains '\n'`},
		{"netns pipe", Options{User: "a", Netns: "x|y"}, `contains '|'`},
		{"netns ampersand", Options{User: "a", Netns: "x&"}, `contains '&'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("%+v.Validate() = %v, want nil", tt.opts, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("%+v.Validate() = %v, want error containing %q", tt.opts, err, tt.wantErr)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "tapsetup: ") {
					t.Errorf("%+v.Validate() = %q, want the tapsetup: prefix", tt.opts, err)
				}
				if s := Plan(tt.opts); s != nil {
					t.Errorf("Plan(%+v) = %v for invalid options, want nil", tt.opts, s)
				}
				if s := Teardown(tt.opts); s != nil {
					t.Errorf("Teardown(%+v) = %v for invalid options, want nil", tt.opts, s)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, Plan(Options{User: "alice", Netns: "nb"})); err != nil {
		t.Fatalf("Render() = %v", err)
	}
	want := `# These commands need root (CAP_NET_ADMIN): run them as shown with sudo, or from a root shell without it.
# create the network namespace nb to hold the TAP
sudo ip netns add nb
# bring up the namespace's loopback (a new namespace starts with it down)
sudo ip netns exec nb ip link set lo up
# create the persistent TAP tap0, which alice may open without root
sudo ip netns exec nb ip tuntap add dev tap0 mode tap user alice
# give the host side of tap0 its IPv4 address
sudo ip netns exec nb ip addr add 198.51.100.1/24 dev tap0
# give the host side of tap0 its IPv6 address, usable at once (nodad: the TAP has no carrier until a board attaches)
sudo ip netns exec nb ip -6 addr add 2001:db8::1/64 dev tap0 nodad
# bring tap0 up (it shows NO-CARRIER until a board opens it)
sudo ip netns exec nb ip link set tap0 up
`
	if got := b.String(); got != want {
		t.Errorf("Render(Plan(...)) =\n%s\nwant\n%s", got, want)
	}
	if err := Render(&b, nil); err == nil {
		t.Errorf("Render(nil) = nil, want an error for an empty plan")
	}
	if err := Render(failWriter{}, Plan(Options{User: "a"})); err == nil {
		t.Errorf("Render(failing writer) = nil, want the write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tap0", "tap0"},
		{"2001:db8::1/64", "2001:db8::1/64"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(reboot)", "'$(reboot)'"},
		{"a;b", "'a;b'"},
		{"x\ny", "'x\ny'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	s := Step{Args: []string{"ip", "link", "set", "a b", "up"}}
	if got, want := s.String(), "ip link set 'a b' up"; got != want {
		t.Errorf("Step.String() = %s, want %s", got, want)
	}
}

// fakeRunner records commands and fails the one whose index is failAt.
type fakeRunner struct {
	ran    [][]string
	failAt int
}

func (f *fakeRunner) run(_ context.Context, a []string) error {
	f.ran = append(f.ran, append([]string(nil), a...))
	if len(f.ran)-1 == f.failAt {
		return errors.New("exit status 2: RTNETLINK answers: File exists")
	}
	return nil
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	plan := Plan(Options{User: "alice", Netns: "nb"})

	t.Run("all steps in order", func(t *testing.T) {
		f := &fakeRunner{failAt: -1}
		if err := Apply(ctx, plan, f.run); err != nil {
			t.Fatalf("Apply(plan) = %v", err)
		}
		if want := stepArgs(plan); !reflect.DeepEqual(f.ran, want) {
			t.Errorf("Apply ran %q, want %q", f.ran, want)
		}
	})

	t.Run("stops at first failure", func(t *testing.T) {
		f := &fakeRunner{failAt: 2}
		err := Apply(ctx, plan, f.run)
		var se *StepError
		if !errors.As(err, &se) {
			t.Fatalf("Apply(plan) = %v, want a *StepError", err)
		}
		if se.Index != 2 || !reflect.DeepEqual(se.Step, plan[2]) {
			t.Errorf("StepError = {Index %d, Step %v}, want {2, %v}", se.Index, se.Step, plan[2])
		}
		if len(f.ran) != 3 {
			t.Errorf("Apply ran %d commands after a failure at step 3, want 3", len(f.ran))
		}
		if !strings.Contains(err.Error(), "step 3 (ip netns exec nb ip tuntap add") || !strings.Contains(err.Error(), "File exists") {
			t.Errorf("Apply error = %q, want the step number, command and cause", err)
		}
	})

	t.Run("cancelled context runs nothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		f := &fakeRunner{failAt: -1}
		if err := Apply(cctx, plan, f.run); !errors.Is(err, context.Canceled) {
			t.Errorf("Apply(cancelled) = %v, want context.Canceled", err)
		}
		if len(f.ran) != 0 {
			t.Errorf("Apply(cancelled) ran %q, want nothing", f.ran)
		}
	})

	t.Run("teardown tries every step", func(t *testing.T) {
		f := &fakeRunner{failAt: 0}
		down := Teardown(Options{User: "alice", Netns: "nb"})
		err := Apply(ctx, down, f.run)
		if want := stepArgs(down); !reflect.DeepEqual(f.ran, want) {
			t.Errorf("Apply(Teardown) ran %q, want %q", f.ran, want)
		}
		var se *StepError
		if !errors.As(err, &se) || se.Index != 0 {
			t.Errorf("Apply(Teardown) = %v, want the first step's *StepError", err)
		}
	})

	t.Run("empty plan", func(t *testing.T) {
		f := &fakeRunner{failAt: -1}
		if err := Apply(ctx, Plan(Options{User: "a", Name: "bad name"}), f.run); err == nil {
			t.Errorf("Apply(Plan(invalid)) = nil, want an error")
		}
	})

	refused := []struct {
		name string
		step Step
	}{
		{"forbidden prefix", Step{Args: args("ip addr add 192.0.2.5/24 dev tap0")}},
		{"forbidden address", Step{Args: args("ip route add 10.0.0.0/8 via 192.0.2.1")}},
		{"forbidden supernet", Step{Args: args("ip route add 192.0.0.0/16 dev tap0")}},
		{"shell metacharacter", Step{Args: []string{"ip", "link", "set", "tap0;reboot", "up"}}},
		{"other program", Step{Args: args("sh -c true")}},
		{"empty", Step{}},
		{"empty argument", Step{Args: []string{"ip", ""}}},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			f := &fakeRunner{failAt: -1}
			steps := []Step{plan[0], tt.step}
			err := Apply(ctx, steps, f.run)
			var se *StepError
			if !errors.As(err, &se) || se.Index != 1 {
				t.Fatalf("Apply(%q) = %v, want a *StepError at index 1", tt.step.Args, err)
			}
			if len(f.ran) != 1 {
				t.Errorf("Apply ran %q, want only the first step", f.ran)
			}
		})
	}
}

func TestCheckPrivileged(t *testing.T) {
	ok, why := CheckPrivileged()
	if why == "" {
		t.Fatalf("CheckPrivileged() = %v, %q: want an explanation", ok, why)
	}
	_, tunErr := os.Stat("/dev/net/tun")
	if os.Geteuid() == 0 && tunErr == nil && !ok {
		t.Errorf("CheckPrivileged() = false, %q as root with /dev/net/tun present, want true", why)
	}
	if tunErr != nil && ok {
		t.Errorf("CheckPrivileged() = true, %q without /dev/net/tun, want false", why)
	}
}

// FuzzPlan checks that whatever names and addresses Validate accepts give a
// plan that Apply's own checks accept and that prints without quoting, and
// that nothing inside 192.0.2.0/24 is ever accepted.
func FuzzPlan(f *testing.F) {
	f.Add("tap0", "alice", "", "198.51.100.1/24", "2001:db8::1/64", false)
	f.Add("t;x", "bob", "ns1", "192.0.2.1/24", "", true)
	f.Add("sb", "1000", "n.s-1", "192.0.0.1/8", "fe80::1/64", false)
	f.Fuzz(func(t *testing.T, name, usr, ns, addr, addr6 string, noV6 bool) {
		o := Options{Name: name, User: usr, Netns: ns, NoIPv6: noV6}
		if p, err := netip.ParsePrefix(addr); err == nil {
			o.HostAddr = p
		}
		if p, err := netip.ParsePrefix(addr6); err == nil {
			o.HostAddr6 = p
		}
		plan, down := Plan(o), Teardown(o)
		if err := o.Validate(); err != nil {
			if plan != nil || down != nil {
				t.Fatalf("Plan/Teardown(%+v) non-nil although Validate() = %v", o, err)
			}
			return
		}
		if o.withDefaults().HostAddr.Overlaps(forbidden) {
			t.Fatalf("Validate accepted %v", o.HostAddr)
		}
		if plan == nil || down == nil {
			t.Fatalf("Plan/Teardown(%+v) = nil for valid options", o)
		}
		for _, s := range slices.Concat(plan, down) {
			if err := checkStep(s); err != nil {
				t.Fatalf("checkStep(%q) = %v for a step of a valid plan", s.Args, err)
			}
			for _, a := range s.Args {
				if shellQuote(a) != a {
					t.Fatalf("argument %q of a valid plan needs shell quoting", a)
				}
			}
		}
	})
}
