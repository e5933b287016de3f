package smtpc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/packetpool"
)

// Issue 9 §1 "no silent auth downgrade", SMTP side, on the wire of a
// scripted server: an explicit mechanism the server does not offer is an
// error naming the offer, and no AUTH (let alone a credential) is sent.
func TestNoSilentAuthDowngrade(t *testing.T) {
	ehlo := func(auth string) scriptStep {
		return scriptStep{want: "EHLO", send: []string{"250-x\r\n250 AUTH " + auth + "\r\n"}}
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		offered string
		want    error
		named   string // must appear in the error
	}{
		{"cram-md5 asked, PLAIN LOGIN offered, tls off", func(o *Options) { o.Auth = AuthCRAMMD5 }, "PLAIN LOGIN", ErrAuthNotOffered, "PLAIN LOGIN"},
		{"login asked, PLAIN offered", func(o *Options) { o.Auth = AuthLogin }, "PLAIN", ErrAuthNotOffered, "PLAIN"},
		{"xoauth2 asked, PLAIN offered", func(o *Options) { o.Auth = AuthXOAUTH2 }, "PLAIN", ErrAuthNotOffered, "PLAIN"},
		{"plain asked without TLS, CRAM-MD5 offered: refused, not replaced", func(o *Options) { o.Auth, o.AllowPlaintextAuth = AuthPlain, false }, "PLAIN CRAM-MD5", ErrPlaintextAuth, ""},
		// Opportunistic TLS means the same as in pop3c: no STARTTLS
		// offered, so no password in clear.
		{"opportunistic, no STARTTLS, auto", func(o *Options) { o.TLS, o.AllowPlaintextAuth = TLSOpportunistic, false }, "PLAIN LOGIN", ErrPlaintextAuth, "PLAIN LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := pipeOpts()
			tt.mod(&o)
			out := runPipe(t, o, &mail{to: []string{"a@example.com"}, body: []byte("x")},
				[]scriptStep{greet, ehlo(tt.offered), quitOK})
			if !errors.Is(out.err, tt.want) || !errors.Is(out.err, ErrAuthentication) {
				t.Fatalf("session = %v, want %v (NX_SMTP_AUTHENTICATION_ERROR)", out.err, tt.want)
			}
			if !strings.Contains(out.err.Error(), tt.named) {
				t.Errorf("error %q does not name the offered mechanisms %q", out.err, tt.named)
			}
			for _, l := range out.srv.lines {
				if strings.HasPrefix(l, "AUTH") || strings.Contains(l, "s3cret") {
					t.Errorf("client sent %q: no AUTH may follow", out.srv.lines)
				}
			}
			if out.srv.err != nil {
				t.Errorf("server: %v (the session must end with QUIT)", out.srv.err)
			}
		})
	}
}

// AuthAuto (the default) takes the strongest mechanism on offer.
func TestAuthAutoStrongest(t *testing.T) {
	for _, tt := range []struct {
		offered string
		tls     bool
		want    AuthType
	}{
		{"LOGIN PLAIN CRAM-MD5", false, AuthCRAMMD5},
		{"LOGIN PLAIN", true, AuthPlain},
		{"LOGIN", true, AuthLogin},
	} {
		got, err := chooseAuth(AuthAuto, offeredAuth(map[string]string{"AUTH": tt.offered}, true), tt.offered, false, tt.tls, false)
		if err != nil || got != tt.want {
			t.Errorf("auto with %q (tls %v) = %v, %v; want %v", tt.offered, tt.tls, got, err, tt.want)
		}
	}
}

// Issue 9 §1: AUTH requested with no password set is refused at Create,
// before any connection.
func TestAuthWithoutPassword(t *testing.T) {
	for _, auth := range []AuthType{AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5, AuthXOAUTH2} {
		o := pipeOpts()
		o.Auth, o.Password = auth, ""
		if _, err := newConfig(o); !errors.Is(err, ErrInvalidParam) || !strings.Contains(err.Error(), "password is empty") {
			t.Errorf("newConfig(Auth %v, no password) = %v, want ErrInvalidParam naming the password", auth, err)
		}
	}
	o := pipeOpts()
	o.Auth, o.Password = AuthNone, ""
	if _, err := newConfig(o); err != nil {
		t.Errorf("newConfig(AuthNone, no password) = %v, want nil", err)
	}
	o.Auth, o.Username = AuthAuto, ""
	if cfg, err := newConfig(o); err != nil || cfg.Auth != AuthNone {
		t.Errorf("newConfig(AuthAuto, no username) = %v, %v; want AuthNone", cfg.Auth, err)
	}
}

// Issue 9 §3 (library side): a pool too small for the longest command fails
// at Create with the size it needs (NX_SMTP_PACKET_ALLOCATE_ERROR and a
// message), not with the same status after the 2 s packet wait at MAIL FROM.
func TestPoolTooSmallFailsAtOnce(t *testing.T) {
	w := boardtest.NewWire(t, 0)
	b := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{})
	tiny, err := packetpool.New(packetpool.Options{Name: "tiny", PayloadSize: 64, Count: 4, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	o := pipeOpts()
	o.IP, o.Pool = b.IP, tiny
	start := time.Now()
	c, err := Create(o)
	if c != nil || !errors.Is(err, ErrPacketAllocate) || !strings.Contains(err.Error(), "at least 9 packets") {
		t.Fatalf("Create(4 packets of 64 bytes) = %v, %v; want NX_SMTP_PACKET_ALLOCATE_ERROR naming 9 packets", c, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("Create took %v", d) // informational: no timing assertion
	}
	o.Pool, _ = packetpool.New(packetpool.Options{Name: "enough", PayloadSize: 64, Count: 9, Clock: testClock()})
	c, err = Create(o)
	if err != nil {
		t.Fatalf("Create(9 packets of 64 bytes) = %v", err)
	}
	_ = c.Delete()
}

// Issue 9 §3 (library side): a body with 8-bit octets for a server without
// 8BITMIME is refused before MAIL FROM when the body can be read twice (a
// file, a bytes.Reader), not after DATA; the dialogue ends with QUIT.
func TestEightBitBodyRefusedBeforeMAIL(t *testing.T) {
	body := []byte("Subject-less body\r\ncaf\xc3\xa9 au lait\r\n")
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(body); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"file", f},
		{"bytes.Reader", bytes.NewReader(body)},
		{"long line in a file-like body", bytes.NewReader(append(bytes.Repeat([]byte("x"), 1200), "\r\n"...))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, reader: tt.r, size: -1},
				[]scriptStep{greet, ehloMin, quitOK})
			want := ErrNeeds8BitMIME
			if strings.Contains(tt.name, "long") {
				want = ErrLineTooLong
			}
			if !errors.Is(out.err, want) || !errors.Is(out.err, ErrInvalidParam) {
				t.Fatalf("session = %v, want %v (NX_SMTP_INVALID_PARAM)", out.err, want)
			}
			if out.srv.err != nil || len(out.srv.lines) != 2 || out.srv.lines[1] != "QUIT" {
				t.Errorf("server saw %q (%v), want EHLO then QUIT: no MAIL FROM", out.srv.lines, out.srv.err)
			}
		})
	}
	// A clean seekable body is checked, put back and sent whole.
	clean := []byte("line one\r\n.dot line\r\nline three\r\n")
	out := runPipe(t, noAuth(pipeOpts()), &mail{to: []string{"a@example.com"}, reader: bytes.NewReader(clean), size: -1},
		append([]scriptStep{greet, ehloMin}, okEnvelope("a@example.com")...))
	if out.err != nil || !bytes.HasSuffix(out.srv.data, []byte("line one\r\n..dot line\r\nline three\r\n")) {
		t.Fatalf("session = %v, server got %q; want the whole body after the pre-scan", out.err, out.srv.data)
	}
}
