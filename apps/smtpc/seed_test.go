package smtpc

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/netip"
	"regexp"
	"testing"
	"time"
)

// seedReader is a seeded source, as sim.Rand gives one.
func seedReader(seed byte) io.Reader { return mrand.NewChaCha8([32]byte{seed}) }

// messageIDOf builds a client config from opts and returns the Message-ID
// its first mail gets at the given Date.
func messageIDOf(t *testing.T, opts Options, date time.Time) string {
	t.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatalf("newConfig() = %v", err)
	}
	m := &mail{to: []string{"bob@example.com"}, body: []byte("hi\r\n")}
	if err := cfg.prepare(m, date, nil); err != nil {
		t.Fatalf("prepare() = %v", err)
	}
	return m.messageID
}

// TestMessageIDFromRand: Options.Rand and the Date (the IP's clock) decide
// the Message-ID: the same seed and date give the same ID, another seed or
// date another; without Rand the IDs are random (crypto/rand).
func TestMessageIDFromRand(t *testing.T) {
	base := Options{From: "board@example.com", ServerAddr: netip.MustParseAddr("198.51.100.1"), TLS: TLSOff}
	with := func(r io.Reader) Options { o := base; o.Rand = r; return o }
	a := messageIDOf(t, with(seedReader(7)), testDate)
	if b := messageIDOf(t, with(seedReader(7)), testDate); a != b {
		t.Fatalf("Message-ID with the same seed and date: %q, then %q", a, b)
	}
	if !regexp.MustCompile(`^[0-9a-f]{24}\.20[0-9]{12}@example\.com$`).MatchString(a) {
		t.Fatalf("Message-ID %q, want <24 hex>.<yyyymmddhhmmss>@example.com", a)
	}
	if b := messageIDOf(t, with(seedReader(8)), testDate); a == b {
		t.Fatalf("Message-ID with seeds 7 and 8 are both %q", a)
	}
	if b := messageIDOf(t, with(seedReader(7)), testDate.Add(time.Second)); a == b {
		t.Fatalf("Message-ID one second apart are both %q", a)
	}
	if x, y := messageIDOf(t, base, testDate), messageIDOf(t, base, testDate); x == y {
		t.Fatalf("two Message-IDs without Rand are both %q", x)
	}
	// A source that cannot supply the client's keys fails Create clearly.
	if _, err := newConfig(with(bytes.NewReader(make([]byte, 10)))); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("newConfig(Rand with 10 bytes) = %v, want ErrInvalidParam", err)
	}
}

// TestTLSRandFromOptions: Options.Rand becomes tls.Config.Rand of the
// client's clone; the caller's TLSConfig is never modified, and its own Rand
// wins.
func TestTLSRandFromOptions(t *testing.T) {
	user := &tls.Config{ServerName: "mail.example.com"}
	opts := Options{From: "board@example.com", ServerAddr: netip.MustParseAddr("198.51.100.1"), TLS: TLSRequired,
		TLSConfig: user, Rand: seedReader(1)}
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatalf("newConfig() = %v", err)
	}
	if cfg.tls == user || cfg.tls.Rand == nil || user.Rand != nil {
		t.Fatalf("client TLS config %p Rand %v, caller's %p Rand %v: want a clone with Rand, the caller's untouched", cfg.tls, cfg.tls.Rand, user, user.Rand)
	}
	// Two clients from equal seeds draw the same TLS bytes; the stream is
	// not the Message-ID's.
	cfg2, _ := newConfig(Options{From: "board@example.com", ServerAddr: netip.MustParseAddr("198.51.100.1"), TLS: TLSRequired,
		TLSConfig: user, Rand: seedReader(1)})
	b1, b2, id := make([]byte, 16), make([]byte, 16), make([]byte, 16)
	_, _ = io.ReadFull(cfg.tls.Rand, b1)
	_, _ = io.ReadFull(cfg2.tls.Rand, b2)
	_, _ = io.ReadFull(cfg2.idRand, id)
	if !bytes.Equal(b1, b2) || bytes.Equal(b1, id) {
		t.Fatalf("TLS bytes %x and %x (want equal), Message-ID bytes %x (want different)", b1, b2, id)
	}
	own := &tls.Config{ServerName: "mail.example.com", Rand: bytes.NewReader(nil)}
	opts.TLSConfig = own
	cfg, _ = newConfig(opts)
	if cfg.tls.Rand != own.Rand {
		t.Fatalf("TLSConfig's own Rand was replaced")
	}
	opts.TLSConfig, opts.Rand = nil, nil
	cfg, _ = newConfig(opts)
	if cfg.tls.Rand != nil {
		t.Fatalf("without Options.Rand the TLS config's Rand = %v, want nil (crypto/rand)", cfg.tls.Rand)
	}
}
