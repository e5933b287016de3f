package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/mailhost"
)

// handshake runs a TLS handshake between cfg and a server presenting cert
// and returns the client's error and the SNI the server saw.
func handshake(t *testing.T, cfg *tls.Config, cert tls.Certificate) (sni string, err error) {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	sniCh := make(chan string, 1)
	go func() {
		srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}, GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sniCh <- h.ServerName
			return nil, nil
		}})
		srv.SetDeadline(time.Now().Add(5 * time.Second))
		_ = srv.Handshake()
		s.Close()
	}()
	cl := tls.Client(c, cfg)
	cl.SetDeadline(time.Now().Add(5 * time.Second))
	err = cl.Handshake()
	select {
	case name := <-sniCh:
		return name, err
	case <-time.After(5 * time.Second):
		return "<no hello>", err
	}
}

// TestTLSServerName: on a TAP the certificate is verified against the
// --server value (an IP SAN, no SNI for an IP) or --tls-server-name (sent
// as SNI), never against the built-in host's name; on the Wire the
// built-in host's name is used because it is the peer.
func TestTLSServerName(t *testing.T) {
	// A real server's certificate: IP SAN 198.51.100.1 and mx.example.test.
	realCert, _, err := mailhost.SelfSigned("mx.example.test", "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeRootsPEM(t, caFile, realCert)
	tap := func(server, name string) *session {
		n := &netFlags{tap: "tap0", server: server, tlsServerName: name, caFile: caFile}
		return &session{n: n}
	}
	for _, tc := range []struct {
		name     string
		s        *session
		wantName string
		wantSNI  string
		ok       bool
	}{
		{"tap/ip-san", tap("198.51.100.1", ""), "198.51.100.1", "", true},
		{"tap/override-sni", tap("198.51.100.1", "mx.example.test"), "mx.example.test", "mx.example.test", true},
		{"tap/wrong-ip", tap("198.51.100.9", ""), "198.51.100.9", "", false},
		{"tap/wrong-name", tap("198.51.100.1", "mail.simboard.test"), "mail.simboard.test", "mail.simboard.test", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.s.tlsConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ServerName != tc.wantName || cfg.InsecureSkipVerify {
				t.Fatalf("tlsConfig().ServerName = %q (skip verify %v), want %q, verified", cfg.ServerName, cfg.InsecureSkipVerify, tc.wantName)
			}
			sni, herr := handshake(t, cfg, realCert)
			if (herr == nil) != tc.ok {
				t.Errorf("handshake = %v, want ok %v", herr, tc.ok)
			}
			if sni != tc.wantSNI {
				t.Errorf("SNI = %q, want %q", sni, tc.wantSNI)
			}
		})
	}
	// On the Wire the peer is the built-in host: its name, its CA.
	_, roots, _ := mailhost.SelfSigned(demoMailHost, "198.51.100.1")
	cfg, _ := (&session{n: &netFlags{server: "198.51.100.1"}, roots: roots, builtin: true}).tlsConfig()
	if cfg.ServerName != demoMailHost || cfg.RootCAs != roots {
		t.Errorf("on the Wire: ServerName %q, want %q with the built-in host's CA", cfg.ServerName, demoMailHost)
	}
}

func writeRootsPEM(t *testing.T, path string, cert tls.Certificate) {
	t.Helper()
	// SelfSigned's certificate is its own CA.
	der := cert.Certificate[0]
	if _, err := x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestErrorTextsNameFlags: a failure names the CLI flag to use, never a
// library option.
func TestErrorTextsNameFlags(t *testing.T) {
	for _, err := range []error{
		smtpc.ErrPlaintextAuth,
		errors.Join(errors.New("smtpc: refusing"), smtpc.ErrPlaintextAuth),
		errors.New("smtpc: no STARTTLS (set Options.AllowPlaintextAuth or Options.TLS)"),
	} {
		msg := describe(err)
		if strings.Contains(msg, "Options.") || !strings.Contains(msg, "--tls") {
			t.Errorf("describe(%q) = %q: want the --tls flag, no Options field", err, msg)
		}
	}
}
