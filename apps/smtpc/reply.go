package smtpc

import (
	"bytes"
	"context"
	"strings"
	"time"

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

// receiver is the read half of a transport: recv appends the next received
// bytes to buf and returns the extended slice, blocking up to wait. A timeout
// is nx.ErrNoPacket, a closed connection nx.ErrNotConnected, a cancelled ctx
// nx.ErrWaitAborted (all wrapped).
type receiver interface {
	recv(ctx context.Context, buf []byte, wait nx.Wait) ([]byte, error)
}

// replyReader assembles replies from whatever chunks the transport delivers:
// a reply may be split at any byte across packets or TLS records, and one
// chunk may hold several lines. Bytes after a complete reply stay buffered for
// the next read. Not safe for concurrent use.
type replyReader struct {
	buf   []byte // received bytes; buf[off:] not yet consumed
	off   int
	clock nx.Clock
	// onLine, when set, sees every reply line (CRLF stripped), for the
	// transcript.
	onLine func(line []byte)
}

// pending reports the number of received bytes not yet consumed.
func (rr *replyReader) pending() int { return len(rr.buf) - rr.off }

// reset drops buffered bytes (after a protocol error or a transport switch).
func (rr *replyReader) reset() { rr.buf, rr.off = rr.buf[:0], 0 }

// read returns the next complete reply, receiving from src as needed for at
// most wait in total. Errors: a transport status from src (wrapped), or a
// *ProtocolError wrapped with ErrServerErrorReply (malformed) or
// ErrOversizeServerReply (beyond the bounds).
func (rr *replyReader) read(ctx context.Context, src receiver, wait nx.Wait, stage string) (reply, error) {
	var rep reply
	var deadline time.Time
	clk := rr.clock
	if clk == nil {
		clk = nx.SystemClock
	}
	if wait != nx.NoWait && !wait.Forever() {
		deadline = clk.Now().Add(wait.Duration())
	}
	total := 0
	for {
		data := rr.buf[rr.off:]
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if err := checkPartial(data, stage); err != nil {
				return rep, err
			}
			if len(data) > maxReplyLine+1 || total+len(data) > maxReplyBytes {
				return rep, oversize(stage, "reply line longer than 4096 octets", data)
			}
			// Compact, then receive more.
			if rr.off > 0 {
				n := copy(rr.buf, data)
				rr.buf, rr.off = rr.buf[:n], 0
			}
			w := wait
			if !deadline.IsZero() {
				w = nx.FromDuration(deadline.Sub(clk.Now()))
				if w == nx.NoWait {
					return rep, timeoutErr(stage)
				}
			}
			var err error
			if rr.buf, err = src.recv(ctx, rr.buf, w); err != nil {
				return rep, err
			}
			continue
		}
		line := data[:i]
		rr.off += i + 1
		total += i + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if rr.onLine != nil {
			rr.onLine(line)
		}
		if len(line) > maxReplyLine {
			return rep, oversize(stage, "reply line longer than 4096 octets", line)
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
			if rr.off == len(rr.buf) {
				rr.buf, rr.off = rr.buf[:0], 0
			}
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
