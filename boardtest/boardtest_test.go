package boardtest

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// recTB records what RequireTools does instead of doing it.
type recTB struct {
	testing.TB
	skipped, failed string
}

func (r *recTB) Helper() {}
func (r *recTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runRequire(t *testing.T, names ...string) *recTB {
	r := &recTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		RequireTools(r, names...)
	}()
	<-done
	return r
}

// TestRequireToolsSkipsWithReason is issue 9 §4 "test hygiene": on a machine
// without ping (here: an empty PATH) a TAP test skips and names the missing
// tool and how to install it; under SIMBOARD_REQUIRE_NETNS=1 (CI) the same
// machine fails the test instead; with the tool present nothing happens.
func TestRequireToolsSkipsWithReason(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireNetNSEnv, "")
	if got := MissingTools("ping", "simboard-no-such-tool"); len(got) != 2 {
		t.Fatalf("MissingTools(ping, simboard-no-such-tool) with an empty PATH = %q, want both", got)
	}
	r := runRequire(t, "ping")
	if r.failed != "" || !strings.Contains(r.skipped, "missing ping") || !strings.Contains(r.skipped, "test-deps.sh") {
		t.Errorf("RequireTools(ping) without ping: skipped %q, failed %q; want a skip naming ping and the install script", r.skipped, r.failed)
	}
	t.Setenv(RequireNetNSEnv, "1")
	r = runRequire(t, "ping")
	if r.skipped != "" || !strings.Contains(r.failed, "missing ping") || !strings.Contains(r.failed, RequireNetNSEnv+"=1") {
		t.Errorf("RequireTools(ping) without ping under %s=1: skipped %q, failed %q; want a failure", RequireNetNSEnv, r.skipped, r.failed)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	if MissingTools("sh") != nil {
		t.Skip("no sh in /usr/bin or /bin")
	}
	if r = runRequire(t, "sh"); r.skipped != "" || r.failed != "" {
		t.Errorf("RequireTools(sh) with sh installed: skipped %q, failed %q; want neither", r.skipped, r.failed)
	}
}

// TestFailMidwayLeaksNothing is issue 9 §4 "no goroutine leak when a test
// fails": it runs a test (in a child process, so that its failure is data
// here) that boots two boards, opens a connection with a blocked reader and
// then fails. The boards must be closed by their cleanups and the leak and
// pool checks must run after them and find nothing.
func TestFailMidwayLeaksNothing(t *testing.T) {
	if os.Getenv("BOARDTEST_FAIL_MIDWAY") == "1" {
		failMidway(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailMidwayLeaksNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BOARDTEST_FAIL_MIDWAY=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child test passed, want its deliberate failure:\n%s", out)
	}
	for _, want := range []string{"deliberate failure midway", "--- FAIL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"goroutines leaked", "free ", "invalid releases"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("child output reports %q after failing midway:\n%s", bad, out)
		}
	}
}

func failMidway(t *testing.T) {
	CheckGoroutines(t)
	client, server := Pair(t, Options{Count: 32})
	ln, err := server.IP.ListenTCP(80)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c) // blocked until the client's IP goes
			c.Close()
		}
	}()
	conn, err := client.IP.DialTCP(context.Background(), netip.AddrPortFrom(server.Addr, 80))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(make([]byte, 8192)); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("deliberate failure midway (connection open, reader blocked)")
}
