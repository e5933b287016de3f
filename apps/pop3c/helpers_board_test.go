package pop3c_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
)

// scriptConn is the server side of a scripted session on the peer board.
type scriptConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// send writes one canned packet (one Write, so one TCP segment).
func (s *scriptConn) send(data string) {
	s.t.Helper()
	if _, err := s.conn.Write([]byte(data)); err != nil {
		s.t.Errorf("server: Write(%q) = %v", data, err)
	}
}

// expect reads one command line and checks it (without CRLF).
func (s *scriptConn) expect(cmd string) {
	s.t.Helper()
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Errorf("server: reading command (want %q): %v", cmd, err)
		return
	}
	if got := strings.TrimSuffix(line, "\r\n"); got != cmd {
		s.t.Errorf("server: command = %q, want %q", got, cmd)
	}
}

// scriptServer listens on port of the server board and runs script on the
// first connection, on its own goroutine, joined at cleanup.
func scriptServer(t testing.TB, server *boardtest.Board, port uint16, script func(s *scriptConn)) {
	t.Helper()
	l, err := server.IP.ListenTCP(port)
	if err != nil {
		t.Fatalf("ListenTCP(%d) = %v", port, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("server: Accept() = %v", err)
			}
			return
		}
		defer conn.Close()
		script(&scriptConn{t: t, conn: conn, r: bufio.NewReader(conn)})
		// Wait for the client to close before closing our side.
		_, _ = bufio.NewReader(conn).ReadString(0)
	}()
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
}

// readAll drains MailItemMessageGet and returns the clean message
// (cleanMessage) and the per-packet byte counts. after runs after each
// packet (used to pace a scripted server).
func readAll(t testing.TB, c *pop3c.Client, after func()) ([]byte, []int, error) {
	t.Helper()
	raw, sizes, err := readRaw(t, c, after)
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

// readRaw drains MailItemMessageGet, releasing every packet, and returns the
// packets' bytes as NetX returns them and the per-packet byte counts.
func readRaw(t testing.TB, c *pop3c.Client, after func()) ([]byte, []int, error) {
	t.Helper()
	var data []byte
	var sizes []int
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
		if after != nil && !final {
			after()
		}
		if final {
			return data, sizes, nil
		}
	}
}

func deleteClient(t testing.TB, c *pop3c.Client) {
	t.Helper()
	if err := c.Delete(context.Background()); err != nil {
		t.Errorf("Delete() = %v", err)
	}
}

func mustOK(t testing.TB, err error, call string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v, want nil", call, err)
	}
}

// waitFor polls cond (an event another goroutine causes) until it holds.
// It asserts nothing about time: it only orders the test's steps.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 30000 {
			t.Fatal("condition never became true")
		}
		runtime.Gosched()
		boardtest.Sleep(t, time.Millisecond) // on the boards' clock: simulated in virtual time
	}
}
