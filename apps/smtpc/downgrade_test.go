package smtpc

import (
	"errors"
	"strings"
	"testing"
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
