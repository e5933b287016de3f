package trace

import (
	"strconv"
	"strings"
	"time"

	"github.com/simboard/simboard/internal/redact"
)

// pop3Cmd is a POP3 command awaiting its status line.
type pop3Cmd struct {
	verb  string
	multi bool // +OK is followed by a dot-terminated listing
	body  bool // ... which is a message, summarised
	auth  bool // AUTH with a mechanism: a SASL exchange
	ev    int  // index of its event, -1 for none
}

// pop3Dialogue follows a POP3 session (RFC 1939, with CAPA, STLS, AUTH and
// pipelining).
type pop3Dialogue struct {
	fs      *flowState
	mode    [2]streamMode
	lines   [2]lineBuf
	body    dotBody
	list    *Event
	extra   int
	missing int64 // bytes lost inside the listing
	pending queue[pop3Cmd]
	greeted bool
	known   bool // as smtpDialogue.known: set by +OK or -ERR, cleared by a gap
	auth    bool
	// afterAuth is as smtpDialogue.afterAuth, for POP3 commands.
	afterAuth bool
	stls      bool
	tls       tlsCounter
}

func newPOP3(fs *flowState) *pop3Dialogue { return &pop3Dialogue{fs: fs, tls: newTLSCounter()} }

func (p *pop3Dialogue) data(from Side, b []byte, ts time.Time) {
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
		default:
			if from == Client && p.stls && len(p.lines[Client].buf) == 0 && b[0] == 0x16 {
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

func (p *pop3Dialogue) line(from Side, line []byte, long bool, ts time.Time, note string) {
	if long {
		note = joinNote(note, "line longer than 4096 bytes, cut")
	}
	switch {
	case from == Client:
		p.clientLine(line, ts, note)
	case p.mode[Server] == modeList:
		p.listLine(line, note)
	default:
		p.serverLine(line, ts, note)
	}
}

func (p *pop3Dialogue) gap(from Side, n int64, ts time.Time) {
	gapEvent(p.fs, from, n, ts)
	p.known = false
	switch p.mode[from] {
	case modeLines:
		p.lines[from].lost()
	case modeList:
		p.lines[from].lost()
		p.missing += n
	case modeBody:
		p.body.missing += n
	}
}

func (p *pop3Dialogue) end(ts time.Time) {
	for _, from := range []Side{Server, Client} {
		switch p.mode[from] {
		case modeLines, modeList:
			if l := p.lines[from].pending(); len(l) > 0 {
				p.line(from, l, p.lines[from].long, ts, "no line end before the capture ended")
			}
		case modeBody:
			p.fs.emit(p.body.event(from, ts, "the capture ended before the end of the message"))
		}
	}
	if p.list != nil {
		p.list.Note = joinNote(p.list.Note, "the capture ended inside this listing")
		p.flushList()
	}
}

func (p *pop3Dialogue) clientLine(line []byte, ts time.Time, note string) {
	if p.auth {
		p.fs.authLine(line, ts, note)
		return
	}
	verb, idx := p.fs.command(line, ts, note, hideNote(line, p.known, p.afterAuth, redact.POP3Verb))
	p.afterAuth = verb == "AUTH" || p.afterAuth && !redact.POP3Verb(verb)
	_, rest := redact.Split(string(line))
	cmd := pop3Cmd{verb: verb, ev: idx}
	switch verb {
	case "AUTH":
		if rest == "" {
			cmd.multi = true // lists the mechanisms
			break
		}
		cmd.auth, p.auth = true, true
	case "CAPA":
		cmd.multi = true
	case "LIST", "UIDL":
		cmd.multi = rest == ""
	case "RETR", "TOP":
		cmd.multi, cmd.body = true, true
	case "STLS":
		p.stls = true
	}
	p.pending.push(cmd)
}

// parseStatus splits a POP3 status line.
func parseStatus(line []byte) (status, text string, ok bool) {
	s := string(line)
	for _, st := range []string{"+OK", "-ERR"} {
		if rest, found := strings.CutPrefix(s, st); found {
			return st, strings.TrimPrefix(rest, " "), true
		}
	}
	if s == "+" || strings.HasPrefix(s, "+ ") {
		return "+", strings.TrimPrefix(s[1:], " "), true
	}
	return "", "", false
}

func (p *pop3Dialogue) serverLine(line []byte, ts time.Time, note string) {
	status, text, ok := parseStatus(line)
	if !ok {
		p.fs.emit(Event{Time: ts, From: Server, Kind: KindReply, Text: clean(line), Lines: []string{clean(line)},
			Note: joinNote(note, "not a POP3 status line")})
		return
	}
	ev := Event{Time: ts, From: Server, Kind: KindReply, Verb: status, Text: clean([]byte(text)), Lines: []string{clean(line)}, Note: note}
	if status == "+" {
		// A SASL challenge: the AUTH goes on. Without a captured AUTH
		// (the capture starts inside the exchange, or lost its start)
		// the line it answers was a credential, and so is every client
		// line up to the final +OK or -ERR.
		if !p.auth {
			if cmd, ok := p.pending.pop(); ok {
				p.fs.hideAnswered(cmd.ev)
			}
			p.auth, p.greeted, p.afterAuth = true, true, true
			p.pending.pushFront(pop3Cmd{verb: "AUTH", auth: true, ev: -1})
			ev.Note = joinNote(ev.Note, "a SASL challenge without a captured AUTH command: client lines are hidden until the final reply")
		}
		p.fs.emit(ev)
		return
	}
	p.known = true
	if !p.greeted && p.pending.len() == 0 {
		p.greeted = true
		p.fs.emit(ev)
		return
	}
	p.greeted = true
	cmd, ok := p.pending.pop()
	if ok && cmd.auth {
		p.auth = false
	}
	if ok && cmd.multi && status == "+OK" {
		if cmd.body {
			p.fs.emit(ev)
			p.mode[Server], p.body = modeBody, dotBody{}
		} else {
			p.list, p.extra, p.missing = &ev, 0, 0
			p.mode[Server] = modeList
		}
		return
	}
	p.fs.emit(ev)
	if ok && cmd.verb == "STLS" {
		p.stls = false
		if status == "+OK" {
			p.toTLS()
		}
	}
}

// listLine adds a line to the listing being collected.
func (p *pop3Dialogue) listLine(line []byte, note string) {
	if len(p.list.Lines) < maxGroupLines {
		p.list.Lines = append(p.list.Lines, clean(line))
	} else {
		p.extra++
	}
	if note != "" {
		p.list.Note = joinNote(p.list.Note, note)
	}
	if string(line) == "." {
		p.flushList()
	}
}

func (p *pop3Dialogue) flushList() {
	ev := *p.list
	p.list = nil
	p.mode[Server] = modeLines
	if p.extra > 0 {
		ev.Note = joinNote(ev.Note, strconv.Itoa(p.extra)+" more lines not shown")
	}
	if p.missing > 0 {
		ev.Note = joinNote(ev.Note, strconv.FormatInt(p.missing, 10)+" bytes missing from the capture")
	}
	p.fs.emit(ev)
}

func (p *pop3Dialogue) toTLS() {
	p.stls = false
	p.mode = [2]streamMode{modeTLS, modeTLS}
	p.lines = [2]lineBuf{}
}
