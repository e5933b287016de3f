package smtpc

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

// endMode is how a session's connection is closed.
type endMode int

const (
	endQuit      endMode = iota // dialogue in sync: QUIT, then a graceful close
	endReset                    // transport broken or message half sent: reset (RST)
	endQuitReset                // malformed reply: best-effort QUIT, then reset
	endClose                    // the server said 421: close without QUIT
	endDone                     // QUIT exchanged (or tried after acceptance): graceful close
)

// transportError is a failure of the connection itself (timeout, reset,
// closed, send failure) at a stage; it wraps the nx.Status.
type transportError struct {
	stage, op string
	err       error
}

func (e *transportError) Error() string {
	return "smtpc: " + e.stage + ": " + e.op + ": " + e.err.Error()
}

func (e *transportError) Unwrap() error { return e.err }

// session is one SMTP dialogue over one connection.
type session struct {
	cfg    *config
	t      *mailconn.Conn
	rr     replyReader
	tlsCfg *tls.Config

	caps       map[string]string // EHLO keywords (upper case) and their parameters
	authSeen   bool              // an AUTH keyword was advertised
	res        Result
	end        endMode
	quitSent   bool
	line       []byte // command scratch
	look       []byte
	transcript func(prefix string, line []byte)
}

func newSession(cfg *config, t *mailconn.Conn, clock nx.Clock, tlsCfg *tls.Config) *session {
	s := &session{cfg: cfg, t: t, tlsCfg: tlsCfg, end: endReset}
	s.rr.lr.Clock = clock
	if w := cfg.Transcript; w != nil {
		s.transcript = func(prefix string, line []byte) {
			b := make([]byte, 0, len(prefix)+len(line)+1)
			b = append(b, prefix...)
			b = append(b, line...)
			_, _ = w.Write(append(b, '\n'))
		}
		s.rr.onLine = func(line []byte) { s.transcript("S: ", line) }
	}
	return s
}

func (s *session) note(prefix, text string) {
	if s.transcript != nil {
		s.transcript(prefix, []byte(text))
	}
}

// send writes one command line. redact keeps it out of the transcript.
func (s *session) send(ctx context.Context, stage, line string, redact bool) error {
	if s.transcript != nil {
		if redact {
			s.note("C: ", "<credentials redacted>")
		} else {
			s.note("C: ", line)
		}
	}
	if err := s.writeLine(ctx, stage, line); err != nil {
		return err
	}
	if err := s.t.Flush(ctx); err != nil {
		return s.broken(stage, "send command", err)
	}
	return nil
}

// writeLine queues line and CRLF on the transport without flushing.
func (s *session) writeLine(ctx context.Context, stage, line string) error {
	s.line = append(append(s.line[:0], line...), '\r', '\n')
	if err := s.t.Write(ctx, s.line); err != nil {
		return s.broken(stage, "send command", err)
	}
	return nil
}

// broken records a transport failure: the connection will be reset.
func (s *session) broken(stage, op string, err error) error {
	s.end = endReset
	return &transportError{stage: stage, op: op, err: connErr(err)}
}

// read waits for the next reply.
func (s *session) read(ctx context.Context, stage string, wait nx.Wait) (reply, error) {
	rep, err := s.rr.read(ctx, s.t, wait, stage)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			s.end = endQuitReset
			return rep, err
		}
		var te *transportError
		if errors.As(err, &te) {
			s.end = endReset
			return rep, err
		}
		return rep, s.broken(stage, "receive reply", err)
	}
	return rep, nil
}

// cmd sends a command and reads its reply.
func (s *session) cmd(ctx context.Context, stage, line string, redact bool) (reply, error) {
	if err := s.send(ctx, stage, line, redact); err != nil {
		return reply{}, err
	}
	return s.read(ctx, stage, s.cfg.to.Envelope)
}

// reject turns an unwanted reply into the stage's status with a *ReplyError.
// The dialogue is still in sync, so the session ends with QUIT, except after
// 421 (the server is closing the channel).
func (s *session) reject(st Status, stage string, rep reply) error {
	enh, msg := rep.enhanced()
	if rep.code == 421 {
		s.end = endClose
	}
	return withStatus(st, &ReplyError{Code: rep.code, Enhanced: enh, Msg: msg, Stage: stage})
}

func (s *session) run(ctx context.Context, m *mail) error {
	if s.cfg.netx {
		return s.runNetX(ctx, m) // netx_send.go: NetX's own state machine
	}
	if s.cfg.TLS == TLSImplicit {
		if err := s.startTLS(ctx, "implicit TLS"); err != nil {
			return err
		}
	}
	rep, err := s.read(ctx, "greeting", s.cfg.to.Greeting)
	if err != nil {
		return err
	}
	s.end = endQuit
	if rep.code != 220 {
		return greetingRefused(s.reject(ErrGreetReply, "greeting", rep), rep.code) // byname.go: 554
	}
	if err := s.hello(ctx); err != nil {
		return err
	}
	if !s.t.Secure() && (s.cfg.TLS == TLSOpportunistic || s.cfg.TLS == TLSRequired) {
		if _, ok := s.caps["STARTTLS"]; ok {
			rep, err := s.cmd(ctx, "STARTTLS", "STARTTLS", false)
			if err != nil {
				return err
			}
			switch {
			case rep.code == 220:
				if s.rr.pending() > 0 {
					// Bytes after the 220 were sent in plaintext and
					// must not be taken as TLS-protected replies
					// (the STARTTLS command-injection attack).
					s.end = endReset
					return withStatus(ErrServerErrorReply, &ProtocolError{Stage: "STARTTLS", Reason: "data after the STARTTLS reply"})
				}
				if err := s.startTLS(ctx, "STARTTLS"); err != nil {
					return err
				}
				if err := s.hello(ctx); err != nil {
					return err
				}
			case s.cfg.TLS == TLSRequired:
				return s.reject(ErrHelloReply, "STARTTLS", rep)
			}
		} else if s.cfg.TLS == TLSRequired {
			return withStatus(ErrHelloReply, ErrTLSUnavailable)
		}
	}
	if err := s.auth(ctx); err != nil {
		return err
	}
	params, check8bit, err := s.mailParams(m)
	if err != nil {
		return err
	}
	from := "MAIL FROM:<" + s.cfg.From + ">"
	if rep, err = s.cmd(ctx, from, from+params, false); err != nil {
		return err
	}
	if rep.code != 250 {
		return s.reject(ErrMailReply, "MAIL FROM:<"+s.cfg.From+">", rep)
	}
	for _, r := range m.recipients() {
		stage := "RCPT TO:<" + r + ">"
		line := stage
		if s.cfg.netx {
			line += " "
		}
		if rep, err = s.cmd(ctx, stage, line, false); err != nil {
			return err
		}
		if rep.code != 250 && (s.cfg.netx || rep.code != 251) {
			return s.reject(ErrRcptReply, stage, rep)
		}
		s.res.Recipients++
	}
	if _, ok := s.caps["CHUNKING"]; ok && s.cfg.Chunking && !s.cfg.netx {
		if rep, err = s.messageBDAT(ctx, m, check8bit); err != nil {
			return err
		}
		if rep.code != 250 {
			return s.reject(ErrMessageReply, "BDAT", rep)
		}
	} else {
		if rep, err = s.cmd(ctx, "DATA", "DATA", false); err != nil {
			return err
		}
		if rep.code != 354 {
			return s.reject(ErrDataReply, "DATA", rep)
		}
		if err := s.message(ctx, m, check8bit); err != nil {
			return err
		}
		if rep, err = s.read(ctx, "end of data", s.cfg.to.Message); err != nil {
			return err
		}
		s.end = endQuit
		if rep.code != 250 {
			return s.reject(ErrMessageReply, "end of data", rep)
		}
	}
	s.res.Accepted = true
	_, s.res.Reply = rep.enhanced()
	if enh, _ := rep.enhanced(); enh != "" {
		s.res.Reply = enh + " " + s.res.Reply
	}
	// The mail is accepted: a failing QUIT no longer changes that.
	s.quitSent = true
	s.end = endDone
	rep, err = s.cmd(ctx, "QUIT", "QUIT", false)
	switch {
	case err != nil:
		s.res.QuitErr = fmt.Errorf("%w: %w", ErrQuit, err)
		if s.end != endQuitReset {
			s.end = endReset
		}
	case rep.code != 221:
		s.res.QuitErr = fmt.Errorf("%w: %w", ErrQuit, s.reject(ErrServerErrorCode, "QUIT", rep))
		s.end = endDone
	default:
		s.end = endDone
	}
	return nil
}

// hello sends EHLO and, outside ProfileNetX, falls back to HELO when the
// server does not know EHLO (500 or 502).
func (s *session) hello(ctx context.Context) error {
	rep, err := s.cmd(ctx, "EHLO", "EHLO "+s.cfg.domain, false)
	if err != nil {
		return err
	}
	if rep.code == 250 {
		s.parseCaps(rep)
		return nil
	}
	if !s.cfg.netx && (rep.code == 500 || rep.code == 502) {
		if rep, err = s.cmd(ctx, "HELO", "HELO "+s.cfg.domain, false); err != nil {
			return err
		}
		if rep.code == 250 {
			s.caps, s.authSeen = map[string]string{}, false
			return nil
		}
		return s.reject(ErrHelloReply, "HELO", rep)
	}
	return s.reject(ErrHelloReply, "EHLO", rep)
}

// parseCaps reads the EHLO keywords (lines after the first).
func (s *session) parseCaps(rep reply) {
	s.caps, s.authSeen = map[string]string{}, false
	for _, l := range rep.lines[min(1, len(rep.lines)):] {
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		kw = strings.ToUpper(kw)
		if rest, ok := strings.CutPrefix(kw, "AUTH="); ok { // pre-RFC 4954 form
			kw, params = "AUTH", rest+" "+params
		}
		if kw == "AUTH" {
			s.authSeen = true
			s.caps[kw] += " " + params
			continue
		}
		s.caps[kw] = params
	}
}

func (s *session) startTLS(ctx context.Context, stage string) error {
	err := s.t.StartTLS(ctx, s.tlsCfg, s.cfg.to.Envelope)
	s.rr.reset()
	if err != nil {
		s.end = endReset
		return &transportError{stage: stage, op: "handshake", err: connErr(err)}
	}
	s.res.TLS = true
	if s.transcript != nil {
		s.note("-- ", "TLS established ("+stage+", server name "+s.tlsCfg.ServerName+")")
	}
	return nil
}

// auth authenticates unless the type is AuthNone.
func (s *session) auth(ctx context.Context) error {
	if s.cfg.Auth == AuthNone {
		return nil
	}
	var offered []AuthType
	if s.authSeen {
		offered = offeredAuth(s.caps, true)
	}
	typ, err := chooseAuth(s.cfg.Auth, offered, offeredNames(s.caps, s.authSeen), s.cfg.netx, s.t.Secure(), s.cfg.AllowPlaintextAuth)
	if err != nil {
		return err
	}
	stage := "AUTH " + typ.String()
	m := mechanism{typ: typ, user: s.cfg.Username, secret: s.cfg.Password, netx: s.cfg.netx}
	rep, err := s.cmd(ctx, stage, stage, false)
	for {
		if err != nil {
			return err
		}
		switch {
		case rep.code == 235:
			s.res.Auth = typ
			return nil
		case rep.code == 334 && m.step < 4:
			chal := ""
			if len(rep.lines) > 0 {
				chal = rep.lines[0]
			}
			resp, rerr := m.respond(chal)
			if rerr != nil {
				// Cancel the exchange (RFC 4954: "*"); the server
				// answers 501 and the dialogue stays in sync.
				if _, err := s.cmd(ctx, stage, "*", false); err != nil {
					return err
				}
				st := ErrInvalidServerChallenge
				if s.cfg.netx {
					st = ErrAuthReply
				}
				return errorf(st, "smtpc: %s: %w %s", stage, rerr, quoteLine([]byte(chal)))
			}
			rep, err = s.cmd(ctx, stage, base64.StdEncoding.EncodeToString(resp), true)
		default:
			return s.reject(ErrAuthReply, stage, rep)
		}
	}
}

// mailParams checks the mail against the server's extensions and returns
// the MAIL FROM parameters, and whether the streamed body must be checked
// for 8-bit octets.
func (s *session) mailParams(m *mail) (params string, check8bit bool, err error) {
	if s.cfg.netx {
		return " ", false, nil // NetX: "MAIL FROM:<a> \r\n", no parameters
	}
	var b strings.Builder
	if v, ok := s.caps["SIZE"]; ok && m.size >= 0 {
		est := int64(len(m.header)) + m.size + 3
		if f := strings.Fields(v); len(f) > 0 {
			if limit, perr := strconv.ParseInt(f[0], 10, 64); perr == nil && limit > 0 && est > limit {
				return "", false, errorf(ErrOversizeMailData, "smtpc: message of about %d octets exceeds the server's SIZE limit of %d", est, limit)
			}
		}
		fmt.Fprintf(&b, " SIZE=%d", est)
	}
	_, has8 := s.caps["8BITMIME"]
	if m.utf8Addr {
		if _, ok := s.caps["SMTPUTF8"]; !ok {
			return "", false, withStatus(ErrInvalidParam, ErrNeedsSMTPUTF8)
		}
	}
	if !has8 && m.reader != nil && !m.eightBit {
		if err := s.prescan(m); err != nil {
			return "", false, err
		}
	}
	if m.eightBit && !has8 {
		return "", false, withStatus(ErrInvalidParam, ErrNeeds8BitMIME)
	}
	if has8 && (m.eightBit || m.reader != nil || m.utf8Addr) {
		b.WriteString(" BODY=8BITMIME")
	}
	if m.utf8Addr {
		b.WriteString(" SMTPUTF8")
	}
	return b.String(), m.reader != nil && !has8, nil
}

// message sends the header, the encoded body and the final ".". From the
// first byte on, a failure leaves a half-sent message, so the session is
// reset instead of ended with QUIT: without the final "." the server
// discards what it got.
func (s *session) message(ctx context.Context, m *mail, check8bit bool) error {
	s.end = endReset
	werr := error(nil)
	e := encoder{check8bit: check8bit, write: func(p []byte) error {
		if err := s.t.Write(ctx, p); err != nil {
			werr = &transportError{stage: "DATA", op: "send message", err: connErr(err)}
			return werr
		}
		return nil
	}}
	if err := e.write(m.header); err != nil {
		return err
	}
	var err error
	if m.reader != nil {
		err = e.encodeReader(m.reader, s.look)
	} else {
		_, err = e.encode(m.body, true)
	}
	if err == nil {
		err = e.write([]byte(".\r\n"))
	}
	if err == nil {
		if ferr := s.t.Flush(ctx); ferr != nil {
			err = &transportError{stage: "DATA", op: "send message", err: connErr(ferr)}
		}
	}
	s.res.Octets = int64(len(m.header)) + e.out
	if s.transcript != nil {
		s.note("C: ", "<message: "+strconv.FormatInt(s.res.Octets, 10)+" octets>")
		if err == nil {
			s.note("C: ", ".")
		}
	}
	return err
}

// errChunkRefused ends the chunk loop when the server answers a chunk with
// anything but 250; messageBDAT returns that reply instead.
var errChunkRefused = errors.New("smtpc: BDAT chunk refused")

// bdatChunk is the most body octets (before normalisation) one BDAT chunk
// takes from a body given as a slice.
const bdatChunk = 1 << 20

// messageBDAT sends the header and the body as BDAT chunks (RFC 3030), each
// announced with its exact octet count and the last with LAST, and returns
// the reply to the last chunk sent. Every chunk waits for its reply; one that
// is not 250 ends the transfer and is returned. The chunk framing keeps the
// dialogue in step, so unlike a half-sent DATA a refused chunk or a body
// error (a line too long, 8-bit data without 8BITMIME) still ends with QUIT;
// only a transport failure while a chunk is on the wire resets.
func (s *session) messageBDAT(ctx context.Context, m *mail, check8bit bool) (reply, error) {
	e := encoder{check8bit: check8bit, bdat: true, write: func(p []byte) error {
		if err := s.t.Write(ctx, p); err != nil {
			return &transportError{stage: "BDAT", op: "send message", err: connErr(err)}
		}
		return nil
	}}
	head := m.header // sent at the start of the first chunk
	var rep reply
	// chunk sends p's complete lines (all of p when final) as one BDAT and
	// returns how many bytes of p it used.
	chunk := func(p []byte, final bool) (int, error) {
		// Count first: the encoder is deterministic, so a copy of its
		// state with a sink that drops the bytes gives the exact size.
		count := e
		count.write = func([]byte) error { return nil }
		count.out = 0
		used, err := count.encode(p, final)
		if err != nil {
			s.end = endQuit
			return used, err
		}
		n := int64(len(head)) + count.out
		if n == 0 && !final {
			return used, nil
		}
		line := "BDAT " + strconv.FormatInt(n, 10)
		if final {
			line += " LAST"
		}
		s.note("C: ", line)
		s.end = endReset // from here to the reply, a failure leaves a partial chunk
		if err := s.writeLine(ctx, "BDAT", line); err != nil {
			return used, err
		}
		if err := e.write(head); err != nil {
			return used, err
		}
		e.out += int64(len(head))
		head = nil
		if _, err := e.encode(p, final); err != nil {
			return used, err
		}
		if err := s.t.Flush(ctx); err != nil {
			return used, &transportError{stage: "BDAT", op: "send message", err: connErr(err)}
		}
		s.note("C: ", "<chunk: "+strconv.FormatInt(n, 10)+" octets>")
		if rep, err = s.read(ctx, "BDAT", s.cfg.to.Message); err != nil {
			return used, err
		}
		s.end = endQuit
		if rep.code != 250 {
			return used, errChunkRefused
		}
		return used, nil
	}
	var err error
	if m.reader != nil {
		err = eachWindow(m.reader, s.look, chunk)
	} else {
		for off := 0; err == nil; {
			end := min(off+bdatChunk, len(m.body))
			var used int
			if used, err = chunk(m.body[off:end], end == len(m.body)); end == len(m.body) {
				break
			}
			off += used
		}
	}
	if err == errChunkRefused {
		err = nil // rep holds the refusal
	}
	s.res.Octets = e.out
	return rep, err
}

// finish closes the connection as the session's end mode says and releases
// everything the transport holds.
func (s *session) finish(ctx context.Context) {
	mode := s.end
	if ctx.Err() != nil && mode != endDone {
		mode = endReset
	}
	switch mode {
	case endQuit, endQuitReset:
		if mode == endQuitReset {
			s.rr.reset()
		}
		ok := false
		if !s.quitSent {
			s.quitSent = true
			if rep, err := s.cmd(ctx, "QUIT", "QUIT", false); err == nil && rep.code == 221 {
				ok = true
			}
		}
		_ = s.t.Close(ctx, ok && mode == endQuit)
	case endClose, endDone:
		_ = s.t.Close(ctx, true)
	default:
		_ = s.t.Close(ctx, false)
	}
}

// prescan reads a seekable body (a file, a bytes.Reader) once before MAIL
// FROM when the server does not offer 8BITMIME, and puts it back where it
// was: an 8-bit octet or a line over 998 octets then fails the mail before
// MAIL FROM (the dialogue ends with QUIT), not after DATA with a reset. A
// body that cannot seek is checked while it streams, as before. A read
// error here is left for the streaming pass to report.
func (s *session) prescan(m *mail) error {
	rs, ok := m.reader.(io.ReadSeeker)
	if !ok {
		return nil
	}
	pos, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not really seekable (a pipe behind *os.File)
	}
	e := encoder{check8bit: true, write: func([]byte) error { return nil }}
	err = eachWindow(rs, s.look, e.encode)
	if _, serr := rs.Seek(pos, io.SeekStart); serr != nil {
		return errorf(ErrInvalidParam, "smtpc: body: seek back after the 8-bit check: %w", serr)
	}
	var be *bodyError
	if err != nil && !errors.As(err, &be) {
		if e.saw8bit {
			m.eightBit = true
			return nil // reported by the caller as ErrNeeds8BitMIME
		}
		return err // ErrLineTooLong, before any traffic of the message
	}
	return nil
}
