package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/nx"
)

// hints replace a library's sentinel text, written for Go callers, by what
// the CLI user can do about it.
var hints = []struct {
	target error
	text   string
}{
	{smtpc.ErrPlaintextAuth, "the server offers no TLS, so the password would go in clear text: refused. " +
		"Use --tls off to allow clear text, or a server with STARTTLS (--tls required insists on it)"},
}

// optionNames maps library option names in error texts to the CLI flag
// that sets them, so a message never tells a CLI user to set a Go field.
var optionNames = strings.NewReplacer(
	"set Options.AllowPlaintextAuth", "use --tls off",
	"Options.AllowPlaintextAuth", "--tls off",
	"Options.TLSConfig", "--ca/--tls-server-name",
	"Options.TLS", "--tls",
	"Options.Port", "--port",
	"Options.Auth", "--auth",
	"Options.Profile", "--netx",
	"Options.MaxEvents", "--max-events",
	"Options.MaxHeldBytes", "--max-held-bytes",
)

// describe is the one-line text of a failed run: the library's message (or
// a hint), with flag names instead of Go option names, and the NetX status
// when the message does not carry it already. It never prints status 0x00.
func describe(err error) string {
	msg := err.Error()
	for _, h := range hints {
		if errors.Is(err, h.target) {
			msg = h.text
		}
	}
	msg = optionNames.Replace(msg)
	if st := statusText(err); st != "" && !strings.Contains(msg, st) {
		msg += " [" + st + "]"
	}
	return msg
}

// statusText is "NAME (0xNN)" of the most specific NetX status in err's
// chain (client status first, then the stack's), or "" when there is none
// or it is NX_SUCCESS.
func statusText(err error) string {
	var ss smtpc.Status
	if errors.As(err, &ss) && ss != 0 {
		return ss.String()
	}
	var ps pop3c.Status
	if errors.As(err, &ps) && ps != 0 {
		return ps.String()
	}
	var ns nx.Status
	if errors.As(err, &ns) && ns != nx.Success {
		return ns.String()
	}
	return ""
}

// errTimeout is the cause of a command's context when --timeout runs out.
type errTimeout struct{ d time.Duration }

func (e errTimeout) Error() string { return fmt.Sprintf("--timeout %v reached", e.d) }

// withTimeout is the command's context: parent (cancelled by a signal)
// with --timeout d as its deadline.
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(parent, d, errTimeout{d})
}

// noteTimeout says which flag ran out when err came after --timeout.
func noteTimeout(ctx context.Context, err error) error {
	var te errTimeout
	if err == nil || !errors.As(context.Cause(ctx), &te) || errors.As(err, new(usageError)) {
		return err
	}
	return fmt.Errorf("%v: %w", te, err)
}
