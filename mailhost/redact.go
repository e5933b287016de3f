package mailhost

import (
	"strings"

	"github.com/simboard/simboard/internal/redact"
)

// redactedMark replaces a credential in a transcript line.
const redactedMark = "<redacted>"

// lineRedactor decides what a session's transcript shows of each client
// line, and keeps the credentials it has seen out of the server lines
// (go-smtp echoes a four-character line it does not know: "500 5.5.2
// Syntax errors, XXXX command unrecognized"). One per session, owned by
// the session's goroutine.
//
// Credentials are found the tolerant way (redact.Command): the PASS
// argument, the APOP digest and AUTH initial responses after any spaces or
// tabs and in any case, since a line the protocol code refuses as
// malformed still carries the credential. From an AUTH command on, the
// client may be sending SASL responses the host never asked for (pipelined
// past an injected fault or a refusal): until a line that is a command of
// the protocol, a line that is not is hidden whole.
type lineRedactor struct {
	verb   func(string) bool // whether a word is a command verb of the protocol
	sasl   bool              // client lines may be SASL responses
	scrub  redact.Scrubber
	inSASL bool // the host asked for this line (334 or "+"): always hidden
}

// client returns what the transcript shows of a client line.
func (r *lineRedactor) client(line string) string {
	if r.inSASL {
		r.inSASL = false
		r.sasl = true
		r.scrub.Add(line)
		return redactedMark
	}
	verb, _ := redact.Split(line)
	v := strings.ToUpper(verb)
	if prefix, secret, ok := redact.Command(line); ok {
		r.scrub.Add(secret)
		r.sasl = v == "AUTH"
		return prefix + " " + redactedMark
	}
	switch {
	case v == "AUTH":
		r.sasl = true
	case r.sasl && !r.verb(v):
		if redact.Token(line) {
			r.scrub.Add(line)
		}
		return redactedMark
	default:
		r.sasl = false
	}
	s, _ := r.scrub.Scrub(line, redactedMark)
	return s
}

// saslResponse marks the next client line as one the host asked for
// with a SASL challenge.
func (r *lineRedactor) saslResponse() { r.inSASL = true }

// server returns what the transcript shows of a server line.
func (r *lineRedactor) server(line string) string {
	s, _ := r.scrub.Scrub(line, redactedMark)
	return s
}
