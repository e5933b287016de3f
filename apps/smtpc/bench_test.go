package smtpc

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/smtp"
	"net/textproto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
)

// countBackend is a bare go-smtp backend that reads each message and counts
// its octets, as in the SMTP anchor (reference/anchors.md §5).
type countBackend struct{ octets atomic.Int64 }

func (b *countBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return countSession{b}, nil }

type countSession struct{ b *countBackend }

func (countSession) Reset()                                 {}
func (countSession) Logout() error                          { return nil }
func (countSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (countSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s countSession) Data(r io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		s.b.octets.Add(int64(n))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// serveCounting runs a counting go-smtp server on l until the benchmark ends.
func serveCounting(b *testing.B, l net.Listener) *countBackend {
	be := &countBackend{}
	s := gosmtp.NewServer(be)
	s.Domain, s.AllowInsecureAuth, s.MaxMessageBytes = "localhost", true, 64<<20
	s.ReadTimeout, s.WriteTimeout = 60*time.Second, 60*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Serve(l) })
	b.Cleanup(func() {
		_ = s.Close()
		wg.Wait()
	})
	return be
}

// benchBody is the anchor's body: 76-character lines and CRLF.
func benchBody(n int) []byte {
	line := []byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABCD\r\n")
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, line[:min(len(line), n-len(out))]...)
	}
	copy(out[len(out)-2:], "\r\n")
	return out
}

// benchMailSend sends one mail per op from a board with the MCU defaults
// (64 KiB send buffer and window) to go-smtp on a peer board. The peer
// stands in for a mail host, so it gets a host-sized receive window: 256 KiB
// (Linux starts near 64 KiB and autotunes to megabytes, which is what the
// net/smtp baseline's kernel peer does).
func benchMailSend(b *testing.B, size int, chunking bool) {
	w := boardtest.NewWire(b, 1)
	srv := boardtest.NewBoard(b, w, "server", 1, boardtest.Options{TCP: netstack.TCPOptions{DefaultWindow: 256 << 10}})
	cli := boardtest.NewBoard(b, w, "client", 2, boardtest.Options{})
	ln, err := srv.IP.ListenTCP(25)
	if err != nil {
		b.Fatal(err)
	}
	be := serveCounting(b, ln)
	c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, From: "board@example.com", ClientDomain: "board.example.com",
		ServerAddr: srv.Addr, Auth: AuthNone, TLS: TLSOff, Chunking: chunking})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Delete()
	body := benchBody(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "bench", body); err != nil {
			b.Fatal(err)
		}
	}
	if be.octets.Load() < int64(size) {
		b.Fatalf("server counted %d octets", be.octets.Load())
	}
}

// BenchmarkMailSend1MiB and BenchmarkMailSend16MiB: one mail per connection
// (connect, EHLO, MAIL, RCPT, DATA, end of data, QUIT) from a board to a
// bare go-smtp server on a peer board over the in-memory wire.
func BenchmarkMailSend1MiB(b *testing.B)  { benchMailSend(b, 1<<20, false) }
func BenchmarkMailSend16MiB(b *testing.B) { benchMailSend(b, 16<<20, false) }

// BenchmarkMailSendBDAT1MiB and BenchmarkMailSendBDAT16MiB: the same mails
// with Options.Chunking, so the body goes in BDAT chunks (RFC 3030, which
// go-smtp offers as CHUNKING): no dot-stuffing on the board, and the server
// copies each chunk instead of scanning the DATA stream byte by byte.
func BenchmarkMailSendBDAT1MiB(b *testing.B)  { benchMailSend(b, 1<<20, true) }
func BenchmarkMailSendBDAT16MiB(b *testing.B) { benchMailSend(b, 16<<20, true) }

func benchNetSMTP(b *testing.B, size int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	be := serveCounting(b, l)
	body := benchBody(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		c, err := smtp.Dial(l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Mail("board@example.com"); err != nil {
			b.Fatal(err)
		}
		if err := c.Rcpt("bob@example.com"); err != nil {
			b.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := c.Quit(); err != nil {
			b.Fatal(err)
		}
	}
	if be.octets.Load() < int64(size) {
		b.Fatalf("server counted %d octets", be.octets.Load())
	}
}

// BenchmarkNetSMTP1MiB and BenchmarkNetSMTP16MiB are the baseline: Go's
// net/smtp client over kernel loopback (127.0.0.1) to the same go-smtp
// server, one mail per connection.
func BenchmarkNetSMTP1MiB(b *testing.B)  { benchNetSMTP(b, 1<<20) }
func BenchmarkNetSMTP16MiB(b *testing.B) { benchNetSMTP(b, 16<<20) }

// BenchmarkEncode16MiB measures the DATA codec alone (dot-stuffing and CRLF
// normalisation of a 16 MiB body into a sink that drops the bytes), next to
// BenchmarkTextprotoDotWriter16MiB, the codec net/smtp uses, in the same run.
func BenchmarkEncode16MiB(b *testing.B) {
	body := benchBody(16 << 20)
	e := encoder{write: func([]byte) error { return nil }}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.encode(body, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeBareLF16MiB(b *testing.B) {
	body := bytes.ReplaceAll(benchBody(16<<20), []byte("\r\n"), []byte("\n"))
	e := encoder{write: func([]byte) error { return nil }}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.encode(body, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTextprotoDotWriter16MiB(b *testing.B) {
	body := benchBody(16 << 20)
	w := textproto.NewWriter(bufio.NewWriterSize(io.Discard, 4096))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dw := w.DotWriter()
		if _, err := dw.Write(body); err != nil {
			b.Fatal(err)
		}
		if err := dw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
