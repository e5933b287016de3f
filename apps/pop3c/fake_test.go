package pop3c

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// fakeSock is a scripted TCP socket: every command the client sends is
// handed to serve, whose reply chunks are queued, each delivered as one
// received packet (chained when it outgrows the receive pool's payload). An
// empty queue is a timeout (nx.ErrNoPacket, at once) or, after hangup, a
// closed connection (nx.ErrNotConnected).
type fakeSock struct {
	mu     sync.Mutex
	rx     *packetpool.Pool
	ptype  int
	queue  [][]byte
	sent   []string
	serve  func(line string) []string
	hangup bool // the peer closed: receive fails once the queue is empty

	disconnects []nx.Wait
	unbound     bool
	deleted     bool
}

func (s *fakeSock) push(chunks ...string) {
	for _, c := range chunks {
		s.queue = append(s.queue, []byte(c))
	}
}

func (s *fakeSock) PacketType() int { return s.ptype }

func (s *fakeSock) Send(ctx context.Context, pk *packetpool.Packet, wait nx.Wait) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hangup && len(s.queue) == 0 {
		return nx.ErrNotConnected
	}
	var b []byte
	for buf := range pk.Buffers() {
		b = append(b, buf...)
	}
	if err := pk.Release(); err != nil { // the socket owns it once sent
		return err
	}
	line := string(b)
	s.sent = append(s.sent, line)
	if s.serve != nil {
		s.push(s.serve(line)...)
	}
	return nil
}

func (s *fakeSock) Receive(ctx context.Context, wait nx.Wait) (*packetpool.Packet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return nil, nx.ErrWaitAborted
	}
	if len(s.queue) == 0 {
		if s.hangup {
			return nil, nx.ErrNotConnected
		}
		return nil, nx.ErrNoPacket
	}
	chunk := s.queue[0]
	s.queue = s.queue[1:]
	if len(chunk) == 0 { // an empty chunk scripts a hangup at this point
		s.hangup = true
		s.queue = nil
		return nil, nx.ErrNotConnected
	}
	pk, err := s.rx.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
	if err != nil {
		return nil, err
	}
	if err := pk.Append(ctx, chunk, s.rx, nx.NoWait); err != nil {
		_ = pk.Release()
		return nil, err
	}
	return pk, nil
}

func (s *fakeSock) Disconnect(ctx context.Context, wait nx.Wait) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disconnects = append(s.disconnects, wait)
	if wait == nx.NoWait {
		return nx.ErrInProgress
	}
	return nil
}

func (s *fakeSock) ClientUnbind() error { s.unbound = true; return nil }
func (s *fakeSock) Delete() error       { s.deleted = true; return nil }

// step is one exchange of a script: the command line expected (without
// CRLF) and the reply chunks.
type step struct {
	cmd   string
	reply []string
}

// scripted returns a serve function that checks each command against the
// script and answers it; an unexpected command fails the test.
func scripted(t testing.TB, steps ...step) func(string) []string {
	i := 0
	return func(line string) []string {
		t.Helper()
		got := strings.TrimSuffix(line, "\r\n")
		if i >= len(steps) {
			t.Errorf("unexpected command %q after the script", got)
			return nil
		}
		st := steps[i]
		i++
		if got != st.cmd {
			t.Errorf("command %d = %q, want %q", i, got, st.cmd)
		}
		return st.reply
	}
}

// newTestPool creates a pool that must be balanced when the test ends.
func newTestPool(t testing.TB, name string, payload, count int) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(packetpool.Options{Name: name, PayloadSize: payload, Count: count, Debug: true})
	if err != nil {
		t.Fatalf("packetpool.New(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		info := p.Info()
		if info.Free != info.Total || info.InvalidReleases != 0 {
			t.Errorf("pool %q unbalanced: %+v", name, info)
		}
		for _, l := range p.Leaks() {
			t.Errorf("leak: %v", l)
		}
	})
	return p
}

type fakeEnv struct {
	sock *fakeSock
	pool *packetpool.Pool
	tr   bytes.Buffer
}

// openFake runs Create's session on a scripted socket. greeting is queued
// first. The pools are checked for balance at cleanup (after Delete).
//
// openFake allows clear-text credentials (most scripts run in plain text);
// openFakeStrict keeps opts.AllowPlaintextAuth as given.
func openFake(t testing.TB, opts Options, rxPayload int, greeting string, steps ...step) (*Client, *fakeEnv, error) {
	t.Helper()
	opts.AllowPlaintextAuth = true
	return openFakeStrict(t, opts, rxPayload, greeting, steps...)
}

func openFakeStrict(t testing.TB, opts Options, rxPayload int, greeting string, steps ...step) (*Client, *fakeEnv, error) {
	t.Helper()
	env := &fakeEnv{}
	env.pool = newTestPool(t, "client", 256, 64)
	rx := newTestPool(t, "rx", rxPayload, 64)
	env.sock = &fakeSock{rx: rx, ptype: packetpool.IPv4TCPPacket, serve: scripted(t, steps...)}
	if greeting != "" {
		env.sock.push(greeting)
	}
	opts.Pool = env.pool
	if !opts.Server.IsValid() {
		opts.Server = testServer
	}
	if opts.Name == "" {
		opts.Name = "recipient@domain.com"
		opts.Password = "testpwd"
	}
	opts.Transcript = &env.tr
	o, err := opts.normalize()
	if err != nil {
		return nil, env, err
	}
	c := newClient(o)
	if err := c.open(context.Background(), env.sock, nil); err != nil {
		if c.netx {
			return c, env, err // NetX leaves the socket for the caller's Delete
		}
		return nil, env, err
	}
	t.Cleanup(func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Errorf("Delete() = %v", err)
		}
	})
	return c, env, nil
}

// readMessage drains MailItemMessageGet and returns the clean message
// (cleanMessage) and the per-packet byte counts.
func readMessage(t testing.TB, c *Client) ([]byte, []int, error) {
	t.Helper()
	raw, sizes, err := readRawMessage(t, c)
	return cleanMessage(raw), sizes, err
}

// cleanMessage turns what MailItemMessageGet returns (NetX's raw packets:
// dot-stuffed, the terminator included) into the message: the terminator
// and the line ending before it removed, lines dot-unstuffed.
func cleanMessage(raw []byte) []byte {
	switch {
	case bytes.Equal(raw, []byte(".\r\n")):
		return []byte{}
	case bytes.HasSuffix(raw, []byte("\r\n.\r\n")):
		raw = raw[:len(raw)-5]
	}
	out := []byte{}
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}

// readRawMessage drains MailItemMessageGet, releasing every packet, and
// returns the packets' bytes as NetX returns them.
func readRawMessage(t testing.TB, c *Client) (data []byte, sizes []int, err error) {
	t.Helper()
	for {
		pk, n, final, err := c.MailItemMessageGet(context.Background())
		if err != nil {
			return data, sizes, err
		}
		if pk.Length() != n && !(final && n == 0) { // NetX's final packet of <= 5 bytes counts 0
			t.Errorf("MailItemMessageGet() n = %d, packet length %d", n, pk.Length())
		}
		for b := range pk.Buffers() {
			data = append(data, b...)
		}
		sizes = append(sizes, n)
		if err := pk.Release(); err != nil {
			t.Fatalf("Release() = %v", err)
		}
		if final {
			return data, sizes, nil
		}
	}
}

func must(t testing.TB, err error, call string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v, want nil", call, err)
	}
}

var testServer = netip.MustParseAddr("198.51.100.1")
