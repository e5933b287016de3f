package trace

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/simboard/simboard/internal/redact"
)

// streamMode says how a dialogue reads one side's bytes.
type streamMode uint8

const (
	modeLines streamMode = iota // command or reply lines
	modeBody                    // a dot-terminated message body
	modeBDAT                    // an SMTP BDAT chunk of known size
	modeList                    // a POP3 multi-line listing
	modeTLS                     // TLS records, counted only
)

// dataEnd stands in the SMTP reply queue for the end of a message body; it
// cannot collide with a verb, which has no spaces.
const dataEnd = "<end of data>"

// smtpCmd is a client command awaiting its final reply.
type smtpCmd struct {
	verb string // upper case; dataEnd for the end of a message body
	ev   int    // index of its event, -1 for none
}

// smtpDialogue follows an SMTP session (RFC 5321, with PIPELINING,
// CHUNKING, STARTTLS and AUTH).
type smtpDialogue struct {
	fs       *flowState
	mode     [2]streamMode
	lines    [2]lineBuf
	body     dotBody
	bdatLeft int64
	pending  queue[smtpCmd] // commands awaiting their final reply
	greeted  bool
	// known is set by a final reply other than 334: from then on a client
	// line is a command, unless AUTH is in progress. It is clear until
	// then (the capture may start in the middle of an AUTH exchange) and
	// after a gap in either direction; client lines are hidden while it
	// is clear.
	known bool
	auth  bool // AUTH in progress: client lines are credentials
	// afterAuth is set by an AUTH command (or a 334 without one) and
	// cleared by the next line that is an SMTP command: a line between
	// that is not may be a SASL response sent past a refusal.
	afterAuth bool
	startTLS  bool // STARTTLS sent, its reply not yet seen
	group     *Event
	extra     int // lines of group beyond maxGroupLines
	tls       tlsCounter
}

func newSMTP(fs *flowState) *smtpDialogue { return &smtpDialogue{fs: fs, tls: newTLSCounter()} }

func (p *smtpDialogue) data(from Side, b []byte, ts time.Time) {
	for len(b) > 0 {
		switch p.mode[from] {
		case modeTLS:
			p.tls.add(p.fs, from, int64(len(b)), ts)
			return
		case modeBody:
			n, done := p.body.take(b)
			b = b[n:]
			if done {
				p.fs.emit(p.body.event(from, ts, ""))
				p.mode[from] = modeLines
			}
		case modeBDAT:
			k := min(p.bdatLeft, int64(len(b)))
			p.body.size += k
			p.body.lines += bytes.Count(b[:k], []byte{'\n'})
			p.bdatLeft -= k
			b = b[k:]
			if p.bdatLeft == 0 {
				p.fs.emit(p.body.event(from, ts, ""))
				p.mode[from] = modeLines
			}
		default:
			if from == Client && p.startTLS && len(p.lines[Client].buf) == 0 && b[0] == 0x16 {
				// A TLS handshake where a command should be: the
				// capture has the client's hello before the 220.
				p.mode[Client] = modeTLS
				continue
			}
			line, n, ok, long := p.lines[from].take(b)
			b = b[n:]
			if ok {
				p.line(from, line, long, ts, "")
			}
		}
	}
}

func (p *smtpDialogue) line(from Side, line []byte, long bool, ts time.Time, note string) {
	if long {
		note = joinNote(note, "line longer than 4096 bytes, cut")
	}
	if from == Client {
		p.clientLine(line, ts, note)
	} else {
		p.serverLine(line, ts, note)
	}
}

func (p *smtpDialogue) gap(from Side, n int64, ts time.Time) {
	gapEvent(p.fs, from, n, ts)
	p.known = false
	switch p.mode[from] {
	case modeLines:
		p.lines[from].lost()
	case modeBody:
		p.body.missing += n
	case modeBDAT:
		k := min(n, p.bdatLeft)
		p.bdatLeft -= k
		p.body.missing += k
		if p.bdatLeft == 0 {
			p.fs.emit(p.body.event(from, ts, ""))
			p.mode[from] = modeLines
			if n > k {
				p.lines[from].lost()
			}
		}
	}
}

func (p *smtpDialogue) end(ts time.Time) {
	for _, from := range []Side{Server, Client} {
		switch p.mode[from] {
		case modeLines:
			if l := p.lines[from].pending(); len(l) > 0 {
				p.line(from, l, p.lines[from].long, ts, "no line end before the capture ended")
			}
		case modeBody:
			p.fs.emit(p.body.event(from, ts, "the capture ended before the end of the message"))
		case modeBDAT:
			p.fs.emit(p.body.event(from, ts, "the capture ended inside the BDAT chunk"))
		}
	}
	if p.group != nil {
		p.group.Note = joinNote(p.group.Note, "the capture ended inside this multi-line reply")
		p.flushGroup()
	}
}

func (p *smtpDialogue) clientLine(line []byte, ts time.Time, note string) {
	if p.auth {
		p.fs.authLine(line, ts, note)
		return
	}
	verb, idx := p.fs.command(line, ts, note, hideNote(line, p.known, p.afterAuth, redact.SMTPVerb))
	p.afterAuth = verb == "AUTH" || p.afterAuth && !redact.SMTPVerb(verb)
	_, rest := redact.Split(string(line))
	switch verb {
	case "AUTH":
		p.auth = true
	case "BDAT":
		f := strings.Fields(rest)
		if len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n >= 0 {
				p.body = dotBody{}
				if n > 0 {
					p.mode[Client], p.bdatLeft = modeBDAT, n
				} else {
					defer p.fs.emit(p.body.event(Client, ts, ""))
				}
			}
		}
	case "STARTTLS":
		p.startTLS = true
	}
	p.pending.push(smtpCmd{verb, idx})
}

// parseSMTPReply splits "250-text" or "250 text" or "250".
func parseSMTPReply(line []byte) (code int, more bool, text []byte, ok bool) {
	if len(line) < 3 {
		return 0, false, nil, false
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, nil, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) == 3 {
		return code, false, nil, true
	}
	switch line[3] {
	case ' ':
		return code, false, line[4:], true
	case '-':
		return code, true, line[4:], true
	}
	return 0, false, nil, false
}

func (p *smtpDialogue) serverLine(line []byte, ts time.Time, note string) {
	code, more, text, ok := parseSMTPReply(line)
	if !ok {
		if p.group != nil {
			p.group.Note = joinNote(p.group.Note, "multi-line reply ended by a malformed line")
			p.flushGroup()
		}
		p.fs.emit(Event{Time: ts, From: Server, Kind: KindReply, Text: clean(line), Lines: []string{clean(line)},
			Note: joinNote(note, "not an SMTP reply line")})
		return
	}
	if p.group == nil {
		p.group = &Event{Time: ts, From: Server, Kind: KindReply, Code: code, Text: clean(text)}
		p.extra = 0
	}
	if len(p.group.Lines) < maxGroupLines {
		p.group.Lines = append(p.group.Lines, clean(line))
	} else {
		p.extra++
	}
	if note != "" {
		p.group.Note = joinNote(p.group.Note, note)
	}
	if more {
		return
	}
	p.flushGroup()
	p.reply(code, ts)
}

func (p *smtpDialogue) flushGroup() {
	ev := *p.group
	p.group = nil
	if p.extra > 0 {
		ev.Note = joinNote(ev.Note, strconv.Itoa(p.extra)+" more lines not shown")
	}
	p.fs.emit(ev)
}

// authReply reports whether an SMTP reply code belongs to an AUTH
// exchange (RFC 4954: success, failure, or a SASL-specific refusal), so
// that the client line it answers is a credential.
func authReply(code int, verb string) bool {
	switch code {
	case 235, 432, 534, 535, 538:
		return true
	case 454: // also "TLS not available" to STARTTLS
		return verb != "STARTTLS"
	}
	return false
}

// reply matches a complete reply with the command it answers.
func (p *smtpDialogue) reply(code int, ts time.Time) {
	if code == 334 {
		// A SASL challenge: the AUTH goes on. Without a captured AUTH
		// (the capture starts inside the exchange, or lost its start)
		// the line it answers was a credential, and so is every client
		// line up to the final reply.
		if !p.auth {
			if cmd, ok := p.pending.pop(); ok {
				p.fs.hideAnswered(cmd.ev)
			}
			p.auth, p.greeted, p.afterAuth = true, true, true
			p.pending.pushFront(smtpCmd{verb: "AUTH", ev: -1})
		}
		return
	}
	p.known = true
	if !p.greeted && p.pending.len() == 0 {
		p.greeted = true
		return
	}
	p.greeted = true
	cmd, ok := p.pending.pop()
	if !ok {
		return // unsolicited, e.g. 421 before closing
	}
	if authReply(code, cmd.verb) {
		p.fs.hideAnswered(cmd.ev)
	}
	switch cmd.verb {
	case "AUTH":
		p.auth = false
	case "DATA":
		if code == 354 {
			p.mode[Client], p.body = modeBody, dotBody{}
			p.pending.pushFront(smtpCmd{verb: dataEnd, ev: -1})
		}
	case dataEnd:
		if p.mode[Client] == modeBody {
			p.fs.emit(p.body.event(Client, ts, "the server replied before the end of the message was seen"))
			p.mode[Client] = modeLines
		}
	case "STARTTLS":
		p.startTLS = false
		if code == 220 {
			p.toTLS()
		}
	}
}

func (p *smtpDialogue) toTLS() {
	p.startTLS = false
	p.mode = [2]streamMode{modeTLS, modeTLS}
	p.lines = [2]lineBuf{}
}
