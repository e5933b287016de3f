package smtpc

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

// ReplyError is a server's negative (or unexpected) reply: the three-digit
// code, the RFC 3463 enhanced status code when the server sent one
// ("5.1.1"), the reply text and the stage of the session it answered.
// RFC 5321 semantics: 4xx is a temporary failure (try again later), 5xx is
// permanent (do not retry the same mail unchanged). It is the one reply
// error of both mail clients (pop3c.ReplyError is the same type; a POP3
// -ERR has Code 0).
//
// Errors returned by MailSend wrap a *ReplyError together with the NetX
// status of the stage, so both of these hold for a refused sender:
//
//	errors.Is(err, smtpc.ErrMailReply)
//	var re *smtpc.ReplyError; errors.As(err, &re) // re.Code == 550
type ReplyError = mailconn.ReplyError

// ProtocolError is a reply the client cannot parse or accept: a malformed
// reply code, a line longer than the bound, a multi-line reply that never
// ends, lines with differing codes, or data where none may be (after the
// STARTTLS reply). The session is abandoned after one.
type ProtocolError struct {
	Stage  string // stage of the session, as in ReplyError
	Reason string // what is wrong
	Line   string // the offending line (quoted, at most 80 bytes), "" when not applicable
}

// Error returns e.g. `smtpc: greeting: malformed reply: 4 digits in code ("2200")`.
func (e *ProtocolError) Error() string {
	s := "smtpc: "
	if e.Stage != "" {
		s += e.Stage + ": "
	}
	s += e.Reason
	if e.Line != "" {
		s += " (" + e.Line + ")"
	}
	return s
}

func quoteLine(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "..."
	}
	return strconv.Quote(string(b))
}

// Sentinel errors, wrapped (with a Status) by the failures they name.
var (
	// ErrLineTooLong: a body line is longer than 998 octets (RFC 5322
	// 2.1.1). Status ErrInvalidParam. The line is never sent: a []byte
	// body is checked before any traffic; a streamed body is checked one
	// line ahead of the wire, and the session is reset without the final
	// "." so the server discards the partial message.
	ErrLineTooLong = errors.New("smtpc: body line longer than 998 octets")
	// ErrNeeds8BitMIME: the body has octets above 127 but the server does
	// not offer 8BITMIME. Status ErrInvalidParam.
	ErrNeeds8BitMIME = errors.New("smtpc: 8-bit body but the server does not offer 8BITMIME")
	// ErrNeedsSMTPUTF8: an address is not ASCII but the server does not
	// offer SMTPUTF8. Status ErrInvalidParam.
	ErrNeedsSMTPUTF8 = errors.New("smtpc: non-ASCII address but the server does not offer SMTPUTF8")
	// ErrTLSUnavailable: TLS is required but the server does not offer
	// STARTTLS. Status ErrHelloReply.
	ErrTLSUnavailable = errors.New("smtpc: TLS required but the server does not offer STARTTLS")
	// ErrPlaintextAuth: the mechanism would send the password (or token)
	// in clear on a connection without TLS (PLAIN, LOGIN, XOAUTH2), and
	// Options.AllowPlaintextAuth is false. Nothing is sent. pop3c applies
	// the same rule (pop3c.ErrPlaintextAuth). Status ErrAuthentication.
	ErrPlaintextAuth = errors.New("smtpc: refusing plaintext AUTH without TLS (set Options.AllowPlaintextAuth)")
	// ErrAuthNotOffered: the mechanism asked for (Options.Auth) is not in
	// the server's EHLO AUTH list, or AuthAuto found none it can use; the
	// message names what the server offers. Nothing is sent in its place.
	// Status ErrAuthentication.
	ErrAuthNotOffered = errors.New("smtpc: no usable AUTH mechanism")
	// ErrQuit: the server accepted the mail (250 after the end of data)
	// but the QUIT exchange then failed. It is wrapped by Result.QuitErr,
	// never returned as the error of MailSend: the mail counts as sent.
	ErrQuit = errors.New("smtpc: QUIT failed after the mail was accepted")
)

// statusError carries the NetX status of a failure next to its cause, so
// errors.Is finds the Status and errors.As finds the *ReplyError,
// *ProtocolError, nx.Status or sentinel in cause.
type statusError struct {
	status Status
	cause  error
}

func (e *statusError) Error() string {
	return e.cause.Error() + " [" + e.status.String() + "]"
}

func (e *statusError) Unwrap() []error { return []error{e.status, e.cause} }

// withStatus wraps cause with st. A nil cause gives the bare status.
func withStatus(st Status, cause error) error {
	if cause == nil {
		return st
	}
	return &statusError{status: st, cause: cause}
}

// errorf is fmt.Errorf wrapped with a status.
func errorf(st Status, format string, args ...any) error {
	return withStatus(st, fmt.Errorf(format, args...))
}

// NetXStatus returns the UINT status nx_smtp_mail_send would have returned
// for err: 0 (NX_SUCCESS) for nil, the SMTP Status when err carries one
// (0xA0–0xB2), else the NetX service status it wraps (nx.Code: a receive
// timeout is NX_NO_PACKET 0x01, a closed connection NX_NOT_CONNECTED 0x38,
// and any other error NX_NOT_SUCCESSFUL 0x43). Ported firmware can compare
// it with the C constants.
func NetXStatus(err error) uint32 { return nx.AddOnCode[Status](err) }
