//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func nsListed(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// exits reports whether pid terminates (is gone or a zombie) within 5 s.
// SIGKILL is asynchronous, so this polls; it is not a timing assertion.
func exits(pid int) bool {
	for range 500 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func TestNewInvalidName(t *testing.T) {
	for _, name := range []string{"", "a b", "x/y", strings.Repeat("n", 33)} {
		t.Run(name, func(t *testing.T) {
			if ns, err := New(name); err == nil {
				ns.Close()
				t.Fatalf("New(%q) = nil error, want invalid name", name)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	if ok, why := Available(); !ok {
		if os.Getenv("SIMBOARD_REQUIRE_NETNS") == "1" {
			t.Fatalf("SIMBOARD_REQUIRE_NETNS=1 but netns is unavailable: %s", why)
		}
		t.Skipf("netns unavailable: %s", why)
	}
	ns, err := New("life")
	if err != nil {
		t.Fatalf("New(life) = %v", err)
	}
	if !strings.HasPrefix(ns.Name(), Prefix+"life-") {
		t.Errorf("Name() = %q, want prefix %q", ns.Name(), Prefix+"life-")
	}
	if !nsListed(t, ns.Name()) {
		t.Fatalf("ip netns list does not show %s after New", ns.Name())
	}
	out, err := ns.Output(context.Background(), "ip", "-o", "link", "show", "lo")
	if err != nil {
		t.Fatalf("Output(ip link show lo) = %v", err)
	}
	if !strings.Contains(string(out), "LOWER_UP") {
		t.Errorf("lo inside %s is not up: %s", ns.Name(), out)
	}

	// A long-running process started in the namespace is killed by Close,
	// and so is one started there by someone else (a grandchild).
	cmd := ns.Command(context.Background(), "sh", "-c", "sleep 1000 & echo ready; exec sleep 1000")
	out2, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("Command(sh).Start() = %v", err)
	}
	if _, err := bufio.NewReader(out2).ReadString('\n'); err != nil {
		t.Fatalf("waiting for the command to run: %v", err)
	}
	pids, err := exec.Command("ip", "netns", "pids", ns.Name()).Output()
	if err != nil || len(strings.Fields(string(pids))) != 2 {
		t.Fatalf("ip netns pids = %q, %v, want 2 processes", pids, err)
	}
	if err := ns.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("sleep after Close: Wait() = %v, want killed by SIGKILL", err)
	}
	for _, f := range strings.Fields(string(pids)) {
		pid, _ := strconv.Atoi(f)
		if !exits(pid) {
			t.Errorf("process %d from the namespace still alive after Close", pid)
		}
	}
	if nsListed(t, ns.Name()) {
		t.Errorf("ip netns list still shows %s after Close", ns.Name())
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if err := ns.Do(func() error { return nil }); err == nil {
		t.Errorf("Do after Close = nil, want error")
	}
}

func TestRunError(t *testing.T) {
	ns := ForTest(t, "run")
	err := ns.Run(context.Background(), "ip", "link", "set", "nosuchdev0", "up")
	if err == nil {
		t.Fatalf("Run(ip link set nosuchdev0 up) = nil, want error")
	}
	if !strings.Contains(err.Error(), "nosuchdev0") || !strings.Contains(strings.ToLower(err.Error()), "cannot find device") {
		t.Errorf("Run error %q lacks the command line or ip's output", err)
	}
	if err := ns.Run(context.Background()); err == nil {
		t.Errorf("Run() with no command = nil, want error")
	}
}

// TestDo shows that Do runs in the namespace, that a socket opened inside
// stays there, and that the caller's namespace is untouched afterwards.
func TestDo(t *testing.T) {
	ns := ForTest(t, "do")
	hostIfs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	err = ns.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" {
			t.Errorf("inside Do: interfaces = %v, want only lo", ifs)
		}
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatalf("Do(listen) = %v", err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	// From the host namespace the listener is unreachable…
	if c, err := net.Dial("tcp4", addr); err == nil {
		c.Close()
		t.Errorf("Dial(%s) from the host namespace succeeded, want connection refused", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Dial(%s) from the host namespace = %v, want ECONNREFUSED", addr, err)
	}
	// …but reachable from a process inside it.
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	if err := ns.Run(context.Background(), "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port); err != nil {
		t.Errorf("connect from inside the namespace: %v", err)
	}
	if err := <-accepted; err != nil {
		t.Errorf("Accept() = %v", err)
	}

	after, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(hostIfs) {
		t.Errorf("host interfaces after Do = %d, want %d (the caller's namespace changed)", len(after), len(hostIfs))
	}

	wantErr := errors.New("boom")
	if err := ns.Do(func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Errorf("Do(return boom) = %v, want boom", err)
	}
}

func TestAddTAP(t *testing.T) {
	ns := ForTest(t, "addtap")
	ctx := context.Background()
	for _, bad := range []string{"192.0.2.1/24", "10.0.0.1/24", "2001:db9::1/64"} {
		if err := ns.AddTAP(ctx, "tapbad", netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("AddTAP(tapbad, %s) = nil, want refusal", bad)
		}
	}
	if err := ns.AddTAP(ctx, "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatalf("AddTAP(tap0, 198.51.100.1/24) = %v", err)
	}
	out, err := ns.Output(ctx, "ip", "-o", "addr", "show", "dev", "tap0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "198.51.100.1/24") {
		t.Errorf("tap0 addresses = %s, want 198.51.100.1/24", out)
	}
	// The device and its address exist only inside the namespace.
	hostAddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range hostAddrs {
		if strings.HasPrefix(a.String(), "198.51.100.1/") {
			t.Errorf("198.51.100.1 is visible in the host namespace: %v", hostAddrs)
		}
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"198.51.100.1", true},
		{"198.51.100.254", true},
		{"2001:db8::2", true},
		{"::ffff:198.51.100.2", true},
		{"192.0.2.1", false},
		{"198.51.101.1", false},
		{"2001:db8:0:1::2", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if got := Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Allowed(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
