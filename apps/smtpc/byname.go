package smtpc

import (
	"errors"
	"fmt"
	"time"

	"github.com/simboard/simboard/apps/dnsc"
)

// resolver is Options.Resolver, or else the board's DNS client. Without
// either a host name cannot be resolved: ErrInvalidParam, before any
// traffic.
func (c *config) resolver() (Resolver, error) {
	if c.Resolver != nil {
		return c.Resolver, nil
	}
	if d := dnsc.For(c.IP); d != nil {
		return d, nil
	}
	return nil, errorf(ErrInvalidParam, "smtpc: server host %q: no Resolver and no DNS client on the board (create one with dnsc.New)", c.ServerHost)
}

// now is the Date header's time: Options.Now, else the IP's clock.
func (c *config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return c.IP.Clock().Now()
}

// ErrServiceRefused reports a 554 greeting. As µC/SMTPc documents it: the
// SMTP protocol lets a server formally reject a transaction while still
// allowing the initial connection by answering 554 ("Transaction failed")
// instead of 220. Every command would fail, so the client sends QUIT at
// once (RFC 5321 §3.1). The error also wraps ErrGreetReply and the
// *ReplyError with the server's text.
var ErrServiceRefused = errors.New("smtpc: the server refuses service: its 554 greeting allows the connection but formally rejects every transaction (RFC 5321 §3.1); QUIT sent")

// greetingRefused adds ErrServiceRefused to a 554 greeting's error.
func greetingRefused(err error, code int) error {
	if code != 554 {
		return err
	}
	return fmt.Errorf("%w: %w", ErrServiceRefused, err)
}
