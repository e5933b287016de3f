package interop

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// captureWait bounds how long the capture may take to start or to stop.
const captureWait = 30 * time.Second

// Capture is a packet capture running inside the namespace.
//
// It is tcpdump, not tshark: dumpcap (tshark's capture engine) reads the TPACKET_V3
// ring in blocks that are only handed over on a timeout, and stopping it drops the
// block in progress. Short captures, which ours are, came back with 0 packets.
// tcpdump --immediate-mode -U hands over and writes every packet at once
// (../shared/reference/testenv.md §5 saw the same with plain -U). tshark decodes.
type Capture struct {
	Path string // the pcap file

	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	stop   sync.Once
	err    error
}

// StartCapture starts tcpdump on iface inside the namespace with the capture (BPF)
// filter ("" = everything) and returns once it is capturing. The capture stops at the
// end of the test if Stop was not called. iface is "lo" for kernel-side traffic and
// env.TAP for the board's.
func (e *Env) StartCapture(t testing.TB, iface, filter string) *Capture {
	t.Helper()
	requireTools(t, "tcpdump", "tshark")
	bin, _ := lookTool("tcpdump")
	c := &Capture{Path: filepath.Join(t.TempDir(), iface+".pcap"), done: make(chan struct{})}
	args := []string{"-n", "--immediate-mode", "-U", "-Z", "root", "-i", iface, "-w", c.Path}
	if filter != "" {
		args = append(args, filter)
	}
	c.cmd = exec.Command("ip", append([]string{"netns", "exec", e.NS.Name(), bin}, args...)...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatalf("interop: StartCapture: %v", err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("interop: StartCapture: start tcpdump: %v", err)
	}
	capturing := make(chan struct{})
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(pipe)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.stderr.WriteString(line + "\n")
			c.mu.Unlock()
			// Printed after pcap_activate: from here on the kernel queues packets for us.
			if strings.Contains(line, "listening on ") {
				once.Do(func() { close(capturing) })
			}
		}
		c.err = c.cmd.Wait()
	}()
	t.Cleanup(func() { c.Stop(t) })
	select {
	case <-capturing:
		return c
	case <-c.done:
		t.Fatalf("interop: tcpdump exited before capturing: %v\n%s", c.err, c.output())
	case <-time.After(captureWait):
		t.Fatalf("interop: tcpdump not capturing after %v\n%s", captureWait, c.output())
	}
	return nil
}

func (c *Capture) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

// Stop ends the capture and returns the file's path. Call it after the traffic of
// interest has been seen by the peer (e.g. after reading QUIT's reply). It first lets
// tcpdump drain: it waits until the file has stopped growing for 150 ms (at most 3 s),
// then sends SIGTERM. Idempotent.
func (c *Capture) Stop(t testing.TB) string {
	t.Helper()
	c.stop.Do(func() {
		var last int64 = -1
		stable := 0
		for deadline := time.Now().Add(3 * time.Second); stable < 3 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			var size int64
			if st, err := os.Stat(c.Path); err == nil {
				size = st.Size()
			}
			if size == last {
				stable++
			} else {
				stable, last = 0, size
			}
		}
		// SIGTERM, not SIGINT: a process started in the background by a
		// non-interactive shell inherits SIGINT ignored.
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(captureWait):
			_ = c.cmd.Process.Kill()
			<-c.done
			t.Errorf("interop: tcpdump ignored SIGTERM for %v; killed\n%s", captureWait, c.output())
		}
	})
	return c.Path
}

// Tshark reads a capture file with a display filter and returns, per matching packet,
// the values of the fields (several occurrences joined with ","). It runs inside the
// namespace with name resolution off. Use it on a Capture's file or on the board's own
// pcap (driver.Capture). Non-standard ports need decodeAs, e.g. "tcp.port==2525,smtp".
func (e *Env) Tshark(t testing.TB, path, filter string, fields []string, decodeAs ...string) [][]string {
	t.Helper()
	requireTools(t, "tshark")
	bin, _ := lookTool("tshark")
	args := []string{bin, "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, d := range decodeAs {
		args = append(args, "-d", d)
	}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), captureWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", e.NS.Name()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("interop: tshark -r %s -Y %q: %v\n%s", path, filter, err, stderr.Bytes())
	}
	var rows [][]string
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

// column returns the non-empty values of field i.
func column(rows [][]string, i int) []string {
	var col []string
	for _, r := range rows {
		if i < len(r) && r[i] != "" {
			col = append(col, r[i])
		}
	}
	return col
}

// countValues counts each distinct value.
func countValues(vals []string) map[string]int {
	m := map[string]int{}
	for _, v := range vals {
		m[v]++
	}
	return m
}

func TestTsharkDecodesKernelSessions(t *testing.T) {
	env := startEnv(t)
	capture := env.StartCapture(t, "lo", "tcp port 25 or tcp port 587 or tcp port 110")
	u := env.NewUser(t)

	c := kernelSMTP(t, env, env.Submission)
	if err := c.Auth(&classicLogin{u.Name, u.Password}); err != nil {
		t.Fatalf("Auth() = %v", err)
	}
	msg := testMessage(u.Addr, u.Addr, "tshark", []byte("captured\r\n"))
	if err := c.SendMail(u.Addr, []string{u.Addr}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("SendMail() = %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit() = %v", err)
	}
	env.WaitMail(t, u, "tshark")

	p := kernelPOP3(t, env, env.POP3)
	p.ok("APOP %s %s", u.Name, apopDigest(p.greeting, u.Password))
	p.ok("STAT")
	p.lines("UIDL")
	p.multi("TOP 1 0")
	p.multi("RETR 1")
	p.ok("QUIT")
	// The client has read QUIT's reply: every command is on lo by now.
	path := capture.Stop(t)

	// One tshark run (each costs about a second of dissector loading).
	rows := env.Tshark(t, path, "smtp.req || smtp.response || pop.request",
		[]string{"smtp.req.command", "smtp.response.code", "pop.request.command", "ip.src"})
	smtpCmds, codes, popCmds := countValues(column(rows, 0)), countValues(column(rows, 1)), countValues(column(rows, 2))
	for _, want := range []string{"EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"} {
		if smtpCmds[want] == 0 {
			t.Errorf("tshark smtp.req.command = %v, missing %s", smtpCmds, want)
		}
	}
	for _, want := range []string{"220", "334", "235", "250", "354", "221"} {
		if codes[want] == 0 {
			t.Errorf("tshark smtp.response.code = %v, missing %s", codes, want)
		}
	}
	for _, want := range []string{"APOP", "STAT", "UIDL", "TOP", "RETR", "QUIT"} {
		if popCmds[want] == 0 {
			t.Errorf("tshark pop.request.command = %v, missing %s", popCmds, want)
		}
	}
	if srcs := countValues(column(rows, 3)); len(srcs) != 1 || srcs[env.HostAddr.String()] == 0 {
		t.Errorf("tshark ip.src = %v, want only %s", srcs, env.HostAddr)
	}
}

// TestNamespaceIsolation checks the safety rules of the environment itself: tap0 and
// the test addresses exist only inside the namespace, and mail cannot leave Postfix.
func TestNamespaceIsolation(t *testing.T) {
	env := startEnv(t)
	ctx := context.Background()
	out, err := env.NS.Output(ctx, "ip", "-o", "addr", "show", "dev", env.TAP)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{hostPrefix.String(), hostPrefix6.String()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ip addr show dev %s in the namespace = %q, want %s", env.TAP, out, want)
		}
	}
	host, err := exec.Command("ip", "-o", "addr", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"198.51.100.", "2001:db8::"} {
		if strings.Contains(string(host), bad) {
			t.Errorf("host namespace has a %s address:\n%s", bad, host)
		}
	}
	routes, err := env.NS.Output(ctx, "ip", "route", "show")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(routes), "default") {
		t.Errorf("namespace has a default route:\n%s", routes)
	}
	// Postfix's effective settings: nothing relays anywhere.
	postconf, err := lookTool("postconf")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := exec.Command(postconf, "-c", filepath.Join(env.Dir, "postfix", "conf"), "-h",
		"default_transport", "relay_transport", "relayhost").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(pc), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "error:") || !strings.HasPrefix(lines[1], "error:") || strings.TrimSpace(lines[2]) != "" {
		t.Errorf("postconf default_transport, relay_transport, relayhost = %q, want error:, error:, empty", lines)
	}
}
