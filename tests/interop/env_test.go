package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/netns"
)

// Fixed facts of the interop environment. The board side of tap0 is up to the test:
// boardPrefix and boardPrefix6 are the conventional addresses.
const (
	tapName    = "tap0"
	mailDomain = "example.test"
	serverName = "mx.example.test" // Postfix myhostname and the TLS certificate's name
	mailUID    = 5000              // owner of every Maildir (Dovecot refuses uid 0)
	userPool   = 256               // mailboxes NewUser hands out (about 45 per run of the package)

	requireEnv = "SIMBOARD_REQUIRE_NETNS" // "1": missing netns/tools fail instead of skip
	keepEnv    = "SIMBOARD_KEEP_INTEROP"  // "1": keep the work directory after the run
	keptMarker = "KEPT"                   // file in a work directory kept on purpose

	// Upper bounds for the environment's own waits. They are not assertions: a wait
	// that runs out fails the test with the daemons' logs.
	portWait     = 20 * time.Second
	deliveryWait = 60 * time.Second
	stopWait     = 10 * time.Second
)

var (
	hostPrefix   = netip.MustParsePrefix("198.51.100.1/24")
	hostPrefix6  = netip.MustParsePrefix("2001:db8::1/64")
	boardPrefix  = netip.MustParsePrefix("198.51.100.2/24")
	boardPrefix6 = netip.MustParsePrefix("2001:db8::2/64")
)

// User is a mail account known to both Postfix (example.test recipient) and Dovecot
// (POP3 login, plaintext password so APOP works).
type User struct {
	Name     string // POP3 user name, e.g. "user007"
	Password string
	Addr     string // e-mail address, Name@example.test
}

// Message is one file of a Maildir.
type Message struct {
	File string // path of the file (new/ or cur/)
	Data []byte // the file as stored: LF line endings, Postfix's Return-Path, Delivered-To and Received first
}

// Header parses the message header.
func (m Message) Header() (mail.Header, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, err
	}
	return msg.Header, nil
}

// Subject returns the Subject header, "" when the header does not parse.
func (m Message) Subject() string {
	h, err := m.Header()
	if err != nil {
		return ""
	}
	return h.Get("Subject")
}

// Body returns everything after the header's blank line.
func (m Message) Body() []byte {
	if _, b, ok := bytes.Cut(m.Data, []byte("\n\n")); ok {
		return b
	}
	if _, b, ok := bytes.Cut(m.Data, []byte("\r\n\r\n")); ok {
		return b
	}
	return nil
}

// Env is the running interop environment: a network namespace holding tap0 and real
// Postfix and Dovecot daemons. One Env is shared by every test of the package (it is
// started by the first startEnv and stopped in TestMain); tests isolate themselves with
// NewUser and LeaseTAP. Its methods are safe for concurrent use.
type Env struct {
	NS  *netns.NS // the namespace; run board code that opens tap0 inside NS.Do
	Dir string    // work directory: configs, logs, Maildirs, TLS files

	TAP          string       // "tap0", inside NS, with HostAddr/24 and HostAddr6/64
	HostAddr     netip.Addr   // 198.51.100.1: where the servers listen
	HostAddr6    netip.Addr   // 2001:db8::1
	BoardPrefix  netip.Prefix // 198.51.100.2/24: the address the board takes on tap0
	BoardPrefix6 netip.Prefix // 2001:db8::2/64

	SMTP        netip.AddrPort // Postfix smtpd, port 25: mail for example.test without AUTH
	Submission  netip.AddrPort // Postfix submission, port 587: AUTH (PLAIN, LOGIN, CRAM-MD5) required
	POP3        netip.AddrPort // Dovecot, port 110: USER/PASS, APOP, AUTH, STLS, UIDL, TOP
	SMTP6       netip.AddrPort // the same services on HostAddr6
	Submission6 netip.AddrPort
	POP36       netip.AddrPort

	Domain     string         // "example.test"
	ServerName string         // "mx.example.test": TLS server name of both daemons
	CAPool     *x509.CertPool // trusts the daemons' certificate (STARTTLS, STLS)
	CACertPEM  []byte         // the same CA in PEM form

	Alice, Bob User // fixed accounts, shared by every test: prefer NewUser

	SetupTime   time.Duration // how long starting the environment took
	setupPhases []string      // SetupTime broken down

	mu       sync.Mutex
	users    []User // pool handed out by NewUser
	nextUser int
	seedSeq  int

	tapLease chan struct{} // capacity 1: holder of tap0

	dovecot, postfix *daemon

	watchdog     *os.File      // write end of the watchdog's stdin; closing it = we are gone
	watchdogDone chan struct{} // closed when the watchdog has exited
}

// shared is the package's one environment, started on first use.
var shared struct {
	once sync.Once
	env  *Env
	err  error
}

// TestMain stops the shared environment after every test ran, whatever the outcome.
func TestMain(m *testing.M) {
	code := m.Run()
	if e := shared.env; e != nil {
		keep := code != 0 || os.Getenv(keepEnv) == "1"
		if err := e.close(keep); err != nil {
			fmt.Fprintf(os.Stderr, "interop: teardown: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		if keep {
			fmt.Fprintf(os.Stderr, "interop: work directory kept: %s\n", e.Dir)
		}
	}
	os.Exit(code)
}

// skipOrFail skips the test with the reason, or fails it when SIMBOARD_REQUIRE_NETNS=1
// (CI), where a missing namespace or tool is a broken machine, not a reason to skip.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (and %s=1, so this is a failure, not a skip)", msg, requireEnv)
	}
	t.Skip(msg)
}

// lookTool finds a command in PATH or in the sbin directories a non-root PATH lacks.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or sbin", name)
}

// requireTools skips (or fails in CI) unless every named command is installed.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := lookTool(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "interop: missing %s; install with: sudo scripts/test-deps.sh", strings.Join(missing, ", "))
	}
}

// startEnv returns the shared interop environment, starting it on first use. It skips
// the test (fails it when SIMBOARD_REQUIRE_NETNS=1) when the machine cannot create a
// network namespace or lacks Postfix or Dovecot. When the test fails, the daemons' log
// lines written during the test are added to its output.
func startEnv(t testing.TB) *Env {
	t.Helper()
	if ok, why := netns.Available(); !ok {
		skipOrFail(t, "interop: cannot create a network namespace: %s", why)
	}
	requireTools(t, "postfix", "postconf", "dovecot", "doveconf")
	shared.once.Do(func() {
		shared.env, shared.err = newEnv()
		if shared.err == nil {
			t.Logf("interop: Postfix and Dovecot up in namespace %s after %v (%s; work directory %s)",
				shared.env.NS.Name(), shared.env.SetupTime.Round(time.Millisecond),
				strings.Join(shared.env.setupPhases, ", "), shared.env.Dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("interop: starting Postfix and Dovecot in a namespace: %v", shared.err)
	}
	e := shared.env
	e.logOnFailure(t)
	return e
}

// newEnv builds the namespace, tap0, the configuration, and starts Dovecot then Postfix.
// On error everything already made is torn down.
func newEnv() (env *Env, err error) {
	start := time.Now()
	cleanStale()
	e := &Env{
		TAP:          tapName,
		HostAddr:     hostPrefix.Addr(),
		HostAddr6:    hostPrefix6.Addr(),
		BoardPrefix:  boardPrefix,
		BoardPrefix6: boardPrefix6,
		Domain:       mailDomain,
		ServerName:   serverName,
		tapLease:     make(chan struct{}, 1),
	}
	e.SMTP = netip.AddrPortFrom(e.HostAddr, 25)
	e.Submission = netip.AddrPortFrom(e.HostAddr, 587)
	e.POP3 = netip.AddrPortFrom(e.HostAddr, 110)
	e.SMTP6 = netip.AddrPortFrom(e.HostAddr6, 25)
	e.Submission6 = netip.AddrPortFrom(e.HostAddr6, 587)
	e.POP36 = netip.AddrPortFrom(e.HostAddr6, 110)

	defer func() {
		if err != nil {
			if e.Dir != "" {
				err = fmt.Errorf("%w\n%s(work directory kept: %s)", err, e.logTails(4096), e.Dir)
			}
			if cerr := e.close(true); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	phase := time.Now()
	mark := func(name string) {
		e.setupPhases = append(e.setupPhases, fmt.Sprintf("%s %v", name, time.Since(phase).Round(time.Millisecond)))
		phase = time.Now()
	}
	if e.NS, err = netns.New("interop"); err != nil {
		return nil, err
	}
	if e.watchdog, e.watchdogDone, err = startWatchdog(e.NS.Name()); err != nil {
		return nil, err
	}
	if err = e.addTAP(ctx); err != nil {
		return nil, err
	}
	mark("netns+tap")
	if e.Dir, err = os.MkdirTemp("", fmt.Sprintf("simboard-interop-%d-", os.Getpid())); err != nil {
		return nil, fmt.Errorf("interop: work dir: %w", err)
	}
	// uid 5000 (virtual delivery, Dovecot mail processes) must traverse it.
	if err = os.Chmod(e.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("interop: work dir: %w", err)
	}
	if err = e.writeConfig(); err != nil {
		return nil, err
	}
	mark("config")
	if err = e.startDovecot(ctx); err != nil {
		return nil, err
	}
	mark("dovecot")
	if err = e.startPostfix(ctx); err != nil {
		return nil, err
	}
	mark("postfix")
	e.SetupTime = time.Since(start)
	return e, nil
}

// close stops the daemons (SIGTERM, together), deletes the namespace with tap0, and
// removes the work directory unless keep. It is called once, from TestMain.
func (e *Env) close(keep bool) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// Each daemon takes about 2 s to exit on SIGTERM: stop them together.
	for _, d := range []*daemon{e.postfix, e.dovecot} {
		if d == nil {
			continue
		}
		wg.Go(func() {
			if err := d.stop(stopWait); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if e.NS != nil {
		if err := e.NS.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.watchdog != nil {
		e.watchdog.Close() // the namespace is gone: the watchdog finds nothing to do
		<-e.watchdogDone
	}
	if e.Dir != "" {
		if keep {
			// cleanStale leaves kept directories alone.
			_ = os.WriteFile(filepath.Join(e.Dir, keptMarker), nil, 0o644)
		} else if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// addTAP creates tap0 in the namespace with the host addresses.
func (e *Env) addTAP(ctx context.Context) error {
	if err := e.NS.AddTAP(ctx, e.TAP, hostPrefix, hostPrefix6); err != nil {
		return err
	}
	// The kernel side must not wander off: no router solicitations, no autoconf.
	for _, kv := range []string{
		"net.ipv6.conf." + e.TAP + ".accept_ra=0",
		"net.ipv6.conf." + e.TAP + ".autoconf=0",
		"net.ipv6.conf." + e.TAP + ".router_solicitations=0",
	} {
		if err := e.NS.Run(ctx, "sysctl", "-qw", kv); err != nil {
			return err
		}
	}
	return nil
}

// tapIntact reports whether tap0 still exists with its host addresses.
func (e *Env) tapIntact(ctx context.Context) (bool, string) {
	out, err := e.NS.Output(ctx, "ip", "-o", "addr", "show", "dev", e.TAP)
	if err != nil {
		return false, err.Error()
	}
	for _, p := range []netip.Prefix{hostPrefix, hostPrefix6} {
		if !strings.Contains(string(out), " "+p.String()+" ") {
			return false, fmt.Sprintf("%s lacks %s: %s", e.TAP, p, bytes.TrimSpace(out))
		}
	}
	return true, ""
}

// TLSConfig returns a client configuration that verifies the daemons' certificate.
func (e *Env) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: e.CAPool, ServerName: e.ServerName, MinVersion: tls.VersionTLS12}
}

// NewUser hands out a mailbox that no other test uses, empty at first. It fails the
// test when the pool (userPool) is exhausted.
func (e *Env) NewUser(t testing.TB) User {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nextUser >= len(e.users) {
		t.Fatalf("interop: NewUser: all %d pool mailboxes are taken; raise userPool", len(e.users))
	}
	u := e.users[e.nextUser]
	e.nextUser++
	return u
}

// LeaseTAP gives the test exclusive use of tap0 until it ends (another test calling
// LeaseTAP waits), and flushes the kernel's neighbour cache so a board with a new MAC
// is learnt afresh. Open the device inside e.NS.Do, or a new TAP appears in the host
// namespace.
func (e *Env) LeaseTAP(t testing.TB) string {
	t.Helper()
	e.tapLease <- struct{}{}
	t.Cleanup(func() {
		defer func() { <-e.tapLease }()
		// A TAP opened without Persist (water's default) is deleted when closed, and
		// every later test would lose the link: catch it here and put tap0 back.
		ctx := context.Background()
		if ok, why := e.tapIntact(ctx); !ok {
			t.Errorf("interop: %s damaged by this test (open it with Persist: true): %s", e.TAP, why)
			_ = e.NS.Run(ctx, "ip", "tuntap", "del", "dev", e.TAP, "mode", "tap")
			if err := e.addTAP(ctx); err != nil {
				t.Errorf("interop: recreating %s: %v", e.TAP, err)
			}
		}
	})
	if err := e.NS.Run(context.Background(), "ip", "neigh", "flush", "dev", e.TAP); err != nil {
		t.Fatalf("interop: LeaseTAP: %v", err)
	}
	return e.TAP
}

// DialKernel opens a kernel TCP connection from inside the namespace (the Linux stack,
// not a board): the baseline client and the readiness probe.
func (e *Env) DialKernel(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := e.NS.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp", addr.String())
		return err
	})
	return c, err
}

// Maildir returns the messages in u's Maildir (new/ and cur/), in delivery order.
func (e *Env) Maildir(t testing.TB, u User) []Message {
	t.Helper()
	msgs, err := e.readMaildir(u)
	if err != nil {
		t.Fatalf("interop: Maildir(%s): %v", u.Name, err)
	}
	return msgs
}

func (e *Env) maildirPath(u User) string { return filepath.Join(e.Dir, "mail", u.Name, "Maildir") }

func (e *Env) readMaildir(u User) ([]Message, error) {
	var msgs []Message
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(e.maildirPath(u), sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, ent := range ents {
			if !ent.Type().IsRegular() {
				continue
			}
			p := filepath.Join(dir, ent.Name())
			b, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				continue // moved new/ -> cur/ by Dovecot meanwhile; read again below
			}
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, Message{File: p, Data: b})
		}
	}
	// Maildir names start with the delivery time and a sequence: sort on the unique
	// part (before ":2,flags"), so new/ and cur/ interleave in delivery order.
	key := func(m Message) string { k, _, _ := strings.Cut(filepath.Base(m.File), ":"); return k }
	slices.SortFunc(msgs, func(a, b Message) int { return strings.Compare(key(a), key(b)) })
	return msgs, nil
}

// WaitMail waits until Postfix has delivered a message with the given Subject into u's
// Maildir and returns it. It fails the test, with Postfix's log, if none arrives within
// a minute (delivery normally takes milliseconds).
func (e *Env) WaitMail(t testing.TB, u User, subject string) Message {
	t.Helper()
	deadline := time.Now().Add(deliveryWait)
	for {
		msgs, err := e.readMaildir(u)
		if err != nil {
			t.Fatalf("interop: WaitMail(%s, %q): %v", u.Name, subject, err)
		}
		for _, m := range msgs {
			if m.Subject() == subject {
				return m
			}
		}
		if time.Now().After(deadline) {
			var have []string
			for _, m := range msgs {
				have = append(have, strconv.Quote(m.Subject()))
			}
			t.Fatalf("interop: WaitMail(%s, %q): not delivered within %v; Maildir has %d messages %v\n%s",
				u.Name, subject, deliveryWait, len(msgs), have, e.logTails(4096))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Seed stores messages in u's Maildir as if delivered, in order (POP3 message 1 is
// msgs[0]). Line endings are kept as given; Dovecot counts LF as CRLF.
func (e *Env) Seed(t testing.TB, u User, msgs ...[]byte) {
	t.Helper()
	dir := e.maildirPath(u)
	for _, m := range msgs {
		e.mu.Lock()
		e.seedSeq++
		name := fmt.Sprintf("%d.M%06dP%d.simboard", time.Now().Unix(), e.seedSeq, os.Getpid())
		e.mu.Unlock()
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, m, 0o600); err != nil {
			t.Fatalf("interop: Seed(%s): %v", u.Name, err)
		}
		if err := os.Chown(tmp, mailUID, mailUID); err != nil {
			t.Fatalf("interop: Seed(%s): %v", u.Name, err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
			t.Fatalf("interop: Seed(%s): %v", u.Name, err)
		}
	}
}

// logOnFailure adds the daemons' log lines written during t to t's output if t fails.
func (e *Env) logOnFailure(t testing.TB) {
	t.Helper()
	type mark struct {
		path string
		off  int64
	}
	var marks []mark
	for _, p := range e.logFiles() {
		var off int64
		if st, err := os.Stat(p); err == nil {
			off = st.Size()
		}
		marks = append(marks, mark{p, off})
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, m := range marks {
			b, err := readFrom(m.path, m.off, 16<<10)
			if err != nil || len(b) == 0 {
				continue
			}
			t.Logf("---- %s during this test:\n%s", filepath.Base(m.path), b)
		}
	})
}

func (e *Env) logFiles() []string {
	return []string{
		filepath.Join(e.Dir, "log", "postfix.log"),
		filepath.Join(e.Dir, "log", "dovecot.log"),
		filepath.Join(e.Dir, "log", "dovecot.out"),
	}
}

// logTails returns the last max bytes of each daemon log.
func (e *Env) logTails(max int64) string {
	var sb strings.Builder
	for _, p := range e.logFiles() {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			continue
		}
		b, err := readFrom(p, max64(0, st.Size()-max), max)
		if err != nil {
			continue
		}
		fmt.Fprintf(&sb, "---- tail of %s:\n%s\n", p, b)
	}
	return sb.String()
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func readFrom(path string, off, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// daemon is a server process started inside the namespace and owned by the Env.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// startDaemon starts args inside ns, with stdout and stderr appended to logPath.
// Should the test binary die without TestMain's teardown (panic, -timeout), the kernel
// kills the daemon (Pdeathsig), and ns.Close/cleanStale remove the rest.
func startDaemon(ns *netns.NS, name, logPath string, args ...string) (*daemon, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// Not ns.Command: that puts the process in its own process group, and Postfix's
	// master then fails its setsid() (silently, to syslog) and exits 1.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name()}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking *thread* exits. Keep this goroutine on its
		// thread for the daemon's whole life so only the process's death triggers it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.err = cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("interop: start %s: %w", name, err)
	}
	return d, nil
}

// exited reports an early exit as an error, nil while the daemon runs.
func (d *daemon) exited() error {
	select {
	case <-d.done:
		return fmt.Errorf("interop: %s exited: %v", d.name, d.err)
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit, killing the daemon after timeout.
func (d *daemon) stop(timeout time.Duration) error {
	if err := d.exited(); err != nil {
		return err // it died before teardown: report it
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("interop: %s ignored SIGTERM for %v; killed", d.name, timeout)
	}
}

// waitPorts waits until every address accepts a kernel TCP connection inside the
// namespace, or d exits, or portWait passes.
func (e *Env) waitPorts(ctx context.Context, d *daemon, addrs ...netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, portWait)
	defer cancel()
	for _, a := range addrs {
		for {
			dctx, dcancel := context.WithTimeout(ctx, time.Second)
			c, err := e.DialKernel(dctx, a)
			dcancel()
			if err == nil {
				c.Close()
				break
			}
			if xerr := d.exited(); xerr != nil {
				return xerr
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("interop: %s not listening on %s after %v: %v", d.name, a, portWait, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// startWatchdog starts a shell in the host namespace that blocks reading a pipe whose
// only writer is this process. When the process dies without TestMain's teardown
// (a panic, go test -timeout, SIGKILL, a closed output pipe), the read returns EOF
// and the watchdog kills whatever is left in the namespace and deletes it. Pdeathsig
// alone is not enough: Postfix's master changes its effective uid now and then, which
// clears the death signal, and it outlived a killed test binary in a trial run.
// The watchdog gets its own process group, so Ctrl-C does not take it down with us.
func startWatchdog(nsName string) (*os.File, chan struct{}, error) {
	r, w, err := os.Pipe() // close-on-exec: no daemon inherits the write end
	if err != nil {
		return nil, nil, fmt.Errorf("interop: watchdog: %w", err)
	}
	defer r.Close()
	const script = `read -r _; ip netns pids "$1" 2>/dev/null | xargs -r kill -9; ip netns del "$1" 2>/dev/null; exit 0`
	cmd := exec.Command("sh", "-c", script, "simboard-interop-watchdog", nsName)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("interop: watchdog: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return w, done, nil
}

// cleanStale removes namespaces and work directories left by interop runs whose
// process is gone (killed before TestMain could tear down).
func cleanStale() {
	alive := func(pid int) bool {
		err := syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	prefix := netns.Prefix + "interop-"
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, ent := range ents {
			rest, ok := strings.CutPrefix(ent.Name(), prefix)
			if !ok {
				continue
			}
			pidStr, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || pid == os.Getpid() || alive(pid) {
				continue
			}
			if out, err := exec.Command("ip", "netns", "pids", ent.Name()).Output(); err == nil {
				for f := range strings.FieldsSeq(string(out)) {
					if p, err := strconv.Atoi(f); err == nil && p > 1 && p != os.Getpid() {
						_ = syscall.Kill(p, syscall.SIGKILL)
					}
				}
			}
			_ = exec.Command("ip", "netns", "del", ent.Name()).Run()
		}
	}
	if ents, err := os.ReadDir(os.TempDir()); err == nil {
		for _, ent := range ents {
			rest, ok := strings.CutPrefix(ent.Name(), "simboard-interop-")
			if !ok || !ent.IsDir() {
				continue
			}
			pidStr, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || pid == os.Getpid() || alive(pid) {
				continue
			}
			if _, err := os.Stat(filepath.Join(os.TempDir(), ent.Name(), keptMarker)); err == nil {
				continue
			}
			_ = os.RemoveAll(filepath.Join(os.TempDir(), ent.Name()))
		}
	}
}
