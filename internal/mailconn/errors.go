package mailconn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/simboard/simboard/nx"
)

// Aborted returns nx.ErrWaitAborted for op, wrapped together with ctx.Err()
// (context.Canceled or context.DeadlineExceeded; see nx.Aborted).
func Aborted(ctx context.Context, op string) error {
	if op == "" {
		return nx.Aborted(ctx)
	}
	return fmt.Errorf("%s: %w", op, nx.Aborted(ctx))
}

// WithCause adds ctx.Err() to an error that wraps nx.ErrWaitAborted while
// ctx is done, so errors.Is(err, context.DeadlineExceeded) holds whichever
// layer reported the abort. Other errors are returned unchanged.
func WithCause(ctx context.Context, err error) error {
	if err == nil || ctx == nil {
		return err
	}
	cerr := ctx.Err()
	if cerr == nil || !errors.Is(err, nx.ErrWaitAborted) || errors.Is(err, cerr) {
		return err
	}
	return &causeError{err: err, cause: cerr}
}

type causeError struct{ err, cause error }

func (e *causeError) Error() string   { return e.err.Error() + " (" + e.cause.Error() + ")" }
func (e *causeError) Unwrap() []error { return []error{e.err, e.cause} }

// ReplyError is a server's negative (or unexpected) reply, in one shape for
// both mail clients:
//
//   - SMTP: Code is the three-digit reply code (550), Enhanced the RFC 3463
//     enhanced status code when the server sent one ("5.1.1");
//   - POP3: Code is 0 (a -ERR has no code), Enhanced the RFC 2449 response
//     code in brackets when the server sent one ("AUTH", "SYS/TEMP",
//     "IN-USE").
//
// Msg is the reply text after the code(s), lines joined with "\n"; Stage is
// the step of the session it answered ("greeting", "EHLO", "RCPT
// TO:<bob@example.com>", "PASS", "RETR", ...). It never holds a credential:
// the clients only echo the server.
type ReplyError struct {
	Code     int
	Enhanced string
	Msg      string
	Stage    string
}

// Error returns e.g. "smtpc: RCPT TO:<bob@example.com>: permanent failure:
// 550 5.1.1 no such user" or "pop3c: PASS: -ERR [AUTH] invalid login".
func (e *ReplyError) Error() string {
	var b strings.Builder
	stage := e.Stage
	if e.Code == 0 {
		b.WriteString("pop3c: ")
		if stage == "" {
			stage = "greeting"
		}
	} else {
		b.WriteString("smtpc: ")
	}
	if stage != "" {
		b.WriteString(stage)
		b.WriteString(": ")
	}
	if e.Code == 0 {
		b.WriteString("-ERR")
		if e.Enhanced != "" {
			b.WriteString(" [" + e.Enhanced + "]")
		}
	} else {
		switch {
		case e.Temporary():
			b.WriteString("temporary failure: ")
		case e.Permanent():
			b.WriteString("permanent failure: ")
		default:
			b.WriteString("unexpected reply: ")
		}
		b.WriteString(strconv.Itoa(e.Code))
		if e.Enhanced != "" {
			b.WriteByte(' ')
			b.WriteString(e.Enhanced)
		}
	}
	if e.Msg != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ReplaceAll(e.Msg, "\n", " / "))
	}
	return b.String()
}

// Temporary reports whether the same request may succeed later: an SMTP 4xx,
// or a POP3 -ERR [IN-USE] or [SYS/TEMP] (RFC 2449, RFC 3206).
func (e *ReplyError) Temporary() bool {
	if e.Code == 0 {
		return e.Enhanced == "IN-USE" || e.Enhanced == "SYS/TEMP" || e.Enhanced == "LOGIN-DELAY"
	}
	return e.Code >= 400 && e.Code < 500
}

// Permanent reports whether retrying the same request unchanged will fail
// again: an SMTP 5xx, or a POP3 -ERR [AUTH] or [SYS/PERM].
func (e *ReplyError) Permanent() bool {
	if e.Code == 0 {
		return e.Enhanced == "AUTH" || e.Enhanced == "SYS/PERM"
	}
	return e.Code >= 500 && e.Code < 600
}
