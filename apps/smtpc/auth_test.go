package smtpc

import (
	"errors"
	"net/netip"
	"testing"
)

func netipZero() netip.Addr { return netip.Addr{} }

// TestChooseAuth covers issue 9 §1 "no silent auth downgrade" at the
// decision: see TestNoSilentAuthDowngrade for the wire.
func TestChooseAuth(t *testing.T) {
	all := []AuthType{AuthLogin, AuthCRAMMD5, AuthPlain}
	tests := []struct {
		name                     string
		cfg                      AuthType
		offered                  []AuthType
		netx, secure, allowPlain bool
		want                     AuthType
		err                      error
	}{
		{"none", AuthNone, all, false, false, false, AuthNone, nil},
		{"netx no AUTH keyword keeps", AuthLogin, nil, true, false, false, AuthLogin, nil},
		{"netx LOGIN offered", AuthLogin, all, true, false, false, AuthLogin, nil},
		{"netx LOGIN not offered -> PLAIN", AuthLogin, []AuthType{}, true, false, false, AuthPlain, nil},
		{"netx PLAIN not offered, LOGIN is", AuthPlain, []AuthType{AuthLogin}, true, false, false, AuthLogin, nil},
		{"netx PLAIN nothing offered", AuthPlain, []AuthType{AuthCRAMMD5}, true, false, false, AuthPlain, nil},
		{"configured offered", AuthCRAMMD5, all, false, false, false, AuthCRAMMD5, nil},
		// Issue 9 §1: an explicit mechanism is never replaced.
		{"CRAM not offered is an error, not PLAIN", AuthCRAMMD5, []AuthType{AuthPlain, AuthLogin}, false, true, false, 0, ErrAuthNotOffered},
		{"CRAM not offered is an error, not LOGIN", AuthCRAMMD5, []AuthType{AuthLogin}, false, true, false, 0, ErrAuthNotOffered},
		{"CRAM without any AUTH keyword", AuthCRAMMD5, nil, false, false, false, 0, ErrAuthNotOffered},
		{"XOAUTH2 not offered", AuthXOAUTH2, []AuthType{AuthPlain}, false, true, false, 0, ErrAuthNotOffered},
		{"XOAUTH2 offered", AuthXOAUTH2, []AuthType{AuthPlain, AuthXOAUTH2}, false, true, false, AuthXOAUTH2, nil},
		{"explicit PLAIN without TLS is refused, not CRAM", AuthPlain, all, false, false, false, 0, ErrPlaintextAuth},
		{"auto takes CRAM-MD5 first", AuthAuto, all, false, true, false, AuthCRAMMD5, nil},
		{"auto without TLS takes CRAM-MD5", AuthAuto, all, false, false, false, AuthCRAMMD5, nil},
		{"auto takes PLAIN over LOGIN", AuthAuto, []AuthType{AuthLogin, AuthPlain}, false, true, false, AuthPlain, nil},
		{"auto LOGIN only", AuthAuto, []AuthType{AuthLogin}, false, true, false, AuthLogin, nil},
		{"auto never picks XOAUTH2", AuthAuto, []AuthType{AuthXOAUTH2}, false, true, false, 0, ErrAuthNotOffered},
		{"auto clear text refused without TLS", AuthAuto, []AuthType{AuthPlain, AuthLogin}, false, false, false, 0, ErrPlaintextAuth},
		{"auto clear text allowed", AuthAuto, []AuthType{AuthPlain, AuthLogin}, false, false, true, AuthPlain, nil},
		{"auto no AUTH keyword", AuthAuto, nil, false, true, false, 0, ErrAuthNotOffered},
		{"plaintext refused", AuthPlain, []AuthType{AuthPlain, AuthLogin}, false, false, false, 0, ErrPlaintextAuth},
		{"XOAUTH2 refused without TLS", AuthXOAUTH2, append(all, AuthXOAUTH2), false, false, false, 0, ErrPlaintextAuth},
		{"plaintext allowed", AuthPlain, []AuthType{AuthPlain}, false, false, true, AuthPlain, nil},
		{"plaintext under TLS", AuthLogin, all, false, true, false, AuthLogin, nil},
		{"no keyword, no TLS, refused", AuthPlain, nil, false, false, false, 0, ErrPlaintextAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseAuth(tt.cfg, tt.offered, "X Y", tt.netx, tt.secure, tt.allowPlain)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ErrAuthentication) {
					t.Fatalf("chooseAuth() = %v, %v; want %v (NX_SMTP_AUTHENTICATION_ERROR)", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("chooseAuth(%v, %v) = %v, %v; want %v", tt.cfg, tt.offered, got, err, tt.want)
			}
		})
	}
}

func TestMechanisms(t *testing.T) {
	// RFC 2195's example exchange.
	m := mechanism{typ: AuthCRAMMD5, user: "tim", secret: "tanstaaftanstaaf"}
	got, err := m.respond("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
	if err != nil || string(got) != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Errorf("CRAM-MD5 respond = %q, %v; want RFC 2195's answer", got, err)
	}
	if _, err := m.respond("x"); err == nil {
		t.Errorf("CRAM-MD5 second challenge accepted")
	}
	tests := []struct {
		name  string
		m     mechanism
		chals []string
		want  []string // "" entries with wantErr
		err   int      // index of the challenge that must fail, -1 none
	}{
		{"PLAIN", mechanism{typ: AuthPlain, user: "u", secret: "p"}, []string{""}, []string{"\x00u\x00p"}, -1},
		{"PLAIN netx", mechanism{typ: AuthPlain, user: "u", secret: "p", netx: true}, []string{""}, []string{"u\x00u\x00p"}, -1},
		{"LOGIN netx", mechanism{typ: AuthLogin, user: "u", secret: "p", netx: true}, []string{"VXNlcm5hbWU6", "UGFzc3dvcmQ6"}, []string{"u", "p"}, -1},
		{"LOGIN netx password first", mechanism{typ: AuthLogin, user: "u", secret: "p", netx: true}, []string{"UGFzc3dvcmQ6", "VXNlcm5hbWU6"}, []string{"p", "u"}, -1},
		{"LOGIN netx odd prompt", mechanism{typ: AuthLogin, user: "u", secret: "p", netx: true}, []string{"VXNlciBOYW1l"}, nil, 0},
		{"LOGIN default", mechanism{typ: AuthLogin, user: "u", secret: "p"}, []string{"eA==", "eQ==", "eg=="}, []string{"u", "p"}, 2},
		{"XOAUTH2", mechanism{typ: AuthXOAUTH2, user: "u", secret: "tok"}, []string{"", "eyJ9", ""}, []string{"user=u\x01auth=Bearer tok\x01\x01", ""}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, c := range tt.chals {
				got, err := tt.m.respond(c)
				if i == tt.err {
					if err == nil {
						t.Errorf("respond(%q) = %q, want an error", c, got)
					}
					return
				}
				if err != nil || string(got) != tt.want[i] {
					t.Errorf("respond(%q) = %q, %v; want %q", c, got, err, tt.want[i])
				}
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	if got := ErrMailReply.Error(); got != "smtpc: NX_SMTP_MAIL_REPLY_ERROR (0xA9)" {
		t.Errorf("ErrMailReply.Error() = %q", got)
	}
	if got := ErrClientNotInitialized.Name(); got != "NX_SMTP_CLIENT_NOT_INTIALIZED" {
		t.Errorf("ErrClientNotInitialized.Name() = %q", got)
	}
	if got := Status(0xC0).String(); got != "status 0xC0" {
		t.Errorf("Status(0xC0).String() = %q", got)
	}
	for s := ErrAuthentication; s <= ErrClientNotInitialized; s++ {
		if s.Name() == "" {
			t.Errorf("Status 0x%02X has no name", uint32(s))
		}
	}
	re := &ReplyError{Code: 550, Enhanced: "5.1.1", Msg: "no such user", Stage: "RCPT TO:<bob@example.com>"}
	err := withStatus(ErrRcptReply, re)
	var got *ReplyError
	if !errors.Is(err, ErrRcptReply) || !errors.As(err, &got) || got != re {
		t.Errorf("withStatus(ErrRcptReply, re): Is/As failed for %v", err)
	}
	if want := "smtpc: RCPT TO:<bob@example.com>: permanent failure: 550 5.1.1 no such user [NX_SMTP_RCPT_REPLY_ERROR (0xAA)]"; err.Error() != want {
		t.Errorf("error text = %q, want %q", err.Error(), want)
	}
	if NetXStatus(err) != 0xAA || NetXStatus(nil) != 0 {
		t.Errorf("NetXStatus() = 0x%X, 0x%X; want 0xAA, 0", NetXStatus(err), NetXStatus(nil))
	}
	if AuthCRAMMD5.String() != "CRAM-MD5" || AuthType(7).String() != "AuthType(0x7)" {
		t.Errorf("AuthType strings = %q, %q", AuthCRAMMD5.String(), AuthType(7).String())
	}
}
