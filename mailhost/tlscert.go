package mailhost

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// SelfSigned generates a self-signed ECDSA P-256 server certificate valid
// for the given host names and IP addresses (each entry that parses as an
// IP becomes an IP SAN, every other one a DNS SAN) and returns it with a
// pool holding it, so a client can trust exactly this certificate
// (tls.Config{RootCAs: pool}) or refuse it by not using the pool. With no
// hosts the certificate covers "localhost", 127.0.0.1 and ::1.
//
// The certificate is its own CA (IsCA, KeyUsageCertSign) and is valid from
// 2000-01-01 (so a board on a simulated clock, which starts at a fixed
// epoch such as sim.DefaultEpoch and checks certificates at its own time,
// accepts it) until one year from now, wall-clock time. It does not block on the
// network and is safe for concurrent use. CertOptions.Rand (SelfSignedWith)
// makes the same certificate in every run.
func SelfSigned(hosts ...string) (tls.Certificate, *x509.CertPool, error) {
	return SelfSignedWith(CertOptions{Hosts: hosts})
}

// selfSignedEpoch is where SelfSigned's validity starts.
var selfSignedEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// CertOptions configure SelfSignedWith. The zero value is SelfSigned().
type CertOptions struct {
	// Hosts are the names and addresses the certificate covers, as for
	// SelfSigned. nil means "localhost", 127.0.0.1 and ::1.
	Hosts []string
	// Rand, when set, makes the certificate a function of its bytes: the
	// key is Ed25519 from a 32-byte seed read from it
	// (ed25519.NewKeyFromSeed; Ed25519 signatures are deterministic) and
	// the 127-bit serial number comes from the next 16 bytes, so the same
	// seeded source (sim.Rand("cert")) and Now give the same DER bytes in
	// every run. This is deliberately not ECDSA: Go ignores custom readers
	// in ecdsa.GenerateKey and randomises ECDSA signatures. nil means an
	// ECDSA P-256 key and serial from crypto/rand, as SelfSigned.
	Rand io.Reader
	// Now starts the validity: NotBefore is one hour before it and NotAfter
	// one year after it. Pass the mail host's clock (a sim.Clock's Now).
	// The zero time means time.Now(), with NotBefore 2000-01-01 (see
	// SelfSigned). A client checks validity against its
	// tls.Config.Time (wall time by default): with a simulated epoch in the
	// past, set the client's Time too, or a Now within the year.
	Now time.Time
}

// SelfSignedWith is SelfSigned with options: a deterministic certificate
// from a seeded source and a validity from a given clock. Errors: an empty
// host name, or a Rand that cannot supply 48 bytes.
func SelfSignedWith(opts CertOptions) (tls.Certificate, *x509.CertPool, error) {
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	var (
		key    crypto.Signer
		pub    any
		serial *big.Int
	)
	if opts.Rand != nil {
		var b [ed25519.SeedSize + 16]byte
		if _, err := io.ReadFull(opts.Rand, b[:]); err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("mailhost: self-signed: reading CertOptions.Rand: %w", err)
		}
		k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		key, pub = k, k.Public()
		s := b[ed25519.SeedSize:]
		s[0] &= 0x7f // 127 bits, as the crypto/rand serial
		serial = new(big.Int).SetBytes(s)
		if serial.Sign() == 0 {
			serial.SetInt64(1) // RFC 5280: positive
		}
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("mailhost: self-signed: key: %w", err)
		}
		key, pub = k, &k.PublicKey
		serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("mailhost: self-signed: serial: %w", err)
		}
	}
	now := opts.Now
	notBefore := now.Add(-time.Hour)
	if now.IsZero() {
		now = time.Now()
		notBefore = selfSignedEpoch
	}
	now = now.UTC().Truncate(time.Second) // what the DER holds
	notBefore = notBefore.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"simboard mailhost"}},
		NotBefore:             notBefore,
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if h == "" {
			return tls.Certificate{}, nil, errors.New("mailhost: self-signed: empty host name")
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	// The reader is only used by randomised signature schemes (ECDSA);
	// Ed25519 reads nothing from it.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("mailhost: self-signed: create: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("mailhost: self-signed: parse: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
