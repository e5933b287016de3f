package mailhost

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stage names the point of a session where a Fault fires. SMTP stages fire
// when the client's command arrives, before the host acts on it (the
// greeting stage before the 220 is sent; SMTPDataEnd when the client has
// sent the whole message, before it is delivered). POP3 stages fire when
// the named command arrives, before it is executed.
type Stage string

// SMTP stages.
const (
	SMTPGreeting Stage = "smtp.greeting" // the 220 greeting
	SMTPEHLO     Stage = "smtp.ehlo"     // EHLO or HELO
	SMTPStartTLS Stage = "smtp.starttls" // STARTTLS
	SMTPAuth     Stage = "smtp.auth"     // AUTH (the command line, not the SASL continuation lines)
	SMTPMail     Stage = "smtp.mail"     // MAIL FROM
	SMTPRcpt     Stage = "smtp.rcpt"     // RCPT TO (each one is an occurrence)
	SMTPData     Stage = "smtp.data"     // DATA, where the 354 would be sent
	SMTPDataEnd  Stage = "smtp.data-end" // after the end-of-data line (or BDAT LAST chunk); reply, close, reset and silent faults here discard the message
	SMTPQuit     Stage = "smtp.quit"     // QUIT
)

// POP3 stages.
const (
	POP3Greeting Stage = "pop3.greeting"
	POP3User     Stage = "pop3.user"
	POP3Pass     Stage = "pop3.pass"
	POP3APOP     Stage = "pop3.apop"
	POP3Auth     Stage = "pop3.auth"
	POP3Stat     Stage = "pop3.stat"
	POP3List     Stage = "pop3.list"
	POP3UIDL     Stage = "pop3.uidl"
	POP3Top      Stage = "pop3.top"
	POP3Retr     Stage = "pop3.retr"
	POP3Dele     Stage = "pop3.dele"
	POP3Rset     Stage = "pop3.rset"
	POP3Noop     Stage = "pop3.noop"
	POP3Quit     Stage = "pop3.quit"
	POP3Capa     Stage = "pop3.capa"
	POP3STLS     Stage = "pop3.stls"
)

var knownStages = map[Stage]bool{
	SMTPGreeting: true, SMTPEHLO: true, SMTPStartTLS: true, SMTPAuth: true, SMTPMail: true,
	SMTPRcpt: true, SMTPData: true, SMTPDataEnd: true, SMTPQuit: true,
	POP3Greeting: true, POP3User: true, POP3Pass: true, POP3APOP: true, POP3Auth: true,
	POP3Stat: true, POP3List: true, POP3UIDL: true, POP3Top: true, POP3Retr: true,
	POP3Dele: true, POP3Rset: true, POP3Noop: true, POP3Quit: true, POP3Capa: true, POP3STLS: true,
}

func (s Stage) smtp() bool { return strings.HasPrefix(string(s), "smtp.") }

// FaultKind is what a Fault does when it fires.
type FaultKind string

const (
	// FaultReply answers with Fault.Code and Fault.Text instead of acting
	// on the command (the command has no effect; the session goes on). POP3
	// answers "-ERR Text". At the greeting, SMTP code 421 and any POP3
	// reply close the connection after the reply; another SMTP code leaves
	// the session in RFC 5321's rejecting state (503 to all but QUIT). At
	// SMTPDataEnd the message is not delivered.
	FaultReply FaultKind = "reply"
	// FaultDelay waits Fault.Delay on the host's clock, then goes on
	// normally.
	FaultDelay FaultKind = "delay"
	// FaultClose closes the connection instead of answering (over TLS
	// without a close_notify).
	FaultClose FaultKind = "close"
	// FaultReset aborts the connection with a TCP RST (SetLinger(0)) when
	// the connection supports it, else closes it like FaultClose.
	FaultReset FaultKind = "reset"
	// FaultSilent never answers: the host reads and discards whatever the
	// client sends until the client closes or the host is closed.
	FaultSilent FaultKind = "silent"
	// FaultGarbage writes one line that is no valid reply (Fault.Text, or a
	// default) where the reply is expected, then goes on normally: the
	// real reply follows it.
	FaultGarbage FaultKind = "garbage"
)

var knownKinds = map[FaultKind]bool{
	FaultReply: true, FaultDelay: true, FaultClose: true, FaultReset: true, FaultSilent: true, FaultGarbage: true,
}

// Fault is one injected failure. The zero Skip and Times fire the fault at
// every occurrence of its Stage on any connection of the host; counting is
// host-wide and in order of arrival.
type Fault struct {
	Stage Stage
	Kind  FaultKind
	// Code is the SMTP reply code for FaultReply (200..599); 0 means 451,
	// or 421 at SMTPGreeting. POP3 ignores it: a POP3 fault reply is
	// always -ERR.
	Code int
	// Text is the reply text for FaultReply (SMTP: written after the code
	// verbatim, "\n" makes a multi-line reply; "" means "<class>.0.0
	// mailhost: injected fault") or the line for FaultGarbage ("" means
	// "*** mailhost: injected garbage ***").
	Text string
	// Delay is how long FaultDelay waits.
	Delay time.Duration
	// Skip lets this many occurrences of Stage pass before the fault fires.
	Skip int
	// Times is how many times the fault fires; 0 means every occurrence
	// after Skip.
	Times int
	// AfterBytes, with SMTPDataEnd and a delay, close, reset or silent
	// fault, fires the fault once this many octets of a DATA body have
	// arrived, before the end of data ("RST after 100 KB of DATA"); the
	// message is not delivered unless the fault is a delay. A body shorter
	// than AfterBytes meets the fault at its end, as with 0 (the default:
	// at the end of data). BDAT chunks meet it after the LAST chunk.
	AfterBytes int64
}

func (f Fault) validate() error {
	if !knownStages[f.Stage] {
		return fmt.Errorf("mailhost: fault: unknown stage %q", f.Stage)
	}
	if !knownKinds[f.Kind] {
		return fmt.Errorf("mailhost: fault %s: unknown kind %q", f.Stage, f.Kind)
	}
	if f.Code != 0 && (f.Code < 200 || f.Code > 599) {
		return fmt.Errorf("mailhost: fault %s: reply code %d outside 200..599", f.Stage, f.Code)
	}
	if f.Delay < 0 || f.Skip < 0 || f.Times < 0 || f.AfterBytes < 0 {
		return fmt.Errorf("mailhost: fault %s: negative delay, skip, times or after-bytes", f.Stage)
	}
	if f.AfterBytes > 0 && (f.Stage != SMTPDataEnd || (f.Kind != FaultDelay && f.Kind != FaultClose && f.Kind != FaultReset && f.Kind != FaultSilent)) {
		return fmt.Errorf("mailhost: fault %s %s: after-bytes needs stage %s and kind delay, close, reset or silent", f.Stage, f.Kind, SMTPDataEnd)
	}
	if strings.ContainsAny(f.Text, "\r") || (f.Kind == FaultGarbage && strings.Contains(f.Text, "\n")) {
		return fmt.Errorf("mailhost: fault %s: text contains CR (or LF in garbage)", f.Stage)
	}
	return nil
}

// ParseFault parses the command-line form "stage[@n][>size]:kind[:arg]",
// e.g. "smtp.rcpt:reply:451 4.2.1 Mailbox busy", "pop3.retr:delay:2s",
// "smtp.greeting:close", "smtp.rcpt@2:reply:550 5.1.1 No such user" (only
// the second RCPT), "smtp.data-end>100KB:reset" (an RST once 100 KiB of
// the body have arrived; size in octets, or with K/KB/M/MB, 1024-based).
// arg is the code and text for reply (POP3: the text), a duration for
// delay, the line for garbage.
func ParseFault(s string) (Fault, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 {
		return Fault{}, fmt.Errorf("mailhost: fault %q: want stage:kind[:arg]", s)
	}
	var f Fault
	stage := parts[0]
	if gt := strings.IndexByte(stage, '>'); gt >= 0 {
		n, err := parseSize(stage[gt+1:])
		if err != nil || n < 1 {
			return Fault{}, fmt.Errorf("mailhost: fault %q: bad size %q after >", s, stage[gt+1:])
		}
		f.AfterBytes = n
		stage = stage[:gt]
	}
	if at := strings.IndexByte(stage, '@'); at >= 0 {
		n, err := strconv.Atoi(stage[at+1:])
		if err != nil || n < 1 {
			return Fault{}, fmt.Errorf("mailhost: fault %q: bad occurrence %q", s, stage[at+1:])
		}
		f.Skip, f.Times = n-1, 1
		stage = stage[:at]
	}
	f.Stage, f.Kind = Stage(stage), FaultKind(parts[1])
	arg := ""
	if len(parts) == 3 {
		arg = parts[2]
	}
	switch f.Kind {
	case FaultReply:
		if f.Stage.smtp() && arg != "" {
			code, text, _ := strings.Cut(arg, " ")
			n, err := strconv.Atoi(code)
			if err != nil {
				return Fault{}, fmt.Errorf("mailhost: fault %q: bad reply code %q", s, code)
			}
			f.Code, f.Text = n, text
		} else {
			f.Text = arg
		}
	case FaultDelay:
		d, err := time.ParseDuration(arg)
		if err != nil {
			return Fault{}, fmt.Errorf("mailhost: fault %q: %w", s, err)
		}
		f.Delay = d
	case FaultGarbage:
		f.Text = arg
	}
	return f, f.validate()
}

// parseSize reads "100", "100K", "100KB", "2M" or "2MB" (1024-based).
func parseSize(v string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "KB"), strings.HasSuffix(t, "K"):
		t, mult = strings.TrimRight(t, "KB"), 1<<10
	case strings.HasSuffix(t, "MB"), strings.HasSuffix(t, "M"):
		t, mult = strings.TrimRight(t, "MB"), 1<<20
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

const defaultGarbage = "*** mailhost: injected garbage ***"

func (f Fault) garbageLine() string {
	if f.Text != "" {
		return f.Text + "\r\n"
	}
	return defaultGarbage + "\r\n"
}

// smtpReply renders a FaultReply for SMTP.
func (f Fault) smtpReply() string {
	code := f.Code
	if code == 0 {
		code = 451
	}
	text := f.Text
	if text == "" {
		text = "mailhost: injected fault"
		if c := code / 100; c == 2 || c == 4 || c == 5 {
			text = strconv.Itoa(c) + ".0.0 " + text
		}
	}
	lines := strings.Split(text, "\n")
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		fmt.Fprintf(&b, "%d%s%s\r\n", code, sep, l)
	}
	return b.String()
}

// pop3Reply renders a FaultReply for POP3.
func (f Fault) pop3Reply() string {
	text := f.Text
	if text == "" {
		text = "mailhost: injected fault"
	}
	return "-ERR " + strings.ReplaceAll(text, "\n", " ") + "\r\n"
}

// faultSet matches stages against the configured faults. Safe for
// concurrent use.
type faultSet struct {
	mu     sync.Mutex
	faults []Fault
	seen   []int
	fired  []int
}

func (fs *faultSet) set(f []Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = append([]Fault(nil), f...)
	fs.seen = make([]int, len(f))
	fs.fired = make([]int, len(f))
}

// match counts one occurrence of st and returns the first fault that fires.
func (fs *faultSet) match(st Stage) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var hit Fault
	found := false
	for i, f := range fs.faults {
		if f.Stage != st {
			continue
		}
		fs.seen[i]++
		if found || fs.seen[i] <= f.Skip || (f.Times > 0 && fs.fired[i] >= f.Times) {
			continue
		}
		fs.fired[i]++
		hit, found = f, true
	}
	return hit, found
}

// resetConn aborts c with an RST when the transport supports SetLinger
// (kernel TCP), else closes it. A *tls.Conn is unwrapped first.
func resetConn(c net.Conn) error {
	if u, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = u.NetConn()
	}
	if l, ok := c.(interface{ SetLinger(sec int) error }); ok {
		_ = l.SetLinger(0)
	}
	return c.Close()
}

// drain reads and discards from r until it fails: the silent fault.
func drain(r io.Reader) {
	_, _ = io.Copy(io.Discard, r)
}
