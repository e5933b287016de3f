package trace

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/simboard/simboard/internal/redact"
)

// dialogue turns a flow's two reassembled byte streams into events. The
// analyzer feeds both directions in capture order, which keeps cause before
// effect (a client sends a message body only after the server's 354).
type dialogue interface {
	data(from Side, b []byte, ts time.Time)
	gap(from Side, n int64, ts time.Time)
	end(ts time.Time)
}

const (
	// maxLine is the longest line kept; longer lines are cut (RFC 5321
	// allows 512 bytes for commands and 1000 for text lines).
	maxLine = 4096
	// maxGroupLines is the most lines kept in one multi-line reply or
	// POP3 listing; the rest are counted in the event's note.
	maxGroupLines = 200
	redacted      = "[redacted]"
)

// lineBuf splits a byte stream into lines ending in LF (CR before it is
// dropped).
type lineBuf struct {
	buf     []byte
	long    bool // the current line went past maxLine
	discard bool // drop the current line (it began inside a gap)
}

// take consumes bytes of b up to and including the first LF. When a line
// is complete it is returned with ok set; the slice is valid until the next
// call.
func (l *lineBuf) take(b []byte) (line []byte, n int, ok bool, long bool) {
	i := bytes.IndexByte(b, '\n')
	part := b
	if i >= 0 {
		part, n = b[:i], i+1
	} else {
		n = len(b)
	}
	if room := maxLine - len(l.buf); len(part) > room {
		part, l.long = part[:max(room, 0)], true
	}
	l.buf = append(l.buf, part...)
	if i < 0 {
		return nil, n, false, false
	}
	line = bytes.TrimSuffix(l.buf, []byte{'\r'})
	long = l.long
	drop := l.discard
	l.buf, l.long, l.discard = l.buf[:0], false, false
	if drop {
		return nil, n, false, false
	}
	return line, n, true, long
}

// pending returns the bytes of an unfinished line.
func (l *lineBuf) pending() []byte {
	if l.discard {
		return nil
	}
	return bytes.TrimSuffix(l.buf, []byte{'\r'})
}

// lost drops the unfinished line and the rest of it after a gap.
func (l *lineBuf) lost() {
	l.buf, l.long, l.discard = l.buf[:0], false, true
}

// dotBody measures a dot-terminated message body (SMTP DATA, POP3 RETR and
// TOP) without keeping it.
type dotBody struct {
	size    int64 // dot-unstuffed, CRLF line ends
	lines   int
	lineLen int64 // raw bytes of the current line so far (CR included)
	b0, b1  byte  // its first two bytes
	last    byte  // its last byte
	missing int64 // bytes lost in gaps
}

// take consumes body bytes from b and reports how many it used and
// whether the terminating "." line was among them.
func (d *dotBody) take(b []byte) (n int, done bool) {
	for n < len(b) {
		i := bytes.IndexByte(b[n:], '\n')
		part := b[n:]
		if i >= 0 {
			part = b[n : n+i]
		}
		if len(part) > 0 {
			switch d.lineLen {
			case 0:
				d.b0 = part[0]
				if len(part) > 1 {
					d.b1 = part[1]
				}
			case 1:
				d.b1 = part[0]
			}
			d.lineLen += int64(len(part))
			d.last = part[len(part)-1]
		}
		if i < 0 {
			return len(b), false
		}
		n += i + 1
		if d.b0 == '.' && (d.lineLen == 1 || d.lineLen == 2 && d.b1 == '\r') {
			d.lineLen = 0
			return n, true
		}
		d.endLine(true)
	}
	return n, false
}

// endLine counts the current line; withEOL adds its CRLF.
func (d *dotBody) endLine(withEOL bool) {
	if d.lineLen == 0 && !withEOL {
		return
	}
	content := d.lineLen
	if content > 0 && d.last == '\r' && withEOL {
		content--
	}
	if content > 0 && d.b0 == '.' {
		content-- // dot-stuffing
	}
	d.size += content
	if withEOL {
		d.size += 2
	}
	d.lines++
	d.lineLen = 0
}

// event summarises the body; note says how it ended when not normally.
func (d *dotBody) event(from Side, ts time.Time, note string) Event {
	if note != "" {
		d.endLine(false)
	}
	if d.missing > 0 {
		note = joinNote(note, fmt.Sprintf("%d bytes missing from the capture", d.missing))
	}
	return Event{Time: ts, From: from, Kind: KindData, Bytes: d.size, LineCount: d.lines, Note: note}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// tlsCounter accumulates the bytes of one side after TLS started into a
// single event.
type tlsCounter struct {
	idx [2]int // event index per side; -1 none yet, -2 dropped
}

func newTLSCounter() tlsCounter { return tlsCounter{idx: [2]int{-1, -1}} }

func (t *tlsCounter) add(fs *flowState, from Side, n int64, ts time.Time) {
	if n <= 0 {
		return
	}
	switch i := t.idx[from]; {
	case i == -1:
		t.idx[from] = fs.emit(Event{Time: ts, From: from, Kind: KindTLS, Bytes: n})
		if t.idx[from] == -1 {
			t.idx[from] = -2
		}
	case i >= 0:
		fs.f.Events[i].Bytes += n
	}
}

// tlsOnly is the dialogue of a flow that is TLS from its first byte.
type tlsOnly struct {
	fs  *flowState
	tls tlsCounter
}

func newTLSOnly(fs *flowState) *tlsOnly { return &tlsOnly{fs: fs, tls: newTLSCounter()} }

func (t *tlsOnly) data(from Side, b []byte, ts time.Time) { t.tls.add(t.fs, from, int64(len(b)), ts) }
func (t *tlsOnly) gap(from Side, n int64, ts time.Time)   { gapEvent(t.fs, from, n, ts) }
func (t *tlsOnly) end(time.Time)                          {}

func gapEvent(fs *flowState, from Side, n int64, ts time.Time) {
	fs.emit(Event{Time: ts, From: from, Kind: KindGap, Bytes: n, Note: fs.gapNote})
}

// clean renders captured bytes as text: printable ASCII as is, anything
// else (control characters, terminal escapes, non-ASCII) as \xNN.
func clean(b []byte) string {
	ok := true
	for _, c := range b {
		if c < 0x20 && c != '\t' || c >= 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		if c < 0x20 && c != '\t' || c >= 0x7f {
			fmt.Fprintf(&sb, "\\x%02x", c)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// Notes on client lines hidden as possible credentials.
const (
	noteUnknown = "hidden: sent before the dialogue's context was known (capture started mid-dialogue or after a gap)"
	noteAnswer  = "hidden: answered as part of an authentication exchange"
	noteAfter   = "hidden: not a command, after AUTH (it may be a SASL response sent past a refusal)"
)

// hideNote says why a client line is hidden whole, "" when it is not:
// before the dialogue's context is known, or after an AUTH command when
// the line is not a command of the protocol (isVerb) until one is.
func hideNote(line []byte, known, afterAuth bool, isVerb func(string) bool) string {
	switch {
	case !known:
		return noteUnknown
	case afterAuth:
		if verb, _ := redact.Split(string(line)); !isVerb(verb) {
			return noteAfter
		}
	}
	return ""
}

// command emits the event of a client command line and returns its verb
// in upper case (for the dialogue's state) and the event's index (-1 when
// dropped). A credential in the line (the PASS argument, the APOP digest,
// an AUTH initial response; see redact.Command) is replaced by
// "[redacted]"; when hide is not "" (see hideNote) the whole line is
// hidden with that note. Both dialogues use it whatever the protocol, so a
// misrecognised flow still hides credentials.
func (fs *flowState) command(line []byte, ts time.Time, note, hide string) (verb string, idx int) {
	s := string(line)
	verbRaw, rest := redact.Split(s)
	verb = clean([]byte(strings.ToUpper(verbRaw)))
	ev := Event{Time: ts, From: Client, Kind: KindCommand, Verb: verb, Text: clean([]byte(rest)), Lines: []string{clean(line)}, Note: note}
	prefix, secret, found := redact.Command(s)
	if found {
		_, keep := redact.Split(prefix)
		ev.Text = redacted
		if keep != "" {
			ev.Text = clean([]byte(keep)) + " " + redacted
		}
		ev.Lines = []string{clean([]byte(prefix)) + " " + redacted}
		ev.Redacted = true
	}
	if hide == noteUnknown && fs.hiddenRun > 0 && fs.hiddenRun == len(fs.f.Events) {
		// The previous event is a run of hidden lines: count this one
		// there (a capture starting inside a message body would
		// otherwise give an event per line).
		run := &fs.f.Events[fs.hiddenRun-1]
		run.LineCount++
		run.Note = strconv.Itoa(run.LineCount) + " lines " + noteUnknown
		if found {
			fs.addSecret(clean([]byte(secret)), len(fs.f.Events))
		}
		if redact.Token(s) {
			fs.addSecret(clean(line), len(fs.f.Events))
		}
		return verb, fs.hiddenRun - 1
	}
	if hide != "" {
		hideEvent(&ev, hide)
	}
	if hide == noteUnknown {
		ev.LineCount = 1
	}
	idx = fs.emit(ev)
	if hide == noteUnknown && idx >= 0 {
		fs.hiddenRun = idx + 1
	}
	if found {
		fs.addSecret(clean([]byte(secret)), len(fs.f.Events))
	}
	if hide != "" && redact.Token(s) {
		fs.addSecret(clean(line), len(fs.f.Events))
	}
	return verb, idx
}

// hideEvent replaces the whole of a client line's event by "[redacted]".
func hideEvent(ev *Event, note string) {
	ev.Verb, ev.Text, ev.Lines, ev.Redacted = "", redacted, []string{redacted}, true
	ev.Note = joinNote(ev.Note, note)
}

// authLine emits a SASL continuation line: always redacted, except the "*"
// that cancels the exchange.
func (fs *flowState) authLine(line []byte, ts time.Time, note string) {
	if string(line) == "*" {
		fs.emit(Event{Time: ts, From: Client, Kind: KindAuth, Text: "*", Lines: []string{"*"}, Note: note})
		return
	}
	fs.emit(Event{Time: ts, From: Client, Kind: KindAuth, Text: redacted, Lines: []string{redacted}, Redacted: true, Note: note})
	fs.addSecret(clean(line), len(fs.f.Events))
}

// hideAnswered hides the client line of event idx after the fact: the
// server's reply showed it was part of an authentication exchange (a
// capture that starts in the middle of one, or lost its AUTH command). An
// AUTH command keeps its mechanism (its initial response is already
// redacted).
func (fs *flowState) hideAnswered(idx int) {
	if idx < 0 || idx >= len(fs.f.Events) {
		return
	}
	ev := &fs.f.Events[idx]
	if ev.Kind == KindAuth || ev.Verb == "AUTH" || ev.Verb == "" && ev.Redacted {
		return // a SASL line, an AUTH command, or hidden already
	}
	line := ""
	if !ev.Redacted && len(ev.Lines) == 1 {
		line = ev.Lines[0]
	}
	hideEvent(ev, noteAnswer)
	ev.Kind = KindAuth
	if redact.Token(line) {
		fs.addSecret(line, idx+1)
	}
}

// addSecret remembers a credential (as clean renders it) so that no later
// event shows it, and scrubs it from the events from index from on (a
// server that echoed it before the flow knew it was one).
func (fs *flowState) addSecret(secret string, from int) {
	if len(secret) < redact.MinSecret {
		return
	}
	fs.secrets.Add(secret)
	for i := from; i < len(fs.f.Events); i++ {
		scrubEvent(&fs.f.Events[i], func(s string) (string, bool) { return redact.ScrubOne(s, secret, redacted) })
	}
}

// scrubEvent applies scrub to an event's text and lines, marking it
// redacted when anything changed.
func scrubEvent(ev *Event, scrub func(string) (string, bool)) {
	if ev.Text == "" && len(ev.Lines) == 0 {
		return
	}
	t, changed := scrub(ev.Text)
	ev.Text = t
	for i, l := range ev.Lines {
		if s, ok := scrub(l); ok {
			ev.Lines[i], changed = s, true
		}
	}
	if changed {
		ev.Redacted = true
	}
}

// queue is a FIFO of commands waiting for their replies.
type queue[T any] struct{ q []T }

// maxQueue bounds the commands waiting for replies (a server that never
// answers, or garbage taken for commands).
const maxQueue = 1024

func (q *queue[T]) push(v T) {
	if len(q.q) >= maxQueue {
		q.q = q.q[1:]
	}
	q.q = append(q.q, v)
}
func (q *queue[T]) pushFront(v T) { q.q = append([]T{v}, q.q...) }
func (q *queue[T]) len() int      { return len(q.q) }
func (q *queue[T]) pop() (T, bool) {
	var zero T
	if len(q.q) == 0 {
		return zero, false
	}
	v := q.q[0]
	q.q = q.q[1:]
	return v, true
}
