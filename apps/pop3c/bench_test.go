package pop3c_test

import (
	"context"
	"io"
	"net"
	"net/textproto"
	"sync"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
)

// BenchmarkRetr1MiB and BenchmarkRetr16MiB fetch one message repeatedly:
//
//   - pop3c-wire: this client on a board, the built-in mail host on a peer
//     board, two gVisor stacks over the in-memory Wire; the message is read
//     NetX-style with MailItemGet + MailItemMessageGet, releasing each packet.
//   - textproto-loopback (baseline): Go's net/textproto DotReader over a
//     kernel loopback TCP connection to the same mail host server code.
//
// Both report MB/s (b.SetBytes) and allocs/op, measured in the same run.
func BenchmarkRetr1MiB(b *testing.B)  { benchRetr(b, 1<<20) }
func BenchmarkRetr16MiB(b *testing.B) { benchRetr(b, 16<<20) }

func benchRetr(b *testing.B, size int) {
	msg := bigMessage(size)
	b.Run("pop3c-wire", func(b *testing.B) {
		ctx := context.Background()
		client, server := boardtest.Pair(b, boardtest.Options{})
		h := benchHost(b, msg)
		l, err := server.IP.ListenTCP(110)
		mustOK(b, err, "ListenTCP()")
		serve(b, h, l)
		c, err := pop3c.Create(ctx, pop3c.Options{AllowPlaintextAuth: true, IP: client.IP, Server: server.Addr, Name: mailUser, Password: mailPass,
			Auth: pop3c.AuthUserPass, MaxMessageSize: -1})
		mustOK(b, err, "Create()")
		defer deleteClient(b, c)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.MailItemGet(ctx, 1); err != nil {
				b.Fatalf("MailItemGet(1) = %v", err)
			}
			n := 0
			for {
				pk, m, final, err := c.MailItemMessageGet(ctx)
				if err != nil {
					b.Fatalf("MailItemMessageGet() = %v", err)
				}
				n += m
				_ = pk.Release()
				if final {
					break
				}
			}
			if n != len(msg)-2 { // the last line's CRLF belongs to the terminator
				b.Fatalf("read %d bytes, want %d", n, len(msg)-2)
			}
		}
	})
	b.Run("textproto-loopback", func(b *testing.B) {
		h := benchHost(b, msg)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		mustOK(b, err, "net.Listen()")
		serve(b, h, l)
		tc, err := textproto.Dial("tcp", l.Addr().String())
		mustOK(b, err, "textproto.Dial()")
		defer tc.Close()
		pop := func(cmd string) {
			if cmd != "" {
				mustOK(b, tc.PrintfLine("%s", cmd), "PrintfLine()")
			}
			line, err := tc.ReadLine()
			if err != nil || len(line) < 3 || line[:3] != "+OK" {
				b.Fatalf("%q: %q, %v", cmd, line, err)
			}
		}
		pop("")
		pop("USER " + mailUser)
		pop("PASS " + mailPass)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			pop("RETR 1")
			if _, err := io.Copy(io.Discard, tc.DotReader()); err != nil {
				b.Fatalf("DotReader: %v", err)
			}
		}
	})
}

func benchHost(b *testing.B, msg []byte) *mailhost.Host {
	h, err := mailhost.New(mailhost.Options{Users: map[string]string{mailUser: mailPass},
		AllowInsecureAuth: true, MaxMessageBytes: -1})
	mustOK(b, err, "mailhost.New()")
	mustOK(b, h.Store().Deliver("a@b", []string{mailUser}, msg), "Deliver()")
	return h
}

func serve(b *testing.B, h *mailhost.Host, l net.Listener) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = h.ServePOP3(l)
	}()
	b.Cleanup(func() {
		_ = h.Close()
		wg.Wait()
	})
}
