package mailhost

import (
	"bufio"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/simboard/simboard/internal/redact"
)

// POP3 server: RFC 1939 (with APOP), RFC 2449 (CAPA), RFC 2595 (STLS),
// RFC 3206 (response codes), RFC 5034 (SASL AUTH). Commands are served one
// at a time in order (PIPELINING is not advertised, but a client that
// pipelines anyway gets its replies in order).

type pop3State int

const (
	pop3Authorization pop3State = iota
	pop3Transaction
	pop3Update // QUIT done; the connection closes
)

type pop3Action int

const (
	pop3Continue pop3Action = iota
	pop3Close               // reply written; close the connection
	pop3StartTLS            // "+OK Begin TLS negotiation" written; handshake next
)

// pop3Session is the protocol state of one POP3 connection, independent of
// the transport so it can be driven line by line (and fuzzed). It is owned
// by one goroutine.
type pop3Session struct {
	h         *Host
	id        uint64
	w         *bufio.Writer
	state     pop3State
	tlsActive bool
	timestamp string // APOP banner timestamp, "" when APOP is off

	user     string // from USER, waiting for PASS
	authUser string // maildrop owner once authenticated
	msgs     []*Message
	deleted  []bool
	locked   bool

	sasl     sasl.Server // pending AUTH exchange, nil when none
	saslUser string      // set by the SASL server on success

	multi bool // the last reply was multi-line (for tests)

	red lineRedactor // the transcript's view of the session
}

func newPOP3Session(h *Host, id uint64, w *bufio.Writer, tlsActive bool) *pop3Session {
	s := &pop3Session{h: h, id: id, w: w, tlsActive: tlsActive, red: lineRedactor{verb: redact.POP3Verb}}
	if h.opts.APOP != APOPOff {
		s.timestamp = fmt.Sprintf("<%d.%d@%s>", h.apopPID, h.clock.Now().UnixNano(), h.domain)
	}
	return s
}

func (s *pop3Session) greeting() string {
	g := "+OK " + s.h.domain + " POP3 server ready"
	if s.timestamp != "" {
		g += " " + s.timestamp
	}
	return g
}

// line writes one reply line and records it in the transcript.
func (s *pop3Session) line(l string) {
	s.h.tr.line("pop3", s.id, "S", s.red.server(l))
	s.w.WriteString(l)
	s.w.WriteString("\r\n")
}

func (s *pop3Session) ok(text string)  { s.line("+OK " + text) }
func (s *pop3Session) err(text string) { s.line("-ERR " + text) }

// release drops the maildrop lock without committing deletions.
func (s *pop3Session) release() {
	if s.locked {
		s.h.store.unlock(s.authUser, nil)
		s.locked = false
	}
}

// tooLong answers a line longer than the limit (and cancels a SASL
// exchange in progress).
func (s *pop3Session) tooLong() {
	s.multi = false
	if s.sasl != nil {
		s.sasl = nil
		s.err("[AUTH] authentication cancelled: line too long")
		return
	}
	s.err("line too long")
}

// lineLimit is the longest line the session accepts next.
func (s *pop3Session) lineLimit() int {
	if s.sasl != nil {
		return pop3MaxSASLLine
	}
	return POP3MaxLineLength
}

// stage returns the fault stage a command line belongs to, "" for none
// (and for SASL continuation lines).
func (s *pop3Session) stage(line []byte) Stage {
	if s.sasl != nil {
		return ""
	}
	verb, _, _ := strings.Cut(string(line), " ")
	switch strings.ToUpper(verb) {
	case "USER":
		return POP3User
	case "PASS":
		return POP3Pass
	case "APOP":
		return POP3APOP
	case "AUTH":
		return POP3Auth
	case "STAT":
		return POP3Stat
	case "LIST":
		return POP3List
	case "UIDL":
		return POP3UIDL
	case "TOP":
		return POP3Top
	case "RETR":
		return POP3Retr
	case "DELE":
		return POP3Dele
	case "RSET":
		return POP3Rset
	case "NOOP":
		return POP3Noop
	case "QUIT":
		return POP3Quit
	case "CAPA":
		return POP3Capa
	case "STLS":
		return POP3STLS
	}
	return ""
}

// logC records a client line in the transcript, redacted (see
// lineRedactor).
func (s *pop3Session) logC(line []byte) {
	if s.sasl != nil {
		s.red.saslResponse()
	}
	s.h.tr.line("pop3", s.id, "C", s.red.client(string(line)))
}

// handle executes one client line (without its line ending) and writes the
// reply to s.w (not flushed). The caller acts on the returned action.
func (s *pop3Session) handle(line []byte) pop3Action {
	s.multi = false
	if s.sasl != nil {
		return s.saslStep(string(line))
	}
	l := string(line)
	verb, rest, hasArgs := strings.Cut(l, " ")
	verb = strings.ToUpper(verb)
	var args []string
	if hasArgs {
		args = strings.Split(rest, " ")
	}
	switch verb {
	case "CAPA":
		if hasArgs {
			s.err("CAPA takes no arguments")
			return pop3Continue
		}
		s.capa()
		return pop3Continue
	case "QUIT":
		return s.quit()
	case "NOOP":
		if s.state != pop3Transaction {
			s.err("command not valid in this state")
		} else if hasArgs {
			s.err("NOOP takes no arguments")
		} else {
			s.ok("")
		}
		return pop3Continue
	}
	switch s.state {
	case pop3Authorization:
		switch verb {
		case "USER":
			s.cmdUser(args)
		case "PASS":
			s.cmdPass(rest, hasArgs)
		case "APOP":
			s.cmdAPOP(args)
		case "AUTH":
			s.cmdAuth(args)
		case "STLS":
			return s.cmdSTLS(hasArgs)
		case "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET":
			s.err("command not valid in this state")
		default:
			s.err("unknown command")
		}
	case pop3Transaction:
		switch verb {
		case "STAT":
			if hasArgs {
				s.err("STAT takes no arguments")
				break
			}
			n, size := s.totals()
			s.ok(fmt.Sprintf("%d %d", n, size))
		case "LIST", "UIDL":
			s.cmdList(verb, args)
		case "RETR":
			s.cmdRetr(args)
		case "TOP":
			s.cmdTop(args)
		case "DELE":
			if i, ok := s.msgArg(args, 1); ok {
				s.deleted[i] = true
				s.ok(fmt.Sprintf("message %d deleted", i+1))
			}
		case "RSET":
			if hasArgs {
				s.err("RSET takes no arguments")
				break
			}
			clear(s.deleted)
			n, size := s.totals()
			s.ok(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
		case "USER", "PASS", "APOP", "AUTH", "STLS":
			s.err("command not valid in this state")
		default:
			s.err("unknown command")
		}
	default:
		s.err("command not valid in this state")
	}
	return pop3Continue
}

func (s *pop3Session) capa() {
	s.multi = true
	s.ok("Capability list follows")
	for _, c := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"} {
		s.line(c)
	}
	if s.state == pop3Authorization {
		plain := s.h.plainAllowed(s.tlsActive)
		if plain {
			s.line("USER")
		}
		if m := s.mechanisms(); len(m) > 0 {
			s.line("SASL " + strings.Join(m, " "))
		}
		if s.h.opts.TLS != nil && !s.tlsActive {
			s.line("STLS")
		}
	}
	s.line("IMPLEMENTATION simboard-mailhost")
	s.line(".")
}

// mechanisms lists the SASL mechanisms usable now.
func (s *pop3Session) mechanisms() []string {
	var out []string
	for _, m := range s.h.mechs {
		if !plaintextMech(m) || s.h.plainAllowed(s.tlsActive) {
			out = append(out, m)
		}
	}
	return out
}

func (s *pop3Session) quit() pop3Action {
	if s.state == pop3Transaction {
		del := make(map[string]bool)
		for i, d := range s.deleted {
			if d {
				del[s.msgs[i].UID] = true
			}
		}
		left := s.h.store.unlock(s.authUser, del)
		s.locked = false
		s.state = pop3Update
		s.ok(fmt.Sprintf("%s POP3 server signing off (%d messages left)", s.h.domain, left))
		return pop3Close
	}
	s.state = pop3Update
	s.ok(s.h.domain + " POP3 server signing off")
	return pop3Close
}

func (s *pop3Session) cmdUser(args []string) {
	if !s.h.plainAllowed(s.tlsActive) {
		s.err("[AUTH] Plaintext authentication disallowed on non-secure connection")
		return
	}
	if len(args) != 1 || args[0] == "" {
		s.err("USER takes one argument")
		return
	}
	s.user = args[0]
	s.ok("send PASS")
}

func (s *pop3Session) cmdPass(pass string, hasArgs bool) {
	if s.user == "" {
		s.err("USER first")
		return
	}
	user := s.user
	s.user = ""
	if !hasArgs {
		s.err("PASS takes one argument")
		return
	}
	name, err := s.h.creds.checkPassword(user, pass)
	if err != nil {
		s.err("[AUTH] authentication failed")
		return
	}
	s.login(name)
}

func (s *pop3Session) cmdAPOP(args []string) {
	if s.h.opts.APOP != APOPOn {
		s.err("[AUTH] APOP not supported")
		return
	}
	if len(args) != 2 {
		s.err("APOP takes a name and a digest")
		return
	}
	e, found := s.h.creds.lookup(args[0])
	sum := md5.Sum([]byte(s.timestamp + e.password))
	want := hex.EncodeToString(sum[:])
	if !found || subtle.ConstantTimeCompare([]byte(want), []byte(args[1])) != 1 {
		s.err("[AUTH] authentication failed")
		return
	}
	s.login(e.name)
}

// login takes the maildrop lock and enters TRANSACTION.
func (s *pop3Session) login(user string) {
	msgs, err := s.h.store.lock(user)
	if err != nil {
		if errors.Is(err, ErrMaildropLocked) {
			s.err("[IN-USE] maildrop is locked by another session")
		} else {
			s.err("[SYS/PERM] no maildrop")
		}
		return
	}
	s.authUser, s.msgs, s.deleted, s.locked = user, msgs, make([]bool, len(msgs)), true
	s.state = pop3Transaction
	n, size := s.totals()
	s.ok(fmt.Sprintf("%s's maildrop has %d messages (%d octets)", user, n, size))
}

func (s *pop3Session) cmdSTLS(hasArgs bool) pop3Action {
	switch {
	case hasArgs:
		s.err("STLS takes no arguments")
	case s.h.opts.TLS == nil:
		s.err("STLS not available")
	case s.tlsActive:
		s.err("already in TLS")
	default:
		s.ok("Begin TLS negotiation")
		return pop3StartTLS
	}
	return pop3Continue
}

func (s *pop3Session) cmdAuth(args []string) {
	if len(args) == 0 {
		s.multi = true
		s.ok("SASL mechanisms follow")
		for _, m := range s.mechanisms() {
			s.line(m)
		}
		s.line(".")
		return
	}
	if len(args) > 2 {
		s.err("AUTH takes a mechanism and an optional initial response")
		return
	}
	mech := strings.ToUpper(args[0])
	allowed := false
	for _, m := range s.h.mechs {
		allowed = allowed || m == mech
	}
	if !allowed {
		s.err("[AUTH] unsupported mechanism")
		return
	}
	if plaintextMech(mech) && !s.h.plainAllowed(s.tlsActive) {
		s.err("[AUTH] Plaintext authentication disallowed on non-secure connection")
		return
	}
	s.saslUser = ""
	srv, err := newSASLServer(mech, s.h.creds, s.h.domain, func() int64 { return s.h.clock.Now().UnixNano() }, s.h.cramRand,
		func(u string) { s.saslUser = u })
	if err != nil {
		s.err("[AUTH] unsupported mechanism")
		return
	}
	var ir []byte
	if len(args) == 2 {
		if args[1] == "=" {
			ir = []byte{}
		} else if ir, err = base64.StdEncoding.DecodeString(args[1]); err != nil {
			s.err("[AUTH] invalid base64")
			return
		}
	}
	s.sasl = srv
	s.saslNext(ir)
}

// saslNext feeds one response to the pending SASL exchange.
func (s *pop3Session) saslNext(resp []byte) {
	ch, fin, err := s.sasl.Next(resp)
	switch {
	case err != nil:
		s.sasl = nil
		if errors.Is(err, errSASLMalformed) || errors.Is(err, errSASLSequence) {
			s.err("[AUTH] malformed authentication response")
		} else {
			s.err("[AUTH] authentication failed")
		}
	case fin:
		s.sasl = nil
		if s.saslUser == "" {
			s.err("[AUTH] authentication failed")
			return
		}
		s.login(s.saslUser)
	default:
		s.line("+ " + base64.StdEncoding.EncodeToString(ch))
	}
}

func (s *pop3Session) saslStep(l string) pop3Action {
	if l == "*" {
		s.sasl = nil
		s.err("[AUTH] authentication cancelled")
		return pop3Continue
	}
	resp, err := base64.StdEncoding.DecodeString(l)
	if err != nil {
		s.sasl = nil
		s.err("[AUTH] invalid base64")
		return pop3Continue
	}
	s.saslNext(resp)
	return pop3Continue
}

func (s *pop3Session) totals() (n, size int) {
	for i, m := range s.msgs {
		if !s.deleted[i] {
			n++
			size += m.Size()
		}
	}
	return n, size
}

// msgArg validates a command's arguments: want of them, the first a live
// message number. It writes the -ERR itself and returns the 0-based index.
func (s *pop3Session) msgArg(args []string, want int) (int, bool) {
	if len(args) != want {
		s.err("wrong number of arguments")
		return 0, false
	}
	i, ok := parseNumber(args[0])
	if !ok {
		s.err("invalid message number")
		return 0, false
	}
	if i < 1 || i > len(s.msgs) {
		s.err(fmt.Sprintf("no such message, only %d messages in maildrop", len(s.msgs)))
		return 0, false
	}
	if s.deleted[i-1] {
		s.err(fmt.Sprintf("message %d already deleted", i))
		return 0, false
	}
	return i - 1, true
}

// parseNumber accepts 1 to 9 decimal digits (no sign, no spaces).
func parseNumber(a string) (int, bool) {
	if a == "" || len(a) > 9 {
		return 0, false
	}
	for _, c := range []byte(a) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(a)
	return n, err == nil
}

func (s *pop3Session) cmdList(verb string, args []string) {
	item := func(i int) string {
		if verb == "UIDL" {
			return fmt.Sprintf("%d %s", i+1, s.msgs[i].UID)
		}
		return fmt.Sprintf("%d %d", i+1, s.msgs[i].Size())
	}
	if len(args) > 0 {
		if i, ok := s.msgArg(args, 1); ok {
			s.ok(item(i))
		}
		return
	}
	s.multi = true
	n, size := s.totals()
	if verb == "UIDL" {
		s.ok("unique-id listing follows")
	} else {
		s.ok(fmt.Sprintf("%d messages (%d octets)", n, size))
	}
	for i := range s.msgs {
		if !s.deleted[i] {
			s.w.WriteString(item(i))
			s.w.WriteString("\r\n")
		}
	}
	s.line(".")
}

func (s *pop3Session) cmdRetr(args []string) {
	i, ok := s.msgArg(args, 1)
	if !ok {
		return
	}
	s.multi = true
	m := s.msgs[i]
	s.ok(fmt.Sprintf("%d octets", m.Size()))
	s.body(m.Data)
}

func (s *pop3Session) cmdTop(args []string) {
	if len(args) != 2 {
		s.err("TOP takes a message number and a line count")
		return
	}
	n, ok := parseNumber(args[1])
	if !ok {
		s.err("invalid line count")
		return
	}
	i, ok := s.msgArg(args[:1], 1)
	if !ok {
		return
	}
	s.multi = true
	s.ok("top of message follows")
	s.body(topOf(s.msgs[i].Data, n))
}

func (s *pop3Session) body(data []byte) {
	s.h.tr.line("pop3", s.id, "S", fmt.Sprintf("<%d octets, dot-stuffed>", len(data)))
	_ = writeDotStuffed(s.w, data)
	_ = dotTerminate(s.w, data)
	s.h.tr.line("pop3", s.id, "S", ".")
}

// servePOP3Conn runs one POP3 connection.
func (h *Host) servePOP3Conn(raw net.Conn, implicit bool) {
	id := h.nextID.Add(1)
	h.log.Debug("mailhost: pop3 session", "id", id, "remote", raw.RemoteAddr().String(), "implicitTLS", implicit)
	defer h.log.Debug("mailhost: pop3 session end", "id", id)
	cli := raw
	if implicit {
		tc, err := h.tlsServer(raw, h.srvTLS)
		if err != nil {
			h.log.Warn("mailhost: pop3s handshake failed", "id", id, "err", err)
			return
		}
		cli = tc
	}
	r, w := bufio.NewReader(cli), bufio.NewWriter(cli)
	s := newPOP3Session(h, id, w, implicit)
	defer s.release()
	flush := func() error {
		h.idleDeadline(cli, writeDeadline)
		return w.Flush()
	}

	act := func(f Fault) bool {
		h.log.Info("mailhost: fault", "stage", f.Stage, "kind", f.Kind, "id", id)
		switch f.Kind {
		case FaultReply:
			s.line(strings.TrimSuffix(f.pop3Reply(), "\r\n"))
			flush()
			return f.Stage != POP3Greeting
		case FaultGarbage:
			s.line(strings.TrimSuffix(f.garbageLine(), "\r\n"))
			return true
		case FaultDelay:
			return h.sleep(f.Delay)
		case FaultClose:
			raw.Close()
		case FaultReset:
			resetConn(raw)
		case FaultSilent:
			_ = cli.SetReadDeadline(timeZero)
			drain(r)
		}
		return false
	}

	if f, ok := h.faults.match(POP3Greeting); ok {
		if !act(f) {
			return
		}
	}
	s.line(s.greeting())
	if flush() != nil {
		return
	}
	for {
		h.idleDeadline(cli, readDeadline)
		line, err := readLine(r, s.lineLimit())
		var ne net.Error
		switch {
		case errors.Is(err, errLineTooLong):
			h.log.Warn("mailhost: pop3 line too long", "id", id)
			s.tooLong()
			if flush() != nil {
				return
			}
			continue
		case errors.As(err, &ne) && ne.Timeout():
			s.err("[SYS/TEMP] autologout; idle for too long")
			flush()
			return
		case err != nil:
			return
		}
		s.logC(line)
		if st := s.stage(line); st != "" {
			if f, ok := h.faults.match(st); ok {
				if f.Kind == FaultReply {
					act(f)
					continue
				}
				if !act(f) {
					return
				}
			}
		}
		a := s.handle(line)
		if flush() != nil {
			return
		}
		switch a {
		case pop3Close:
			return
		case pop3StartTLS:
			if n := r.Buffered(); n > 0 {
				_, _ = r.Discard(n) // no plaintext may survive the upgrade
			}
			tc, err := h.tlsServer(raw, h.srvTLS)
			if err != nil {
				h.log.Warn("mailhost: pop3 STLS handshake failed", "id", id, "err", err)
				return
			}
			cli = tc
			r, w = bufio.NewReader(cli), bufio.NewWriter(cli)
			s.w, s.tlsActive, s.user = w, true, ""
			h.tr.line("pop3", id, "-", "TLS established")
		}
	}
}
