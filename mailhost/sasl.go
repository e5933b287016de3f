package mailhost

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"io"

	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// SASL mechanism names the host implements (Options.AuthMechanisms).
const (
	MechPlain       = "PLAIN"       // RFC 4616
	MechLogin       = "LOGIN"       // draft-murchison-sasl-login
	MechCRAMMD5     = "CRAM-MD5"    // RFC 2195
	MechXOAUTH2     = "XOAUTH2"     // Google's bearer-token mechanism
	MechOAUTHBEARER = "OAUTHBEARER" // RFC 7628
)

var allMechanisms = []string{MechPlain, MechLogin, MechCRAMMD5, MechXOAUTH2, MechOAUTHBEARER}

// plaintextMech reports whether a mechanism sends a reusable secret in the
// clear; those need TLS unless Options.AllowInsecureAuth.
func plaintextMech(m string) bool { return m != MechCRAMMD5 }

var (
	errAuthFailed    = errors.New("mailhost: authentication failed")
	errSASLMalformed = errors.New("mailhost: malformed SASL response")
	errSASLSequence  = errors.New("mailhost: unexpected SASL response")
)

// credentials answers password and token look-ups for the SASL servers.
// It is immutable after New.
type credentials struct {
	users  map[string]userEntry // key: lower-cased name
	tokens map[string]string    // lower-cased name -> bearer token; nil = password
}

type userEntry struct{ name, password string }

func newCredentials(users, tokens map[string]string) *credentials {
	c := &credentials{users: make(map[string]userEntry, len(users))}
	for u, p := range users {
		c.users[strings.ToLower(u)] = userEntry{u, p}
	}
	if tokens != nil {
		c.tokens = make(map[string]string, len(tokens))
		for u, t := range tokens {
			c.tokens[strings.ToLower(u)] = t
		}
	}
	return c
}

func (c *credentials) lookup(user string) (userEntry, bool) {
	e, ok := c.users[strings.ToLower(user)]
	return e, ok
}

// checkPassword returns the canonical user name when password is right.
func (c *credentials) checkPassword(user, password string) (string, error) {
	e, ok := c.lookup(user)
	if !ok || subtle.ConstantTimeCompare([]byte(e.password), []byte(password)) != 1 {
		return "", errAuthFailed
	}
	return e.name, nil
}

func (c *credentials) token(user string) (string, bool) {
	e, ok := c.lookup(user)
	if !ok {
		return "", false
	}
	if c.tokens == nil {
		return e.password, true
	}
	t, ok := c.tokens[strings.ToLower(user)]
	return t, ok
}

func (c *credentials) checkToken(user, token string) (string, error) {
	want, ok := c.token(user)
	if !ok || want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(token)) != 1 {
		return "", errAuthFailed
	}
	e, _ := c.lookup(user)
	return e.name, nil
}

// newSASLServer returns the server side of mech. ok is called once with the
// canonical user name when authentication succeeds. challengeDomain is used
// in the CRAM-MD5 challenge, with clk's reading and 4 bytes from r.
func newSASLServer(mech string, c *credentials, domain string, clk func() int64, r io.Reader, ok func(user string)) (sasl.Server, error) {
	switch mech {
	case MechPlain:
		return &plainServer{c: c, ok: ok}, nil
	case MechLogin:
		return &loginServer{c: c, ok: ok}, nil
	case MechCRAMMD5:
		var b [4]byte
		_, _ = io.ReadFull(r, b[:]) // crypto/rand or a seeded stream: never fails
		ch := fmt.Sprintf("<%d.%d@%s>", binary.BigEndian.Uint32(b[:]), clk(), domain)
		return &cramServer{c: c, ok: ok, challenge: ch}, nil
	case MechXOAUTH2:
		return &bearerServer{c: c, ok: ok, parse: parseXOAUTH2}, nil
	case MechOAUTHBEARER:
		return &bearerServer{c: c, ok: ok, parse: parseOAUTHBEARER}, nil
	}
	return nil, fmt.Errorf("mailhost: unknown SASL mechanism %q", mech)
}

// plainServer implements PLAIN (RFC 4616): authzid NUL authcid NUL passwd.
// An authzid other than empty or the authcid itself is refused.
type plainServer struct {
	c    *credentials
	ok   func(string)
	done bool
}

func (s *plainServer) Next(resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errSASLSequence
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	s.done = true
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, true, errSASLMalformed
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && !strings.EqualFold(authz, user) {
		return nil, true, errAuthFailed
	}
	name, err := s.c.checkPassword(user, pass)
	if err != nil {
		return nil, true, err
	}
	s.ok(name)
	return nil, true, nil
}

// loginServer implements LOGIN: "Username:" and "Password:" prompts. An
// initial response is taken as the user name.
type loginServer struct {
	c     *credentials
	ok    func(string)
	step  int
	user  string
	ended bool
}

func (s *loginServer) Next(resp []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, true, errSASLSequence
	}
	switch s.step {
	case 0:
		s.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		s.user = string(resp)
		s.step = 2
		return []byte("Password:"), false, nil
	default:
		s.ended = true
		name, err := s.c.checkPassword(s.user, string(resp))
		if err != nil {
			return nil, true, err
		}
		s.ok(name)
		return nil, true, nil
	}
}

// cramServer implements CRAM-MD5 (RFC 2195): the response is
// "user SP lower-case-hex(HMAC-MD5(password, challenge))".
type cramServer struct {
	c         *credentials
	ok        func(string)
	challenge string
	sent      bool
	ended     bool
}

func (s *cramServer) Next(resp []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, true, errSASLSequence
	}
	if !s.sent {
		s.sent = true
		if len(resp) > 0 {
			s.ended = true
			return nil, true, errSASLSequence // CRAM-MD5 has no initial response
		}
		return []byte(s.challenge), false, nil
	}
	s.ended = true
	i := bytes.LastIndexByte(resp, ' ')
	if i <= 0 {
		return nil, true, errSASLMalformed
	}
	user, digest := string(resp[:i]), string(resp[i+1:])
	e, found := s.c.lookup(user)
	mac := hmac.New(md5.New, []byte(e.password))
	mac.Write([]byte(s.challenge))
	want := hex.EncodeToString(mac.Sum(nil))
	if !found || subtle.ConstantTimeCompare([]byte(want), []byte(digest)) != 1 {
		return nil, true, errAuthFailed
	}
	s.ok(e.name)
	return nil, true, nil
}

// bearerServer implements XOAUTH2 and OAUTHBEARER (RFC 7628). On failure it
// sends the JSON error challenge both mechanisms define, waits for the
// client's dummy response, then fails.
type bearerServer struct {
	c      *credentials
	ok     func(string)
	parse  func([]byte) (user, token string, err error)
	failed error
	ended  bool
	asked  bool
}

func (s *bearerServer) Next(resp []byte) ([]byte, bool, error) {
	if s.ended {
		return nil, true, errSASLSequence
	}
	if s.failed != nil {
		s.ended = true
		return nil, true, s.failed
	}
	if resp == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	user, token, err := s.parse(resp)
	if err == nil {
		var name string
		name, err = s.c.checkBearer(user, token)
		if err == nil {
			s.ended = true
			s.ok(name)
			return nil, true, nil
		}
	}
	s.failed = err
	return []byte(`{"status":"401","schemes":"bearer","scope":"mail"}`), false, nil
}

func (c *credentials) checkBearer(user, token string) (string, error) {
	if user != "" {
		return c.checkToken(user, token)
	}
	for _, e := range c.users {
		if name, err := c.checkToken(e.name, token); err == nil {
			return name, nil
		}
	}
	return "", errAuthFailed
}

// parseXOAUTH2 parses "user=" user ^A "auth=Bearer " token ^A ^A.
func parseXOAUTH2(b []byte) (user, token string, err error) {
	for _, f := range bytes.Split(b, []byte{1}) {
		k, v, ok := bytes.Cut(f, []byte{'='})
		if !ok {
			continue
		}
		switch string(k) {
		case "user":
			user = string(v)
		case "auth":
			t, ok := cutPrefixFold(string(v), "bearer ")
			if !ok {
				return "", "", errSASLMalformed
			}
			token = t
		}
	}
	if user == "" || token == "" {
		return "", "", errSASLMalformed
	}
	return user, token, nil
}

// parseOAUTHBEARER parses the GS2 header "n,a=user," then ^A-separated
// key=value pairs with "auth=Bearer token".
func parseOAUTHBEARER(b []byte) (user, token string, err error) {
	parts := bytes.SplitN(b, []byte{','}, 3)
	if len(parts) != 3 || string(parts[0]) != "n" {
		return "", "", errSASLMalformed
	}
	if len(parts[1]) > 0 {
		u, ok := bytes.CutPrefix(parts[1], []byte("a="))
		if !ok {
			return "", "", errSASLMalformed
		}
		user = string(u)
	}
	for _, f := range bytes.Split(parts[2], []byte{1}) {
		k, v, ok := bytes.Cut(f, []byte{'='})
		if ok && string(k) == "auth" {
			t, ok := cutPrefixFold(string(v), "bearer ")
			if !ok {
				return "", "", errSASLMalformed
			}
			token = t
		}
	}
	if token == "" {
		return "", "", errSASLMalformed
	}
	return user, token, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
