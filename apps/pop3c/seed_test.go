package pop3c

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"
)

// TestTLSRandFromOptions: Options.Rand becomes tls.Config.Rand on a clone of
// TLSConfig (the caller's config is never modified; its own Rand wins);
// equal seeds give equal TLS randomness; a source that runs dry fails
// Create with ErrParam; no Rand leaves crypto/rand.
func TestTLSRandFromOptions(t *testing.T) {
	seed := func(b byte) io.Reader { return mrand.NewChaCha8([32]byte{b}) }
	user := &tls.Config{ServerName: "mail.example.com"}
	norm := func(r io.Reader, cfg *tls.Config) *tls.Config {
		t.Helper()
		o, err := Options{Name: "n", Password: "p", Server: testServer, Pool: newTestPool(t, "p", 1536, 8), TLSConfig: cfg, Rand: r}.normalize()
		if err != nil {
			t.Fatalf("normalize() = %v", err)
		}
		return o.tlsConfig()
	}
	a, b := norm(seed(3), user), norm(seed(3), user)
	if a == user || a.Rand == nil || user.Rand != nil || a.ServerName != "mail.example.com" {
		t.Fatalf("tlsConfig() = %p (Rand %v), caller's %p (Rand %v): want a clone with Rand, the caller's untouched", a, a.Rand, user, user.Rand)
	}
	x, y := make([]byte, 16), make([]byte, 16)
	_, _ = io.ReadFull(a.Rand, x)
	_, _ = io.ReadFull(b.Rand, y)
	if !bytes.Equal(x, y) {
		t.Fatalf("TLS randomness from equal seeds: %x vs %x", x, y)
	}
	_, _ = io.ReadFull(norm(seed(4), user).Rand, y)
	if bytes.Equal(x, y) {
		t.Fatalf("TLS randomness from seeds 3 and 4 are both %x", x)
	}
	own := &tls.Config{ServerName: "mail.example.com", Rand: bytes.NewReader(nil)}
	if c := norm(seed(3), own); c.Rand != own.Rand {
		t.Fatalf("TLSConfig's own Rand was replaced")
	}
	if c := norm(nil, nil); c.Rand != nil {
		t.Fatalf("without Rand, tlsConfig().Rand = %v, want nil (crypto/rand)", c.Rand)
	}
	if c := norm(seed(3), nil); c.Rand == nil {
		t.Fatalf("with Rand and no TLSConfig, tlsConfig().Rand = nil")
	}
	_, err := Options{Name: "n", Password: "p", Server: testServer, Pool: newTestPool(t, "p", 1536, 8), Rand: bytes.NewReader(nil)}.normalize()
	if !errors.Is(err, ErrParam) {
		t.Fatalf("normalize(Rand with no bytes) = %v, want ErrParam", err)
	}
}
