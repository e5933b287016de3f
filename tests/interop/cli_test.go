package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/trace"
)

// The simboard program, built once for the CLI tests of this package.
var cliBinary struct {
	once sync.Once
	path string
	err  error
}

func simboardBinary(t *testing.T) string {
	t.Helper()
	cliBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "simboard-interop-cli-")
		if err != nil {
			cliBinary.err = err
			return
		}
		cliBinary.path = filepath.Join(dir, "simboard")
		out, err := exec.Command("go", "build", "-o", cliBinary.path, "github.com/simboard/simboard/cmd/simboard").CombinedOutput()
		if err != nil {
			cliBinary.err = fmt.Errorf("go build ./cmd/simboard: %v\n%s", err, out)
		}
	})
	if cliBinary.err != nil {
		t.Fatal(cliBinary.err)
	}
	t.Cleanup(func() {}) // the binary's directory goes with /tmp; it is small
	return cliBinary.path
}

// cliRun is one run of the simboard program on tap0 inside the namespace.
type cliRun struct {
	stdout, stderr string
	code           int
	pcap           string // the board's capture
}

// runCLI runs `simboard CMD --tap tap0 --ip <board> --server <host> --pcap P
// ARGS...` inside the namespace with the password in $SIMBOARD_PASSWORD,
// tap0 leased for the test.
func (e *Env) runCLI(t *testing.T, password, cmd string, args ...string) cliRun {
	t.Helper()
	bin := simboardBinary(t)
	tap := e.LeaseTAP(t)
	pcap := filepath.Join(t.TempDir(), cmd+".pcap")
	full := append([]string{"netns", "exec", e.NS.Name(), bin, cmd, "--tap", tap, "--ip", e.BoardPrefix.String(),
		"--server", e.HostAddr.String(), "--pcap", pcap, "--timeout", "60s"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "ip", full...)
	c.Env = append(os.Environ(), "SIMBOARD_PASSWORD="+password)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := cliRun{stdout: out.String(), stderr: errb.String(), pcap: pcap}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("simboard %s %v: %v", cmd, args, err)
	}
	return r
}

// caFile writes the environment's CA to a PEM file for --ca.
func (e *Env) caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, e.CACertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLITLSNamesPostfix: `simboard send --tls required --ca <test CA>`
// delivers into Postfix over verified STARTTLS (no skip-verify): the
// certificate is checked against the --server address (an IP SAN of the
// Postfix certificate) or --tls-server-name; a wrong name or a CA that does
// not sign it fails before AUTH, and nothing is delivered.
func TestCLITLSNamesPostfix(t *testing.T) {
	env := startEnv(t)
	ca := env.caFile(t)
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string // in the failure line
	}{
		{"server-ip-san", []string{"--ca", ca}, true, ""},
		{"tls-server-name", []string{"--ca", ca, "--tls-server-name", env.ServerName}, true, ""},
		{"wrong-name", []string{"--ca", ca, "--tls-server-name", "mail.simboard.test"}, false, "mail.simboard.test"},
		{"no-ca", nil, false, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := env.NewUser(t)
			subject := "cli tls " + tc.name
			args := append([]string{"--user", u.Name, "--to", u.Addr, "--subject", subject, "--tls", "required",
				"--transcript", "--json"}, tc.args...)
			r := env.runCLI(t, u.Password, "send", args...)
			t.Logf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			if !tc.ok {
				if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
					t.Fatalf("send %v: exit %d, want 1 with %q\n%s", tc.args, r.code, tc.want, r.stderr)
				}
				if strings.Contains(r.stderr, "C: AUTH") {
					t.Errorf("AUTH was sent after a failed verification:\n%s", r.stderr)
				}
				assertNoSecret(t, r.pcap, u.Name, u.Password)
				return
			}
			if r.code != 0 {
				t.Fatalf("send %v: exit %d\n%s\n%s", tc.args, r.code, r.stdout, r.stderr)
			}
			var res struct {
				Accepted bool   `json:"accepted"`
				TLS      bool   `json:"tls"`
				Server   string `json:"server"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Accepted || !res.TLS || res.Server != netip.AddrPortFrom(env.HostAddr, 587).String() {
				t.Errorf("send --json = %s (%v), want accepted over TLS via %v:587", r.stdout, err, env.HostAddr)
			}
			wantName := env.HostAddr.String()
			if len(tc.args) > 2 {
				wantName = tc.args[3]
			}
			if !strings.Contains(r.stderr, "server name "+wantName) {
				t.Errorf("transcript does not show TLS verified for %s:\n%s", wantName, r.stderr)
			}
			env.WaitMail(t, u, subject)
			assertNoSecret(t, r.pcap, u.Name, u.Password)
		})
	}
}

// TestCLITLSNamesDovecot: fetch from Dovecot with STLS verified against
// the --server address and the test CA.
func TestCLITLSNamesDovecot(t *testing.T) {
	env := startEnv(t)
	u := env.NewUser(t)
	env.Seed(t, u, []byte("Subject: cli stls\r\n\r\nverified\r\n"))
	r := env.runCLI(t, u.Password, "fetch", "--user", u.Name, "--tls", "required", "--ca", env.caFile(t), "--transcript")
	if r.code != 0 || !strings.Contains(r.stdout, "fetched 1 message(s)") {
		t.Fatalf("fetch --tls required --ca: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "C: STLS") {
		t.Errorf("no STLS in the transcript:\n%s", r.stderr)
	}
	assertNoSecret(t, r.pcap, u.Name, u.Password)
}

// secretForms: the password raw and in base64 at every alignment, so it is
// found inside AUTH PLAIN, AUTH LOGIN and XOAUTH2 blobs.
func secretForms(user, pass string) []string {
	forms := []string{pass}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, k), pass...))
		lo, hi := (8*k+5)/6, (8*(k+len(pass)))/6
		if hi-lo >= 8 {
			forms = append(forms, enc[lo:hi])
		}
	}
	return append(forms, base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)))
}

// assertNoSecret fails the test when the board's pcap holds the password
// in any form, or a trace of it shows a client AUTH, PASS or USER line.
func assertNoSecret(t *testing.T, pcap, user, pass string) {
	t.Helper()
	raw, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatalf("pcap: %v", err)
	}
	for _, f := range secretForms(user, pass) {
		if bytes.Contains(raw, []byte(f)) {
			t.Errorf("the password is on the wire (as %q) in %s", f, pcap)
		}
	}
}

// clientVerbs returns the client command verbs of every SMTP/POP3 flow in
// the pcap, read with the trace package.
func clientVerbs(t *testing.T, pcap string) []string {
	t.Helper()
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := trace.Analyze(f, trace.Options{MaxEvents: -1})
	if err != nil {
		t.Fatalf("trace.Analyze(%s) = %v", pcap, err)
	}
	var verbs []string
	for _, fl := range rep.Flows {
		for _, e := range fl.Events {
			if e.From == trace.Client && e.Kind == trace.KindCommand {
				verbs = append(verbs, e.Verb)
			}
		}
	}
	return verbs
}

// stripProxy is a man in the middle inside the namespace: it accepts on
// HostAddr:<port>, connects to upstream, and deletes server lines that
// match drop (and the token cut from AUTH lines), as an attacker stripping
// STARTTLS, STLS or a SASL mechanism would.
type stripProxy struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func (e *Env) startStripProxy(t *testing.T, upstream netip.AddrPort, drop func(line string) bool, cut string) netip.AddrPort {
	t.Helper()
	p := &stripProxy{}
	if err := e.NS.Do(func() error {
		var err error
		p.l, err = net.Listen("tcp", netip.AddrPortFrom(e.HostAddr, 0).String())
		return err
	}); err != nil {
		t.Fatalf("strip proxy: listen: %v", err)
	}
	t.Cleanup(func() {
		p.l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.l.Accept()
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			u, err := e.DialKernel(ctx, upstream)
			cancel()
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
			go func() {
				defer p.wg.Done()
				defer c.Close()
				br := bufio.NewReader(u)
				for {
					line, err := br.ReadString('\n')
					if line != "" && !drop(strings.TrimRight(line, "\r\n")) {
						if cut != "" && strings.Contains(strings.ToUpper(line), "AUTH") {
							line = strings.ReplaceAll(line, " "+cut, "")
						}
						if _, werr := io.WriteString(c, line); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return netip.MustParseAddrPort(p.l.Addr().String())
}

// TestCLIDowngradeRefused: downgrade attempts against Postfix and Dovecot
// are refused with a clear status, and no credential goes on the wire
// (checked in the board's pcap, raw and with the trace package).
func TestCLIDowngradeRefused(t *testing.T) {
	env := startEnv(t)
	stripSTARTTLS := func(l string) bool {
		return strings.HasSuffix(strings.ToUpper(l), "STARTTLS") && strings.HasPrefix(l, "250")
	}
	stripSTLS := func(l string) bool { return strings.EqualFold(l, "STLS") }
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name     string
		cmd      string
		upstream netip.AddrPort
		drop     func(string) bool
		cut      string
		args     []string
		want     []string // in the failure line
		noVerbs  []string // client verbs that must not appear
		// wrongPassword: the board is given a password the server
		// refuses; that password must not reach the wire either.
		wrongPassword bool
	}{
		{name: "postfix/starttls-stripped/required", cmd: "send", upstream: env.Submission, drop: stripSTARTTLS,
			args: []string{"--tls", "required"}, want: []string{"STARTTLS"}, noVerbs: []string{"AUTH", "MAIL"}},
		// An explicit mechanism the server does not offer is an error
		// naming the offered ones, even with clear text allowed: no
		// silent AUTH PLAIN instead.
		{name: "postfix/xoauth2-not-offered", cmd: "send", upstream: env.Submission, drop: none,
			args: []string{"--tls", "off", "--auth", "xoauth2"}, want: []string{"XOAUTH2", "PLAIN"}, noVerbs: []string{"AUTH", "MAIL"}},
		{name: "postfix/cram-md5-stripped", cmd: "send", upstream: env.Submission, drop: none, cut: "CRAM-MD5",
			args: []string{"--tls", "off", "--auth", "cram-md5"}, want: []string{"CRAM-MD5", "PLAIN"}, noVerbs: []string{"AUTH", "MAIL"}},
		// STARTTLS stripped, opportunistic TLS, PLAIN asked for: the
		// password would go in clear, so nothing is sent.
		{name: "postfix/starttls-stripped/opportunistic-plain", cmd: "send", upstream: env.Submission, drop: stripSTARTTLS,
			args: []string{"--tls", "opportunistic", "--auth", "plain"}, want: []string{"--tls off"}, noVerbs: []string{"AUTH", "MAIL"}},
		{name: "dovecot/stls-stripped/required", cmd: "fetch", upstream: env.POP3, drop: stripSTLS,
			args: []string{"--tls", "required"}, want: []string{"STLS"}, noVerbs: []string{"USER", "PASS", "APOP", "AUTH"}},
		// Opportunistic TLS on a stripped server: USER/PASS would go in
		// clear, so the board refuses and names the flag that allows it.
		{name: "dovecot/stls-stripped/opportunistic-user", cmd: "fetch", upstream: env.POP3, drop: stripSTLS,
			args: []string{"--tls", "opportunistic", "--login", "user"}, want: []string{"--tls off"}, noVerbs: []string{"USER", "PASS", "AUTH"}},
		// A refused APOP (wrong password) does not fall back to USER/PASS.
		{name: "dovecot/apop-refused", cmd: "fetch", upstream: env.POP3, drop: none, wrongPassword: true,
			args: []string{"--tls", "off", "--login", "apop"}, want: []string{"APOP"}, noVerbs: []string{"USER", "PASS", "AUTH"}},
		{name: "dovecot/apop-refused/auto", cmd: "fetch", upstream: env.POP3, drop: none, wrongPassword: true,
			args: []string{"--tls", "off"}, want: []string{"APOP"}, noVerbs: []string{"USER", "PASS", "AUTH"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := env.NewUser(t)
			drop := tc.drop
			if drop == nil {
				drop = none
			}
			port := env.startStripProxy(t, tc.upstream, drop, tc.cut).Port()
			args := []string{"--user", u.Name, "--port", fmt.Sprint(port), "--ca", env.caFile(t)}
			if tc.cmd == "send" {
				args = append(args, "--to", u.Addr)
			}
			pass := u.Password
			if tc.wrongPassword {
				pass = "wrong-" + u.Password
			}
			r := env.runCLI(t, pass, tc.cmd, append(args, tc.args...)...)
			t.Logf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			if r.code != 1 {
				t.Fatalf("simboard %s %v: exit %d, want 1 (refused)\n%s\n%s", tc.cmd, tc.args, r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("failure does not name %q:\n%s", w, r.stderr)
				}
			}
			if !strings.Contains(r.stderr, "(0x") {
				t.Errorf("failure carries no NetX status:\n%s", r.stderr)
			}
			assertNoSecret(t, r.pcap, u.Name, pass)
			verbs := clientVerbs(t, r.pcap)
			for _, v := range verbs {
				for _, bad := range tc.noVerbs {
					if v == bad {
						t.Errorf("the board sent %s after the downgrade (verbs %v)", v, verbs)
					}
				}
			}
		})
	}
}
