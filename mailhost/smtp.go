package mailhost

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/simboard/simboard/internal/redact"
)

// SMTP design: go-smtp does the protocol; in front of it each connection
// has an interceptor (smtpConn) that owns the client's connection, its TLS
// and its timeouts, reads the client's commands line by line and forwards
// them one at a time, in lock step, through an in-memory pipe to go-smtp,
// relaying each reply back. Seeing both directions in clear lets it inject
// every fault at every stage, redact transcripts and keep the reply order
// of pipelined commands. When the client's side is TLS, the pipe carries
// TLS too (an internal certificate), so go-smtp's own TLS logic (STARTTLS
// offer, AUTH only under TLS, Conn.TLSConnectionState) works unchanged.

const pipeLimit = 64 << 10 // interceptor -> go-smtp buffering

func (h *Host) startSMTP() {
	h.smtpOnce.Do(func() {
		s := smtp.NewServer(&smtpBackend{h: h})
		s.Domain = h.domain
		s.AllowInsecureAuth = h.opts.AllowInsecureAuth
		s.MaxMessageBytes = h.maxMsg
		s.MaxRecipients = h.opts.MaxRecipients
		s.MaxLineLength = SMTPMaxLineLength
		s.EnableSMTPUTF8 = true
		s.ErrorLog = slogLogger{h.log}
		if h.innerSrvTLS != nil {
			s.TLSConfig = h.innerSrvTLS
		}
		h.handoff = newHandoff()
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		h.smtpSrv = s
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			_ = s.Serve(h.handoff)
		}()
	})
}

// smtpConn is the interceptor for one client connection. Its fields are
// owned by the interceptor goroutine except tls and discard, which
// go-smtp's session reads.
type smtpConn struct {
	h   *Host
	id  uint64
	raw net.Conn      // the accepted connection
	cli net.Conn      // raw, or TLS over raw
	cr  *bufio.Reader // client reader
	// bodyState is the end-of-data scanner's state in a DATA body.
	bodyState int
	tls       atomic.Bool // the client's side is TLS

	mine *pipeEnd // interceptor's end of the pipe to go-smtp
	srv  *pipeEnd // go-smtp's end
	in   net.Conn // mine, or TLS over mine
	ir   *bufio.Reader

	discard atomic.Bool // go-smtp's session must not deliver the current message

	red lineRedactor // the transcript's view of the session
}

var timeZero time.Time

// innerError marks a failure to write to go-smtp (it has gone away).
type innerError struct{ error }

func (e innerError) Unwrap() error { return e.error }

// innerWriter writes to go-smtp, tagging failures as innerError.
type innerWriter struct{ c *smtpConn }

func (w innerWriter) Write(b []byte) (int, error) {
	n, err := w.c.in.Write(b)
	if err != nil {
		err = innerError{err}
	}
	return n, err
}

type smtpReply struct {
	code  int
	lines []string // without CRLF
}

func (r smtpReply) bytes() []byte {
	var b []byte
	for _, l := range r.lines {
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return b
}

var errLineTooLong = errors.New("mailhost: line too long")

func (h *Host) serveSMTPConn(raw net.Conn, implicit bool) {
	h.startSMTP()
	c := &smtpConn{h: h, id: h.nextID.Add(1), raw: raw, cli: raw, red: lineRedactor{verb: redact.SMTPVerb}}
	c.mine, c.srv = newPipe(pipeLimit, 0, pipeAddr("mailhost-interceptor"), raw.RemoteAddr())
	c.srv.owner = c
	c.srv.local = raw.LocalAddr()
	if !h.addCloser(c.mine) {
		return
	}
	defer func() {
		c.mine.Close()
		h.untrack(c.mine)
		h.log.Debug("mailhost: smtp session end", "id", c.id)
	}()
	h.log.Debug("mailhost: smtp session", "id", c.id, "remote", raw.RemoteAddr().String(), "implicitTLS", implicit)
	if err := c.run(implicit); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		h.log.Debug("mailhost: smtp session error", "id", c.id, "err", err)
	}
}

func (c *smtpConn) run(implicit bool) error {
	h := c.h
	if h.smtpSrv == nil {
		return ErrClosed
	}
	var srvSide net.Conn = c.srv
	if implicit {
		tc, err := h.tlsServer(c.raw, h.srvTLS)
		if err != nil {
			h.log.Warn("mailhost: smtps handshake failed", "id", c.id, "err", err)
			return err
		}
		c.cli = tc
		c.tls.Store(true)
		srvSide = tls.Server(c.srv, h.innerSrvTLS)
	}
	c.cr = bufio.NewReader(c.cli)
	if !h.handoff.give(srvSide, h.done) {
		c.srv.Close()
		return ErrClosed
	}
	c.in = c.mine
	if implicit {
		tc := tls.Client(c.mine, h.innerCliTLS)
		if err := tc.Handshake(); err != nil {
			return err
		}
		c.in = tc
	}
	c.ir = bufio.NewReader(c.in)

	greet, err := c.readReply()
	if err != nil {
		return err
	}
	if f, ok := h.faults.match(SMTPGreeting); ok {
		h.log.Info("mailhost: fault", "stage", SMTPGreeting, "kind", f.Kind, "id", c.id)
		switch f.Kind {
		case FaultReply:
			if f.Code == 0 {
				f.Code = 421
			}
			c.write(f.smtpReply())
			if f.Code == 421 {
				return nil
			}
			return c.rejecting()
		case FaultGarbage:
			c.write(f.garbageLine())
		default:
			if !c.act(f) {
				return nil
			}
		}
	}
	c.relay(greet)

	for {
		line, err := c.readLine(SMTPMaxLineLength)
		if err != nil {
			return c.readFailed(err)
		}
		verb, arg := smtpVerb(line)
		c.logC(c.red.client(line))
		stage := smtpStage(verb)
		if stage != "" {
			if f, ok := h.faults.match(stage); ok {
				h.log.Info("mailhost: fault", "stage", stage, "kind", f.Kind, "id", c.id)
				switch f.Kind {
				case FaultReply:
					c.write(f.smtpReply())
					continue
				case FaultGarbage:
					c.write(f.garbageLine())
				default:
					if !c.act(f) {
						return nil
					}
				}
			}
		}
		if err := c.forward(line); err != nil {
			return c.ended(err)
		}
		switch verb {
		case "AUTH":
			err = c.auth()
		case "DATA":
			err = c.data()
		case "BDAT":
			err = c.bdat(arg)
		case "STARTTLS":
			err = c.startTLS()
		default:
			var r smtpReply
			r, err = c.readReply()
			if err == nil {
				c.relay(r)
				if verb == "QUIT" && r.code == 221 {
					return nil
				}
			}
		}
		if err != nil {
			return c.ended(err)
		}
	}
}

// smtpVerb splits a command line exactly as go-smtp's parseCmd does, so the
// interceptor and go-smtp agree on which command (DATA, BDAT, STARTTLS,
// AUTH) a line is. verb is "" for a line go-smtp rejects as malformed.
func smtpVerb(line string) (verb, arg string) {
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(strings.ToUpper(line), "STARTTLS"):
		return "STARTTLS", ""
	case len(line) < 4 || len(line) == 5:
		return "", ""
	case len(line) == 4:
		return strings.ToUpper(line), ""
	case line[4] != ' ':
		return "", ""
	}
	return strings.ToUpper(line[:4]), strings.TrimSpace(line[5:])
}

func smtpStage(verb string) Stage {
	switch verb {
	case "EHLO", "HELO":
		return SMTPEHLO
	case "STARTTLS":
		return SMTPStartTLS
	case "AUTH":
		return SMTPAuth
	case "MAIL":
		return SMTPMail
	case "RCPT":
		return SMTPRcpt
	case "DATA":
		return SMTPData
	case "QUIT":
		return SMTPQuit
	}
	return ""
}

// act performs a Delay, Close, Reset or Silent fault; it returns true when
// the session goes on.
func (c *smtpConn) act(f Fault) bool {
	switch f.Kind {
	case FaultDelay:
		return c.h.sleep(f.Delay)
	case FaultClose:
		c.raw.Close()
	case FaultReset:
		resetConn(c.raw)
	case FaultSilent:
		_ = c.cli.SetReadDeadline(timeZero)
		drain(c.cr)
	}
	return false
}

// rejecting is RFC 5321 §3.1 after a non-421 greeting refusal: 503 to every
// command but QUIT.
func (c *smtpConn) rejecting() error {
	for {
		line, err := c.readLine(SMTPMaxLineLength)
		if err != nil {
			return c.readFailed(err)
		}
		c.logC(c.red.client(line))
		if strings.EqualFold(strings.TrimSpace(line), "QUIT") {
			c.write("221 2.0.0 Bye\r\n")
			return nil
		}
		c.write("503 5.5.1 Bad sequence of commands\r\n")
	}
}

func (c *smtpConn) readFailed(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		c.write("500 5.4.0 Too long line, closing connection\r\n")
	case errors.As(err, &ne) && ne.Timeout():
		c.write("421 4.4.2 " + c.h.domain + " Idle timeout, closing connection\r\n")
	}
	return err
}

// ended ends the session after err. When go-smtp went away it first relays
// what go-smtp said before (a 500 after too many errors, say).
func (c *smtpConn) ended(err error) error {
	var ie innerError
	if !errors.As(err, &ie) {
		return err
	}
	for {
		r, rerr := c.readReply()
		if rerr != nil {
			return err
		}
		c.relay(r)
	}
}

func (c *smtpConn) readLine(limit int) (string, error) {
	c.h.idleDeadline(c.cli, readDeadline)
	b, err := readLine(c.cr, limit)
	return string(b), err
}

// readLine reads one line ending in LF (CR LF or bare LF stripped) of at most
// limit bytes including the line ending. A longer line is consumed and
// reported as errLineTooLong.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	long := false
	for {
		frag, err := r.ReadSlice('\n')
		if !long {
			if len(line)+len(frag) > limit {
				long, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case err == nil:
			if long {
				return nil, errLineTooLong
			}
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

func (c *smtpConn) write(s string) {
	for _, l := range strings.SplitAfter(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		c.h.tr.line("smtp", c.id, "S", c.red.server(strings.TrimSuffix(l, "\r\n")))
	}
	c.h.idleDeadline(c.cli, writeDeadline)
	_, _ = io.WriteString(c.cli, s)
}

func (c *smtpConn) logC(s string) { c.h.tr.line("smtp", c.id, "C", s) }

func (c *smtpConn) relay(r smtpReply) {
	for _, l := range r.lines {
		c.h.tr.line("smtp", c.id, "S", c.red.server(l))
	}
	c.h.idleDeadline(c.cli, writeDeadline)
	_, _ = c.cli.Write(r.bytes())
}

func (c *smtpConn) forward(line string) error {
	_, err := io.WriteString(innerWriter{c}, line+"\r\n")
	return err
}

// readReply reads one (possibly multi-line) reply from go-smtp.
func (c *smtpConn) readReply() (smtpReply, error) {
	var r smtpReply
	for {
		b, err := readLine(c.ir, 1<<16)
		if err != nil {
			return r, err
		}
		l := string(b)
		r.lines = append(r.lines, l)
		if len(l) < 4 || l[3] != '-' {
			if len(l) >= 3 {
				r.code, _ = strconv.Atoi(l[:3])
			}
			return r, nil
		}
	}
}

func (c *smtpConn) auth() error {
	for {
		r, err := c.readReply()
		if err != nil {
			return err
		}
		c.relay(r)
		if r.code != 334 {
			return nil
		}
		line, err := c.readLine(SMTPMaxLineLength)
		if err != nil {
			return c.readFailed(err)
		}
		c.red.saslResponse()
		c.logC(c.red.client(line))
		if err := c.forward(line); err != nil {
			return err
		}
	}
}

func (c *smtpConn) startTLS() error {
	r, err := c.readReply()
	if err != nil {
		return err
	}
	c.relay(r)
	if r.code != 220 || c.tls.Load() || c.h.opts.TLS == nil {
		return nil
	}
	// Plaintext the client pipelined behind STARTTLS must not survive the
	// upgrade (the CVE-2011-0411 class of injection).
	if n := c.cr.Buffered(); n > 0 {
		_, _ = c.cr.Discard(n)
		c.h.log.Warn("mailhost: smtp: data after STARTTLS discarded", "id", c.id, "bytes", n)
	}
	tc, err := c.h.tlsServer(c.raw, c.h.srvTLS)
	if err != nil {
		c.h.log.Warn("mailhost: smtp STARTTLS handshake failed", "id", c.id, "err", err)
		return err
	}
	c.cli, c.cr = tc, bufio.NewReader(tc)
	c.tls.Store(true)
	ic := tls.Client(c.mine, c.h.innerCliTLS)
	if err := ic.Handshake(); err != nil {
		return err
	}
	c.in, c.ir = ic, bufio.NewReader(ic)
	c.h.tr.line("smtp", c.id, "-", "TLS established")
	return nil
}

// prepareDataEnd consults the SMTPDataEnd stage before a message body is
// passed on. It returns the fault to apply after go-smtp's reply, if any,
// and tells the session not to deliver when the fault replaces the reply.
func (c *smtpConn) prepareDataEnd() (Fault, bool) {
	f, ok := c.h.faults.match(SMTPDataEnd)
	if ok {
		c.h.log.Info("mailhost: fault", "stage", SMTPDataEnd, "kind", f.Kind, "id", c.id)
		if f.Kind != FaultDelay && f.Kind != FaultGarbage {
			c.discard.Store(true)
		}
	}
	return f, ok
}

// finishData reads go-smtp's reply to a complete message and relays it, or
// applies the end-of-data fault.
func (c *smtpConn) finishData(f Fault, faulted bool) error {
	r, err := c.readReply()
	c.discard.Store(false)
	if err != nil {
		return err
	}
	if faulted {
		switch f.Kind {
		case FaultReply:
			c.write(f.smtpReply())
			return nil
		case FaultGarbage:
			c.write(f.garbageLine())
		default:
			if !c.act(f) {
				return net.ErrClosed
			}
		}
	}
	c.relay(r)
	return nil
}

func (c *smtpConn) data() error {
	r, err := c.readReply()
	if err != nil {
		return err
	}
	c.relay(r)
	if r.code != 354 {
		return nil
	}
	f, faulted := c.prepareDataEnd()
	var limit int64
	if faulted && f.AfterBytes > 0 {
		limit = f.AfterBytes
	}
	c.bodyState = bodyBeginLine
	n, done, err := c.copyBody(limit)
	if err == nil && !done {
		// AfterBytes reached inside the body: the fault fires now.
		c.logC("<message body, " + strconv.FormatInt(n, 10) + " octets so far>")
		c.h.log.Info("mailhost: fault", "stage", SMTPDataEnd, "kind", f.Kind, "after_bytes", n, "id", c.id)
		if !c.act(f) {
			return net.ErrClosed
		}
		faulted = false // a delay: the rest of the body follows
		var m int64
		m, _, err = c.copyBody(0)
		n += m
	}
	c.logC("<message body, " + strconv.FormatInt(n, 10) + " octets>")
	if err != nil {
		return err
	}
	return c.finishData(f, faulted)
}

// Body scanner states, mirroring go-smtp's dataReader exactly so that both
// agree on where the end-of-data line is.
const (
	bodyBeginLine = iota
	bodyDot
	bodyDotCR
	bodyCR
	bodyData
)

// scanBody advances the end-of-data scanner over b. It returns how many
// bytes of b belong to the body (terminator included) and whether the
// terminator was found.
func scanBody(state *int, b []byte) (int, bool) {
	for i, ch := range b {
		switch *state {
		case bodyBeginLine:
			switch ch {
			case '.':
				*state = bodyDot
			case '\r':
				*state = bodyCR
			default:
				*state = bodyData
			}
		case bodyDot:
			if ch == '\r' {
				*state = bodyDotCR
			} else {
				*state = bodyData
			}
		case bodyDotCR:
			if ch == '\n' {
				*state = bodyBeginLine
				return i + 1, true
			}
			*state = bodyData
		case bodyCR:
			if ch == '\n' {
				*state = bodyBeginLine
			} else {
				*state = bodyData
			}
		case bodyData:
			if ch == '\r' {
				*state = bodyCR
			}
		}
	}
	return len(b), false
}

// copyBody streams the DATA body, end-of-data line included, to go-smtp.
// With limit > 0 it stops once limit octets have passed and reports
// done false (unless the end of data came first). The scanner state is
// c.bodyState (data sets it to bodyBeginLine first), so a second call goes
// on where the first stopped.
func (c *smtpConn) copyBody(limit int64) (int64, bool, error) {
	state := &c.bodyState
	var total int64
	for {
		c.h.idleDeadline(c.cli, readDeadline)
		if c.cr.Buffered() == 0 {
			if _, err := c.cr.Peek(1); err != nil {
				return total, false, err
			}
		}
		b, _ := c.cr.Peek(c.cr.Buffered())
		if limit > 0 && int64(len(b)) > limit-total {
			b = b[:limit-total]
		}
		n, done := scanBody(state, b)
		if _, err := (innerWriter{c}).Write(b[:n]); err != nil {
			return total, false, err
		}
		_, _ = c.cr.Discard(n)
		total += int64(n)
		if done {
			return total, true, nil
		}
		if limit > 0 && total >= limit {
			return total, false, nil
		}
	}
}

// bdat forwards a BDAT command's chunk exactly when go-smtp will read one.
func (c *smtpConn) bdat(arg string) error {
	args := strings.Fields(arg)
	size, perr := uint64(0), error(nil)
	chunk := len(args) == 1 || (len(args) == 2 && strings.EqualFold(args[1], "LAST"))
	if chunk {
		size, perr = strconv.ParseUint(args[0], 10, 32)
		chunk = perr == nil
	}
	last := chunk && len(args) == 2
	var f Fault
	var faulted bool
	if last {
		f, faulted = c.prepareDataEnd()
	}
	if chunk {
		c.h.idleDeadline(c.cli, readDeadline)
		n, err := io.CopyN(innerWriter{c}, c.cr, int64(size))
		c.logC("<chunk, " + strconv.FormatInt(n, 10) + " octets>")
		if err != nil {
			return err
		}
	}
	if last {
		return c.finishData(f, faulted)
	}
	r, err := c.readReply()
	if err != nil {
		return err
	}
	c.relay(r)
	return nil
}

// smtpBackend creates go-smtp sessions bound to their interceptor.
type smtpBackend struct{ h *Host }

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	nc := c.Conn()
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	pe, ok := nc.(*pipeEnd)
	if !ok || pe.owner == nil {
		return nil, errors.New("mailhost: smtp: connection without interceptor")
	}
	return &smtpSession{h: b.h, ic: pe.owner, conn: c}, nil
}

// smtpSession is go-smtp's per-connection session. go-smtp calls it from
// one goroutine at a time.
type smtpSession struct {
	h        *Host
	ic       *smtpConn
	conn     *smtp.Conn
	authUser string
	authMech string
	from     string
	opts     *smtp.MailOptions
	rcpts    []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (s *smtpSession) AuthMechanisms() []string { return s.h.mechs }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	found := false
	for _, m := range s.h.mechs {
		found = found || m == mech
	}
	if !found {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	srv, err := newSASLServer(mech, s.h.creds, s.h.domain, func() int64 { return s.h.clock.Now().UnixNano() }, s.h.cramRand,
		func(user string) { s.authUser, s.authMech = user, mech })
	if err != nil {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return smtpSASL{srv}, nil
}

// smtpSASL maps the mechanisms' errors to SMTP replies.
type smtpSASL struct{ s sasl.Server }

func (a smtpSASL) Next(resp []byte) ([]byte, bool, error) {
	ch, done, err := a.s.Next(resp)
	switch {
	case err == nil:
	case errors.Is(err, errAuthFailed):
		err = smtp.ErrAuthFailed
	case errors.Is(err, errSASLMalformed), errors.Is(err, errSASLSequence):
		err = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Malformed authentication response"}
	}
	return ch, done, err
}

func (s *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.h.opts.RequireAuth && s.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.from, s.opts, s.rcpts = from, opts, nil
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, ok := s.h.store.Resolve(to); !ok {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.ic.discard.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Discarded by fault injection"}
	}
	env := Envelope{
		Proto:    "smtp",
		Remote:   s.ic.raw.RemoteAddr().String(),
		Helo:     s.conn.Hostname(),
		From:     s.from,
		Rcpts:    s.rcpts,
		AuthUser: s.authUser,
		AuthMech: s.authMech,
		TLS:      s.ic.tls.Load(),
		Data:     b,
	}
	if s.opts != nil {
		env.UTF8, env.Body = s.opts.UTF8, string(s.opts.Body)
	}
	if err := s.h.store.deliver(env); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Delivery failed"}
	}
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.opts, s.rcpts = "", nil, nil }
func (s *smtpSession) Logout() error { return nil }
