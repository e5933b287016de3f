package pop3c

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

func errf(format string, a ...any) error {
	return fmt.Errorf("pop3c: "+format, a...)
}

// ReplyError is a negative reply (-ERR) from the server, in the shape both
// mail clients share (smtpc.ReplyError is the same type): Stage is the
// command it answered ("RETR", "PASS", "greeting"), Enhanced the RFC 2449
// response code when the server sent one ("AUTH", "SYS/TEMP", "IN-USE"),
// Msg the rest of the reply line as sent, and Code is 0 (a -ERR has no
// number). Errors returned by this package wrap it together with
// ErrServerErrorStatus, so both errors.As(err, &re) and
// errors.Is(err, pop3c.ErrServerErrorStatus) hold. It never contains a
// password: the client only echoes the server.
type ReplyError = mailconn.ReplyError

// statusError carries a Status next to its cause, so errors.Is finds the
// Status and errors.As finds the *ReplyError in cause.
type statusError struct {
	status Status
	cause  error
}

func (e *statusError) Error() string   { return e.cause.Error() }
func (e *statusError) Unwrap() []error { return []error{e.status, e.cause} }

// replyError is the error for a -ERR to verb with the given text.
func replyError(verb string, text []byte) error {
	re := &ReplyError{Stage: verbName(verb)}
	if len(text) > 1 && text[0] == '[' {
		if end := bytes.IndexByte(text, ']'); end > 1 {
			re.Enhanced = string(text[1:end])
			text = bytes.TrimLeft(text[end+1:], " \t")
		}
	}
	re.Msg = string(text)
	return &statusError{status: ErrServerErrorStatus, cause: re}
}

// NetXStatus returns the UINT status the NetX service would have returned
// for err: 0 (NX_SUCCESS) for nil, the POP3 Status when err carries one
// (0xB1–0xB8), else the NetX service status it wraps (nx.Code: a receive
// timeout is NX_NO_PACKET 0x01, a closed connection NX_NOT_CONNECTED 0x38,
// a cancelled wait NX_WAIT_ABORTED 0x1A, any other error NX_NOT_SUCCESSFUL
// 0x43). Ported firmware can compare it with the C constants.
func NetXStatus(err error) uint32 { return nx.AddOnCode[Status](err) }

// ProtocolError is a reply the client cannot use: neither +OK nor -ERR, a
// malformed STAT, LIST or UIDL line, a reply line over the length limit, or
// bytes where none may be (after the STLS reply). Cmd is the command verb the
// reply answered, Line the offending line (truncated to 80 bytes) and Reason
// what is wrong with it. It unwraps to its Status: ErrServerErrorStatus as
// NetX reports malformed replies, or ErrMailBufferOverflow for over-long input.
// When the framing is broken (a status line that is neither +OK nor -ERR, an
// over-long line, data after the STLS reply) the connection is reset, since
// the reply stream cannot be trusted any more; a well-framed +OK reply or
// listing line with malformed arguments (STAT, LIST, UIDL) leaves the session
// usable.
type ProtocolError struct {
	Cmd    string
	Line   string
	Reason string
	Status Status
}

func (e *ProtocolError) Error() string {
	cmd := e.Cmd
	if cmd == "" {
		cmd = "greeting"
	}
	var b strings.Builder
	b.WriteString("pop3c: ")
	b.WriteString(cmd)
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Line != "" {
		fmt.Fprintf(&b, " (%q)", e.Line)
	}
	return b.String()
}

// Unwrap returns the status the error maps to.
func (e *ProtocolError) Unwrap() error { return e.Status }

func protoErr(cmd string, line []byte, st Status, reason string) *ProtocolError {
	const max = 80
	if len(line) > max {
		line = line[:max]
	}
	return &ProtocolError{Cmd: cmd, Line: string(line), Reason: reason, Status: st}
}
