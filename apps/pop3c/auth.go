package pop3c

import (
	"context"
	"errors"
	"strings"

	"github.com/simboard/simboard/nx"
)

// Login sentinels, wrapped with nx.ErrNotSupported: the login stopped
// before any credential was sent.
var (
	// ErrPlaintextAuth: the only login left would send the password in
	// clear (USER/PASS or AUTH PLAIN on a connection without TLS) and
	// Options.AllowPlaintextAuth is false. smtpc applies the same rule
	// (smtpc.ErrPlaintextAuth).
	ErrPlaintextAuth = errors.New("pop3c: refusing to send the password in clear text without TLS (allow it with Options.AllowPlaintextAuth, or use TLS)")
	// ErrAPOPUnavailable: APOP was asked for (AuthAPOP) but the greeting
	// carries no valid <timestamp>, and Options.APOPFallback is false.
	ErrAPOPUnavailable = errors.New("pop3c: APOP asked for but the server greeting has no valid timestamp")
	// ErrAuthNotOffered: AUTH PLAIN was asked for (AuthPlain) but CAPA does
	// not list SASL PLAIN.
	ErrAuthNotOffered = errors.New("pop3c: AUTH PLAIN asked for but the server does not offer SASL PLAIN")
)

// login authenticates as Options.Auth says (see AuthMethod). ts is the
// greeting's APOP timestamp, nil when it has none or a malformed one.
func (c *Client) login(ctx context.Context, ts []byte) error {
	switch c.opts.Auth {
	case AuthUserPass:
		return c.userPass(ctx)
	case AuthPlain:
		if !c.caps.HasSASL("PLAIN") {
			return errf("login: %w (offered: %s): %w", ErrAuthNotOffered, c.saslOffered(), nx.ErrNotSupported)
		}
		return c.authPlain(ctx)
	case AuthAPOP:
		if ts == nil {
			if !c.opts.APOPFallback {
				return errf("login: %w: %w", ErrAPOPUnavailable, nx.ErrNotSupported)
			}
			// NetX clears its APOP flag and goes straight to USER/PASS.
			c.log.Info("pop3c: greeting has no APOP timestamp; falling back to USER/PASS (APOPFallback)")
			return c.userPass(ctx)
		}
		err := c.apop(ctx, ts)
		var re *ReplyError
		if err == nil || !c.opts.APOPFallback || !errors.As(err, &re) {
			return err
		}
		// NetX (nxd_pop3_client.c) answers any -ERR to APOP with
		// USER/PASS; only when the caller asked for that fallback.
		c.log.Info("pop3c: APOP refused; falling back to USER/PASS (APOPFallback)", "reply", re.Msg)
		return c.userPass(ctx)
	}
	// AuthAuto: the strongest login on offer, one attempt.
	switch {
	case ts != nil:
		return c.apop(ctx, ts)
	case c.caps.HasSASL("PLAIN"):
		return c.authPlain(ctx)
	}
	return c.userPass(ctx)
}

// saslOffered lists the SASL mechanisms of the last CAPA, for messages.
func (c *Client) saslOffered() string {
	if len(c.caps["SASL"]) == 0 {
		return "none"
	}
	return strings.Join(c.caps["SASL"], " ")
}

// clearOK checks the clear-text rule before USER/PASS or AUTH PLAIN: on a
// connection without TLS the password goes only with AllowPlaintextAuth
// (ProfileNetX sets it, as the MCU sends it).
func (c *Client) clearOK(verb string) error {
	if c.conn != nil && c.conn.Secure() || c.opts.AllowPlaintextAuth {
		return nil
	}
	return errf("%s: %w: %w", verb, ErrPlaintextAuth, nx.ErrNotSupported)
}

// apop sends APOP name digest (RFC 1939 §7): the password never travels.
func (c *Client) apop(ctx context.Context, ts []byte) error {
	digest := apopDigest(ts, c.opts.Password)
	c.cmd = append(append(append(append(c.cmd[:0], "APOP "...), c.opts.Name...), ' '), digest...)
	c.cmd = append(c.cmd, "\r\n"...)
	if _, err := c.roundTrip(ctx, "APOP", c.cmd, len("APOP ")+len(c.opts.Name)+1); err != nil {
		return err
	}
	c.authUsed = "APOP"
	return nil
}

func (c *Client) userPass(ctx context.Context) error {
	if err := c.clearOK("USER"); err != nil {
		return err
	}
	c.cmd = append(append(append(c.cmd[:0], "USER "...), c.opts.Name...), "\r\n"...)
	if _, err := c.roundTrip(ctx, "USER", c.cmd, -1); err != nil {
		return err
	}
	c.cmd = append(append(append(c.cmd[:0], "PASS "...), c.opts.Password...), "\r\n"...)
	if _, err := c.roundTrip(ctx, "PASS", c.cmd, len("PASS ")); err != nil {
		var re *ReplyError
		if c.netx && errors.As(err, &re) {
			// _nx_pop3_client_user_pass (nxd_pop3_client.c 3249-3292)
			// keeps the receive status, NX_SUCCESS, whatever the reply:
			// NetX reports a refused password as success.
			c.log.Warn("pop3c: PASS refused, reported as success as NetX does (ProfileNetX)", "reply", re.Msg)
			c.authUsed = "USER"
			return nil
		}
		return err // the fix: -ERR to PASS is an error
	}
	c.authUsed = "USER"
	return nil
}

func (c *Client) authPlain(ctx context.Context) error {
	if err := c.clearOK("AUTH"); err != nil {
		return err
	}
	ir := plainResponse(c.opts.Name, c.opts.Password)
	c.cmd = append(append(append(c.cmd[:0], "AUTH PLAIN "...), ir...), "\r\n"...)
	kind, _, err := c.roundTripKind(ctx, "AUTH", c.cmd, len("AUTH PLAIN "))
	if err == nil && kind == replyCont {
		// A server that ignores the initial response asks for it.
		c.cmd = append(append(c.cmd[:0], ir...), "\r\n"...)
		kind, _, err = c.roundTripKind(ctx, "AUTH", c.cmd, 0)
	}
	if err == nil && kind != replyOK {
		err = c.broken(protoErr("AUTH", nil, ErrServerErrorStatus, "unexpected continuation"))
	}
	if err != nil {
		return err
	}
	c.authUsed = "AUTH PLAIN"
	return nil
}
