package cli

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/trace"
)

// readTrace analyses a pcap written by simboard with the trace package and
// fails the test when it is damaged or cut short (not flushed).
func readTrace(t *testing.T, path string) *trace.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("pcap: %v", err)
	}
	defer f.Close()
	rep, err := trace.Analyze(f, trace.Options{MaxEvents: -1})
	if err != nil {
		t.Fatalf("trace.Analyze(%s) = %v: the pcap was not flushed and closed", path, err)
	}
	return rep
}

// smtpFlow returns the one SMTP flow of rep.
func smtpFlow(t *testing.T, rep *trace.Report) *trace.Flow {
	t.Helper()
	var flows []*trace.Flow
	for _, f := range rep.Flows {
		if f.Protocol == trace.ProtoSMTP {
			flows = append(flows, f)
		}
	}
	if len(flows) != 1 {
		t.Fatalf("pcap has %d SMTP flows, want 1", len(flows))
	}
	return flows[0]
}

// assertNoEndOfData checks that the board never finished the message: the
// body in the trace ends with the capture, and no reply follows it.
func assertNoEndOfData(t *testing.T, fl *trace.Flow) {
	t.Helper()
	sawData := false
	for i, e := range fl.Events {
		if e.Kind != trace.KindData {
			continue
		}
		sawData = true
		if !strings.Contains(e.Note, "capture ended before the end of the message") {
			t.Errorf("the board ended the message (a '.' went on the wire): event %+v", e)
		}
		for _, after := range fl.Events[i+1:] {
			if after.From == trace.Server && after.Code == 250 {
				t.Errorf("the server accepted the message after it: %+v", after)
			}
		}
	}
	if !sawData {
		t.Errorf("no DATA body in the trace: events %+v", fl.Events)
	}
}

// start runs simboard with stdin from a pipe the test holds open and
// stderr read line by line; it returns the command, the stdin writer and
// a channel of stderr lines (closed at EOF).
func start(t *testing.T, env []string, args ...string) (*exec.Cmd, io.WriteCloser, <-chan string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, stdin, lines, &stdout
}

// waitLine reads lines until one contains want, and returns all read.
func waitLine(t *testing.T, lines <-chan string, want string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stderr ended before %q:\n%s", want, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, want) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no %q on stderr within 60 s:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

func drain(lines <-chan string) []string {
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	return rest
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return 0
}

// TestInterruptFlushesPcap: SIGINT or SIGTERM in the middle of a send (the
// body half written, the board in DATA) stops the run: exit 130, the pcap
// flushed and closed (the trace package reads it whole), no end of data
// on the wire, the board's pools checked on close.
func TestInterruptFlushesPcap(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "send.pcap")
			cmd, stdin, lines, _ := start(t, []string{"SIMBOARD_PASSWORD=pw"}, "send", "--user", "alice", "--to", "bob@simboard.test",
				"--tls", "off", "--body", "-", "--transcript", "--pcap", pcap)
			if _, err := io.WriteString(stdin, strings.Repeat("a line of the body, written before the signal\r\n", 2000)); err != nil {
				t.Fatal(err)
			}
			waitLine(t, lines, "S: 354")
			time.Sleep(200 * time.Millisecond) // let the written part reach the wire
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest := drain(lines)
			code := exitCode(t, cmd.Wait())
			stdin.Close()
			if code != 130 {
				t.Fatalf("exit %d after %v, want 130; stderr tail:\n%s", code, sig, strings.Join(rest, "\n"))
			}
			msg := strings.Join(rest, "\n")
			if !strings.Contains(msg, "interrupted by "+map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]) {
				t.Errorf("stderr does not say it was interrupted:\n%s", msg)
			}
			fl := smtpFlow(t, readTrace(t, pcap))
			assertNoEndOfData(t, fl)
		})
	}
}

// TestInterruptDemo: SIGINT during the demo's long transfer exits 130 with
// a readable pcap.
func TestInterruptDemo(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "demo.pcap")
	cmd, stdin, lines, _ := start(t, nil, "demo", "--body-size", "50000000", "--rate", "20M", "--pcap", pcap, "--log-level", "debug")
	defer stdin.Close()
	waitLine(t, lines, "mailhost: smtp session")
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go drain(lines)
	start := time.Now()
	if code := exitCode(t, cmd.Wait()); code != 130 {
		t.Fatalf("demo: exit %d after SIGINT, want 130", code)
	}
	t.Logf("demo stopped %v after SIGINT", time.Since(start))
	rep := readTrace(t, pcap)
	if rep.TCP.Flows < 1 {
		t.Errorf("pcap has no TCP flow: %+v", rep.TCP)
	}
}

// TestSendStdinTimeout: `(sleep 8) | simboard send --body - --timeout 2s`
// ends at about 2 s, not when stdin closes, with no end of data ('.') on
// the wire.
func TestSendStdinTimeout(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "send.pcap")
	begin := time.Now()
	cmd, stdin, lines, _ := start(t, nil, "send", "--to", "bob@simboard.test", "--tls", "off", "--body", "-", "--timeout", "2s", "--pcap", pcap)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(8 * time.Second):
		stdin.Close()
		t.Fatalf("send still running 8 s after start (stdin open): the --timeout 2s did not end it")
	}
	elapsed := time.Since(begin)
	stdin.Close()
	rest := drain(lines)
	code := exitCode(t, err)
	if msg := strings.Join(rest, "\n"); code != 1 || !strings.Contains(msg, "--timeout 2s reached") {
		t.Errorf("exit %d, want 1 saying --timeout 2s was reached; stderr:\n%s", code, msg)
	}
	if elapsed > 6*time.Second {
		t.Errorf("send took %v with --timeout 2s", elapsed)
	}
	t.Logf("send ended after %v", elapsed)
	assertNoEndOfData(t, smtpFlow(t, readTrace(t, pcap)))
}

// TestInterruptTrace: SIGINT while trace waits for more of its input (a
// FIFO a capture is still being written to) exits 130 at once.
func TestInterruptTrace(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(binary, "trace", fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	defer w.Close()
	// A pcap header, then nothing: trace blocks in read.
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if _, err := w.Write(hdr); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(t, err); code != 130 || !strings.Contains(stderr.String(), "interrupted by SIGINT") {
			t.Errorf("trace: exit %d, stderr %q; want 130, interrupted", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("trace still running 10 s after SIGINT")
	}
}
