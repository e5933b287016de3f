package smtpc

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

// Bounds on what a server may send as one reply. RFC 5321 4.5.3.1.5 limits a
// reply line to 512 octets; the client allows eight times that, then stops
// with a ProtocolError (NX_SMTP_OVERSIZE_SERVER_REPLY) instead of buffering
// without end.
const (
	maxReplyLine  = 4096     // octets in one line, CRLF excluded
	maxReplyLines = 128      // lines in one multi-line reply
	maxReplyBytes = 64 << 10 // octets in one reply
)

// reply is one complete server reply (RFC 5321 4.2): every line has the same
// code; lines holds the text after "NNN-" / "NNN ".
type reply struct {
	code  int
	lines []string
}

// enhanced splits an RFC 3463 enhanced status code ("5.1.1") off the front of
// the reply text when its class matches the reply code, and returns it with
// the text of every line (the code removed where a line repeats it), joined
// by "\n".
func (r *reply) enhanced() (code, msg string) {
	if len(r.lines) > 0 {
		code = enhancedCode(r.lines[0], r.code/100)
	}
	var b strings.Builder
	for i, l := range r.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if code != "" && strings.HasPrefix(l, code) {
			l = strings.TrimLeft(l[len(code):], " ")
		}
		b.WriteString(l)
	}
	return code, b.String()
}

// enhancedCode returns the leading "class.subject.detail" of s when class
// matches, else "".
func enhancedCode(s string, class int) string {
	if len(s) < 5 || s[0] != byte('0'+class) || s[1] != '.' {
		return ""
	}
	i := 2
	for part := 0; part < 2; part++ {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 3 {
			i++
		}
		if i == start {
			return ""
		}
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return ""
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' {
		return ""
	}
	return s[:i]
}

// replyReader assembles replies from whatever chunks the connection
// delivers: a reply may be split at any byte across packets or TLS records,
// and one chunk may hold several lines (mailconn.LineReader bounds and joins
// them). Bytes after a complete reply stay buffered for the next read. Not
// safe for concurrent use.
type replyReader struct {
	lr mailconn.LineReader
	// onLine, when set, sees every reply line (CRLF stripped), for the
	// transcript.
	onLine func(line []byte)
	stage  string
}

// pending reports the number of received bytes not yet consumed.
func (rr *replyReader) pending() int { return rr.lr.Pending() }

// reset drops buffered bytes (after a protocol error or a transport switch).
func (rr *replyReader) reset() { rr.lr.Reset() }

func (rr *replyReader) checkPartial(p []byte) error { return checkPartial(p, rr.stage) }

// read returns the next complete reply, receiving from src as needed for at
// most wait in total (on the board's clock). Errors: a transport status from
// src (wrapped), or a *ProtocolError wrapped with ErrServerErrorReply
// (malformed) or ErrOversizeServerReply (beyond the bounds).
func (rr *replyReader) read(ctx context.Context, src mailconn.Source, wait nx.Wait, stage string) (reply, error) {
	var rep reply
	rr.lr.Src, rr.stage = src, stage
	if rr.lr.OnPartial == nil {
		rr.lr.OnPartial = rr.checkPartial
	}
	deadline := mailconn.NewDeadline(rr.lr.Clock, wait)
	total := 0
	for {
		w, ok := deadline.Left()
		if !ok {
			return rep, timeoutErr(stage)
		}
		line, err := rr.lr.ReadLine(ctx, w, maxReplyLine)
		var tl *mailconn.TooLongError
		switch {
		case errors.As(err, &tl):
			return rep, oversize(stage, "reply line longer than 4096 octets", tl.Line)
		case err == nx.ErrNoPacket:
			return rep, timeoutErr(stage)
		case err != nil:
			return rep, err
		}
		total += len(line) + 2
		if rr.onLine != nil {
			rr.onLine(line)
		}
		// Leading blanks are tolerated: NetX's regression packet
		// "250-AUTH ...\r\n 250 SIZE" has one, and NetX skips them.
		line = bytes.TrimLeft(line, " \t")
		code, final, err := parseLine(line, stage)
		if err != nil {
			return rep, err
		}
		if len(rep.lines) == 0 {
			rep.code = code
		} else if code != rep.code {
			return rep, withStatus(ErrServerErrorReply, &ProtocolError{Stage: stage,
				Reason: "multi-line reply changes its code", Line: quoteLine(line)})
		}
		text := ""
		if len(line) > 4 {
			text = string(line[4:])
		}
		rep.lines = append(rep.lines, text)
		if final {
			return rep, nil
		}
		if len(rep.lines) >= maxReplyLines || total > maxReplyBytes {
			return rep, oversize(stage, "multi-line reply does not end", line)
		}
	}
}

func timeoutErr(stage string) error {
	return &transportError{stage: stage, op: "receive reply", err: nx.ErrNoPacket}
}

func oversize(stage, reason string, line []byte) error {
	return withStatus(ErrOversizeServerReply, &ProtocolError{Stage: stage, Reason: reason, Line: quoteLine(line)})
}

// parseLine checks one reply line (CRLF stripped): three digits, the first
// 2–5, then end of line, ' ' (last line) or '-' (more lines follow).
func parseLine(line []byte, stage string) (code int, final bool, err error) {
	if err := checkPartial(line, stage); err != nil {
		return 0, false, err
	}
	if len(line) < 3 {
		return 0, false, malformed(stage, "reply shorter than a code", line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	return code, len(line) == 3 || line[3] == ' ', nil
}

// checkPartial validates the first four bytes of a (possibly incomplete)
// line, so garbage such as "2200" fails at once instead of after a timeout.
func checkPartial(p []byte, stage string) error {
	p = bytes.TrimLeft(p, " \t")
	for i := 0; i < len(p) && i < 4; i++ {
		c := p[i]
		switch {
		case i == 0 && (c < '2' || c > '5'):
			return malformed(stage, "reply does not start with a code 2xx-5xx", p)
		case i > 0 && i < 3 && (c < '0' || c > '9'):
			return malformed(stage, "reply code is not three digits", p)
		case i == 3 && c >= '0' && c <= '9':
			return malformed(stage, "reply code longer than three digits", p)
		case i == 3 && c != ' ' && c != '-' && c != '\r':
			return malformed(stage, "reply code not followed by ' ' or '-'", p)
		}
	}
	return nil
}

func malformed(stage, reason string, line []byte) error {
	return withStatus(ErrServerErrorReply, &ProtocolError{Stage: stage, Reason: "malformed reply: " + reason, Line: quoteLine(line)})
}
