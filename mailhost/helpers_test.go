package mailhost

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHost is a Host serving SMTP, SMTPS, POP3 and POP3S on loopback.
type testHost struct {
	*Host
	smtp, smtps, pop3, pop3s string
	pool                     *x509.CertPool
	transcript               *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var testUsers = map[string]string{
	"alice": "alice-secret",
	"bob":   "bob pass with spaces",
	"carol": "carol-pw",
}

// startHost starts a host on 127.0.0.1 listeners. Unless opts.TLS is set
// (or noTLS), it gets a self-signed certificate for 127.0.0.1. Cleanup
// closes the host, checks every Serve returned nil and that no goroutine
// outlives it.
func startHost(t testing.TB, opts Options) *testHost {
	t.Helper()
	base := runtime.NumGoroutine()
	th := &testHost{transcript: &syncBuffer{}}
	if opts.Users == nil {
		opts.Users = testUsers
	}
	if opts.TLS == nil {
		cert, pool, err := SelfSigned("127.0.0.1", "localhost")
		if err != nil {
			t.Fatalf("SelfSigned() = %v", err)
		}
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		th.pool = pool
	}
	if opts.Transcript == nil {
		opts.Transcript = th.transcript
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	th.Host = h
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, s := range []struct {
		addr  *string
		serve func(net.Listener) error
	}{{&th.smtp, h.ServeSMTP}, {&th.smtps, h.ServeSMTPS}, {&th.pop3, h.ServePOP3}, {&th.pop3s, h.ServePOP3S}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("net.Listen() = %v", err)
		}
		*s.addr = l.Addr().String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.serve(l)
		}()
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("second Close() = %v", err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Serve() = %v, want nil after Close", err)
			}
		}
		checkGoroutines(t, base)
	})
	return th
}

// checkGoroutines polls until the goroutine count is back to base (the
// runtime may need a moment to retire exited goroutines); it fails only if
// it never gets there.
func checkGoroutines(t testing.TB, base int) {
	t.Helper()
	n := 0
	for i := 0; i < 500; i++ {
		if n = runtime.NumGoroutine(); n <= base {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Errorf("goroutines = %d after Close, want <= %d\n%s", n, base, buf)
}

func (th *testHost) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: th.pool, ServerName: "127.0.0.1"}
}

// client is a scripted line client for either protocol.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("net.Dial(%q) = %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

func dialTLS(t testing.TB, addr string, cfg *tls.Config) *client {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls.Dial(%q) = %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// upgrade runs a client TLS handshake over the connection.
func (c *client) upgrade(cfg *tls.Config) error {
	if n := c.r.Buffered(); n != 0 {
		c.t.Fatalf("upgrade with %d bytes buffered", n)
	}
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	return nil
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatalf("write %q: %v", line, err)
	}
}

// line reads one line with its CRLF removed; it fails the test on error.
func (c *client) line() string {
	c.t.Helper()
	l, err := c.readLine()
	if err != nil {
		c.t.Fatalf("read line: %v", err)
	}
	return l
}

func (c *client) readLine() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, fmt.Errorf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

// reply reads an SMTP reply: its code and its lines' texts.
func (c *client) reply() (int, []string) {
	c.t.Helper()
	code, text, err := c.readReply()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, text
}

func (c *client) readReply() (int, []string, error) {
	var text []string
	for {
		l, err := c.readLine()
		if err != nil {
			return 0, text, err
		}
		if len(l) < 3 {
			return 0, text, fmt.Errorf("malformed reply line %q", l)
		}
		code, err := strconv.Atoi(l[:3])
		if err != nil {
			return 0, text, fmt.Errorf("malformed reply line %q", l)
		}
		if len(l) > 3 {
			text = append(text, l[4:])
		} else {
			text = append(text, "")
		}
		if len(l) == 3 || l[3] == ' ' {
			return code, text, nil
		}
	}
}

// expect sends a command and checks the SMTP reply code.
func (c *client) expect(cmd string, want int) []string {
	c.t.Helper()
	if cmd != "" {
		c.send(cmd)
	}
	code, text := c.reply()
	if code != want {
		c.t.Fatalf("%q: reply %d %q, want %d", cmd, code, text, want)
	}
	return text
}

// pop sends a POP3 command and returns the status line, checking its prefix.
func (c *client) pop(cmd, wantPrefix string) string {
	c.t.Helper()
	if cmd != "" {
		c.send(cmd)
	}
	l := c.line()
	if !strings.HasPrefix(l, wantPrefix) {
		c.t.Fatalf("%q: got %q, want prefix %q", cmd, l, wantPrefix)
	}
	return l
}

// multi reads raw multi-line data up to and including the ".\r\n" line.
func (c *client) multi() []byte {
	c.t.Helper()
	var b []byte
	for {
		l, err := c.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			c.t.Fatalf("read multi-line: %v", err)
		}
		b = append(b, l...)
		if string(l) == ".\r\n" && (len(b) == 3 || b[len(b)-4] == '\n') {
			return b
		}
	}
}

// closed reports whether the peer closed (EOF or reset) before sending
// anything more.
func (c *client) closed() error {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.r.ReadByte()
	if err == nil {
		rest, _ := c.r.ReadString('\n')
		return fmt.Errorf("got %q, want connection closed", string(b)+rest)
	}
	return nil
}

func tlsConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: certs}
}
