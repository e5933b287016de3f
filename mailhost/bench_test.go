package mailhost

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

const benchMsgSize = 1 << 20

func benchMessage() []byte {
	var b bytes.Buffer
	b.WriteString("Subject: bench\r\n\r\n")
	for i := 0; b.Len() < benchMsgSize; i++ {
		fmt.Fprintf(&b, ".line %06d of the benchmark message, dot-stuffed on the wire\r\n", i)
	}
	return b.Bytes()
}

func serveBench(b *testing.B, serve func(net.Listener) error) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go serve(l)
	return l.Addr().String()
}

func sendBench(b *testing.B, addr string, msg []byte) {
	if err := smtp.SendMail(addr, nil, "bench@board.test", []string{"alice@mailhost.test"}, msg); err != nil {
		b.Fatalf("SendMail() = %v", err)
	}
}

type discardBackend struct{}

func (discardBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return discardSession{}, nil }

type discardSession struct{}

func (discardSession) Reset()                                 {}
func (discardSession) Logout() error                          { return nil }
func (discardSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (discardSession) Data(r io.Reader) error                 { _, err := io.ReadAll(r); return err }

// BenchmarkSMTPSend sends a 1 MiB message with net/smtp over loopback to
// the mail host (interceptor + go-smtp + store) and, as the baseline
// measured in the same run, to a bare go-smtp server.
func BenchmarkSMTPSend(b *testing.B) {
	msg := benchMessage()
	b.Run("baseline-go-smtp", func(b *testing.B) {
		s := gosmtp.NewServer(discardBackend{})
		s.Domain, s.MaxMessageBytes = "bench", 0
		addr := serveBench(b, s.Serve)
		defer s.Close()
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			sendBench(b, addr, msg)
		}
	})
	b.Run("mailhost", func(b *testing.B) {
		h, err := New(Options{Users: testUsers})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		addr := serveBench(b, h.ServeSMTP)
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			sendBench(b, addr, msg)
			h.Store().Reset()
		}
	})
}

// BenchmarkPOP3Retr fetches a 1 MiB message with RETR over loopback and,
// as the baseline, the same wire bytes from a server that only copies them.
func BenchmarkPOP3Retr(b *testing.B) {
	msg := benchMessage()
	wire := appendDotStuffed([]byte(fmt.Sprintf("+OK %d octets\r\n", len(msg))), msg)
	fetch := func(b *testing.B, c net.Conn, r *bufio.Reader) {
		if _, err := io.WriteString(c, "RETR 1\r\n"); err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			l, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				b.Fatal(err)
			}
			n += len(l)
			if string(l) == ".\r\n" {
				break
			}
		}
		if n != len(wire) {
			b.Fatalf("RETR read %d bytes, want %d", n, len(wire))
		}
	}
	b.Run("baseline-copy", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				if _, err := c.Write(wire); err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			fetch(b, c, r)
		}
	})
	b.Run("mailhost", func(b *testing.B) {
		h, err := New(Options{Users: testUsers, AllowInsecureAuth: true})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		if err := h.Store().Deliver("", []string{"alice"}, msg); err != nil {
			b.Fatal(err)
		}
		addr := serveBench(b, h.ServePOP3)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for _, cmd := range []string{"", "USER alice\r\n", "PASS alice-secret\r\n"} {
			io.WriteString(c, cmd)
			if _, err := r.ReadString('\n'); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			fetch(b, c, r)
		}
	})
}
