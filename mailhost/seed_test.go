package mailhost

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/sim"
)

// seedReader is a seeded source, as sim.Rand gives one.
func seedReader(seed byte) io.Reader { return mrand.NewChaCha8([32]byte{seed}) }

// TestSelfSignedWithSeed: with CertOptions.Rand and Now the certificate is
// a function of them (same seed and time, same DER bytes; another seed or
// time, another certificate); it is an Ed25519 CA valid around Now and a
// TLS handshake verifies it at that time; without Rand every call differs.
func TestSelfSignedWithSeed(t *testing.T) {
	now := sim.DefaultEpoch
	mk := func(seed byte, at time.Time) (tls.Certificate, *x509.CertPool) {
		t.Helper()
		c, p, err := SelfSignedWith(CertOptions{Hosts: []string{"mail.test", "198.51.100.1"}, Rand: seedReader(seed), Now: at})
		if err != nil {
			t.Fatalf("SelfSignedWith(seed %d) = %v", seed, err)
		}
		return c, p
	}
	a, pool := mk(7, now)
	b, _ := mk(7, now)
	if !bytes.Equal(a.Certificate[0], b.Certificate[0]) {
		t.Fatalf("two certificates from seed 7 at %v differ", now)
	}
	if c, _ := mk(8, now); bytes.Equal(a.Certificate[0], c.Certificate[0]) {
		t.Fatalf("certificates from seeds 7 and 8 are equal")
	}
	if c, _ := mk(7, now.Add(time.Hour)); bytes.Equal(a.Certificate[0], c.Certificate[0]) {
		t.Fatalf("certificates an hour apart are equal")
	}
	if _, ok := a.PrivateKey.(ed25519.PrivateKey); !ok {
		t.Fatalf("seeded key is %T, want ed25519.PrivateKey", a.PrivateKey)
	}
	if nb, na := a.Leaf.NotBefore, a.Leaf.NotAfter; !nb.Equal(now.Add(-time.Hour)) || !na.Equal(now.Add(365*24*time.Hour)) {
		t.Fatalf("validity %v .. %v, want an hour before %v for a year", nb, na, now)
	}
	if _, err := a.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "mail.test", CurrentTime: now}); err != nil {
		t.Fatalf("Verify at Now = %v", err)
	}
	// A TLS 1.3 handshake with the Ed25519 certificate, verified at the
	// simulated time.
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srvErr := make(chan error, 1)
	go func() {
		srvErr <- tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{a}}).Handshake()
	}()
	cli := tls.Client(cc, &tls.Config{RootCAs: pool, ServerName: "198.51.100.1", Time: func() time.Time { return now }})
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake = %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatalf("server handshake = %v", err)
	}
	// Without Rand: ECDSA from crypto/rand, a new certificate every call.
	x, _, err := SelfSigned("mail.test")
	y, _, err2 := SelfSigned("mail.test")
	if err != nil || err2 != nil || bytes.Equal(x.Certificate[0], y.Certificate[0]) {
		t.Fatalf("two SelfSigned() calls: errors %v, %v; equal=%v, want two different certificates", err, err2, bytes.Equal(x.Certificate[0], y.Certificate[0]))
	}
	if _, _, err := SelfSignedWith(CertOptions{Rand: bytes.NewReader(make([]byte, 40))}); err == nil {
		t.Fatalf("SelfSignedWith(Rand with 40 bytes) = nil error, want a clear error")
	}
}

// seededGreetings starts a host with the given Rand on a fixed clock and
// returns its POP3 greeting and the CRAM-MD5 challenge of its SMTP AUTH.
func seededGreetings(t *testing.T, r io.Reader) (pop3Greeting, cram string) {
	t.Helper()
	th := startHost(t, Options{Rand: r, Clock: sim.NewClock(time.Time{}), AllowInsecureAuth: true})
	p := dial(t, th.pop3)
	pop3Greeting = p.line()
	p.send("QUIT")
	p.line()
	s := dial(t, th.smtp)
	s.reply()
	s.expect("EHLO board.test", 250)
	s.send("AUTH CRAM-MD5")
	code, lines := s.reply()
	if code != 334 || len(lines) != 1 {
		t.Fatalf("AUTH CRAM-MD5 = %d %q, want 334 and a challenge", code, lines)
	}
	s.send("*")
	s.reply()
	s.expect("QUIT", 221)
	return pop3Greeting, lines[0]
}

// TestSeededBanners: the same Options.Rand and clock give the same APOP
// banner (<pid.clock@domain>, the pid drawn from Rand) and the same
// CRAM-MD5 challenge; another seed gives others; without Rand the banner
// holds the real process id.
func TestSeededBanners(t *testing.T) {
	g1, c1 := seededGreetings(t, seedReader(1))
	g2, c2 := seededGreetings(t, seedReader(1))
	if g1 != g2 || c1 != c2 {
		t.Fatalf("same seed and clock: greetings %q / %q, challenges %q / %q, want equal", g1, g2, c1, c2)
	}
	want := fmt.Sprintf(".%d@%s>", sim.DefaultEpoch.UnixNano(), DefaultDomain)
	if !strings.HasSuffix(g1, want) {
		t.Fatalf("greeting %q, want an APOP timestamp ending %q (the host's clock)", g1, want)
	}
	g3, c3 := seededGreetings(t, seedReader(2))
	if g3 == g1 || c3 == c1 {
		t.Fatalf("seeds 1 and 2: greetings %q / %q, challenges %q / %q, want different", g1, g3, c1, c3)
	}
	g4, _ := seededGreetings(t, nil)
	if !strings.Contains(g4, fmt.Sprintf("<%d.", os.Getpid())) {
		t.Fatalf("greeting without Rand %q, want the process id %d", g4, os.Getpid())
	}
}

// TestServerTLSRand: Options.Rand reaches the server's TLS on a clone; the
// caller's config is not modified and its own Rand wins.
func TestServerTLSRand(t *testing.T) {
	cert, _, err := SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	user := &tls.Config{Certificates: []tls.Certificate{cert}}
	h, err := New(Options{TLS: user, Rand: seedReader(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.srvTLS == user || h.srvTLS.Rand == nil || user.Rand != nil {
		t.Fatalf("server TLS %p (Rand %v), caller's %p (Rand %v): want a clone with Rand, the caller's untouched", h.srvTLS, h.srvTLS.Rand, user, user.Rand)
	}
	own := &tls.Config{Certificates: []tls.Certificate{cert}, Rand: bytes.NewReader(nil)}
	h2, err := New(Options{TLS: own, Rand: seedReader(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.srvTLS != own {
		t.Fatalf("a TLS config with its own Rand was replaced")
	}
	if _, err := New(Options{Rand: bytes.NewReader(make([]byte, 8))}); err == nil {
		t.Fatalf("New(Rand with 8 bytes) = nil error, want a clear error")
	}
}

// TestInnerTLSOnFarClock: a host whose clock is years from the wall clock
// and has no Rand still completes STARTTLS: the internal certificate
// between the interceptor and go-smtp is made and verified at the host's
// clock (it was made at wall time and verified at the host's clock, so the
// inner handshake failed).
func TestInnerTLSOnFarClock(t *testing.T) {
	th := startHost(t, Options{Clock: sim.NewClock(time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC))})
	c := dial(t, th.smtp)
	c.reply()
	c.expect("EHLO board.test", 250)
	c.expect("STARTTLS", 220)
	if err := c.upgrade(th.clientTLS()); err != nil {
		t.Fatalf("client handshake = %v", err)
	}
	c.expect("EHLO board.test", 250)
	c.expect("QUIT", 221)
}
