package smtpc

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// AuthType mirrors the NX_SMTP_CLIENT_AUTH_* values of
// nxd_smtp_client_create, plus XOAUTH2.
type AuthType uint32

// Authentication types. The numeric values are NetX's, so ported code can
// pass its constants through.
const (
	// AuthAuto (the zero value) picks the strongest mechanism the server
	// offers: CRAM-MD5, then PLAIN, then LOGIN (XOAUTH2 only when chosen),
	// skipping those that would send the password in clear without TLS
	// unless AllowPlaintextAuth. No Username means AuthNone. In ProfileNetX
	// the zero type is PLAIN, as nxd_smtp_client_create makes it.
	AuthAuto    AuthType = 0
	AuthLogin   AuthType = 1      // NX_SMTP_CLIENT_AUTH_LOGIN
	AuthCRAMMD5 AuthType = 2      // NX_SMTP_CLIENT_AUTH_CRAM_MD5 (NetX: defined but coerced to PLAIN)
	AuthPlain   AuthType = 3      // NX_SMTP_CLIENT_AUTH_PLAIN
	AuthXOAUTH2 AuthType = 0x100  // XOAUTH2 (no NetX equivalent): Password holds the OAuth 2.0 access token
	AuthNone    AuthType = 0xFFFF // NX_SMTP_CLIENT_AUTH_NONE: never authenticate
)

// String returns the SASL mechanism name ("PLAIN", "LOGIN", "CRAM-MD5",
// "XOAUTH2"), "AUTO", "NONE", or "AuthType(0xN)".
func (a AuthType) String() string {
	switch a {
	case AuthAuto:
		return "AUTO"
	case AuthLogin:
		return "LOGIN"
	case AuthCRAMMD5:
		return "CRAM-MD5"
	case AuthPlain:
		return "PLAIN"
	case AuthXOAUTH2:
		return "XOAUTH2"
	case AuthNone:
		return "NONE"
	}
	return "AuthType(0x" + strings.ToUpper(hexString(uint32(a))) + ")"
}

func hexString(v uint32) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[i:])
}

// plaintext reports whether the mechanism sends the secret itself (readable
// by anyone on the path without TLS).
func (a AuthType) plaintext() bool { return a == AuthPlain || a == AuthLogin || a == AuthXOAUTH2 }

// offeredAuth returns the mechanisms of the EHLO AUTH lines ("AUTH LOGIN
// PLAIN", also the old "AUTH=LOGIN" form), upper-cased. nil means no AUTH
// keyword at all; an empty non-nil slice means AUTH with nothing usable.
func offeredAuth(caps map[string]string, present bool) []AuthType {
	if !present {
		return nil
	}
	out := []AuthType{}
	for _, f := range strings.Fields(caps["AUTH"]) {
		switch strings.ToUpper(f) {
		case "LOGIN":
			out = append(out, AuthLogin)
		case "PLAIN":
			out = append(out, AuthPlain)
		case "CRAM-MD5":
			out = append(out, AuthCRAMMD5)
		case "XOAUTH2":
			out = append(out, AuthXOAUTH2)
		}
	}
	return out
}

func hasAuth(list []AuthType, a AuthType) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// autoOrder is AuthAuto's preference, strongest first: CRAM-MD5 never
// reveals the password, PLAIN sends it in one line, LOGIN in two.
var autoOrder = []AuthType{AuthCRAMMD5, AuthPlain, AuthLogin}

// offeredNames names the mechanisms of the EHLO AUTH lines for messages:
// "PLAIN LOGIN GSSAPI", or "none" when there is no AUTH keyword.
func offeredNames(caps map[string]string, present bool) string {
	f := strings.Fields(strings.ToUpper(caps["AUTH"]))
	if !present || len(f) == 0 {
		return "none"
	}
	return strings.Join(f, " ")
}

// chooseAuth picks the mechanism for a session. offered is nil when the EHLO
// reply has no AUTH keyword; names lists what it offers, for messages.
//
// Default profile, no silent downgrade: an explicitly chosen mechanism must
// be offered (else ErrAuthNotOffered naming the offer) and is never
// replaced; AuthAuto takes the strongest offered one (autoOrder). On a
// connection without TLS and without AllowPlaintextAuth, PLAIN, LOGIN and
// XOAUTH2 fail with ErrPlaintextAuth before any credential is sent (AuthAuto
// then only takes CRAM-MD5). AuthNone never authenticates.
//
// ProfileNetX keeps NetX's rules (reference §4.6): with no AUTH keyword the
// configured type is kept (AUTH is still sent; the server's reply decides);
// an offered configured type is used; otherwise LOGIN becomes PLAIN, and
// PLAIN becomes LOGIN when only LOGIN of the two is offered, else PLAIN.
// Plain text is allowed, as on the MCU.
func chooseAuth(cfg AuthType, offered []AuthType, names string, netx, secure, allowPlain bool) (AuthType, error) {
	if cfg == AuthNone {
		return AuthNone, nil
	}
	if netx {
		switch {
		case offered == nil, hasAuth(offered, cfg):
			return cfg, nil
		case cfg == AuthLogin:
			return AuthPlain, nil
		case hasAuth(offered, AuthLogin) && !hasAuth(offered, AuthPlain):
			return AuthLogin, nil
		}
		return AuthPlain, nil
	}
	clearOK := secure || allowPlain
	if cfg == AuthAuto {
		plainOffered := false
		for _, a := range autoOrder {
			if !hasAuth(offered, a) {
				continue
			}
			if clearOK || !a.plaintext() {
				return a, nil
			}
			plainOffered = true
		}
		if plainOffered {
			return 0, errorf(ErrAuthentication, "%w (offered: %s)", ErrPlaintextAuth, names)
		}
		return 0, errorf(ErrAuthentication, "%w: the server offers %s", ErrAuthNotOffered, names)
	}
	if cfg.plaintext() && !clearOK {
		// First: a server without TLS often hides AUTH, and TLS is
		// what is missing.
		return 0, errorf(ErrAuthentication, "%w (AUTH %v)", ErrPlaintextAuth, cfg)
	}
	if !hasAuth(offered, cfg) {
		return 0, errorf(ErrAuthentication, "%w: AUTH %v asked for, the server offers %s", ErrAuthNotOffered, cfg, names)
	}
	return cfg, nil
}

// mechanism runs the client side of one SASL exchange. Responses are raw
// (the caller base64-encodes them) and must never be logged.
type mechanism struct {
	typ          AuthType
	user, secret string
	netx         bool
	step         int
}

var errBadChallenge = errors.New("unexpected or undecodable challenge")

// respond answers the text of a 334 reply.
func (m *mechanism) respond(challenge string) ([]byte, error) {
	step := m.step
	m.step++
	switch m.typ {
	case AuthPlain:
		// NetX does not inspect the 334 text and sends
		// authzid = authcid = username; RFC 4616 allows an empty authzid,
		// which servers accept most widely.
		if step != 0 {
			return nil, errBadChallenge
		}
		authz := ""
		if m.netx {
			authz = m.user
		}
		return []byte(authz + "\x00" + m.user + "\x00" + m.secret), nil
	case AuthLogin:
		if m.netx {
			// NetX decodes the prompt and compares it with
			// "Username:" / "Password:" (case-insensitive).
			p, err := base64.StdEncoding.DecodeString(strings.TrimSpace(challenge))
			if err != nil {
				return nil, errBadChallenge
			}
			switch {
			case strings.EqualFold(string(p), "Username:"):
				return []byte(m.user), nil
			case strings.EqualFold(string(p), "Password:"):
				return []byte(m.secret), nil
			}
			return nil, errBadChallenge
		}
		// Prompts vary between servers ("Username:", "User Name",
		// localised): answer by position, as most clients do.
		switch step {
		case 0:
			return []byte(m.user), nil
		case 1:
			return []byte(m.secret), nil
		}
		return nil, errBadChallenge
	case AuthCRAMMD5:
		if step != 0 {
			return nil, errBadChallenge
		}
		c, err := base64.StdEncoding.DecodeString(strings.TrimSpace(challenge))
		if err != nil || len(c) == 0 {
			return nil, errBadChallenge
		}
		mac := hmac.New(md5.New, []byte(m.secret))
		mac.Write(c)
		return []byte(m.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
	case AuthXOAUTH2:
		switch step {
		case 0:
			return []byte("user=" + m.user + "\x01auth=Bearer " + m.secret + "\x01\x01"), nil
		case 1:
			// The server reports a failure as a 334 with a JSON
			// status; the client answers with an empty line and the
			// server then sends the final 5xx.
			return []byte{}, nil
		}
		return nil, errBadChallenge
	}
	return nil, errBadChallenge
}
