package smtpc

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// This file is ProfileNetX's session: a port of NetX Duo's SMTP client state
// machine (_nx_smtp_client_process and the _nx_smtp_cmd_* / _nx_smtp_rsp_*
// handlers of addons/smtp/nxd_smtp_client.c), so that the bytes on the wire,
// the packets taken from the pool and the status returned are the ones the
// MCU produces, defects included (see the package documentation's table).
// C line numbers refer to nxd_smtp_client.c at NetX Duo HEAD bd5d12e.

// netxBufferSize is NX_SMTP_BUFFER_SIZE: the static command buffer
// _nx_smtp_buffer, and the limit of _nx_utility_string_length_check on the
// addresses and the subject.
const netxBufferSize = 512

// netxWindow is NX_SMTP_CLIENT_TCP_WINDOW_SIZE, the socket's receive window.
const netxWindow = 1460

// netxChallengeMax is NX_SMTP_SERVER_CHALLENGE_MAX_STRING.
const netxChallengeMax = 200

// netxEOM is NX_SMTP_EOM, sent as its own packet after the body.
const netxEOM = "\r\n.\r\n"

// netxState mirrors NX_SMTP_CLIENT_STATE (nxd_smtp_client.h).
type netxState int

const (
	nxsIdle netxState = iota
	nxsGreeting
	nxsEHLO
	nxsHELO
	nxsMail
	nxsRcpt
	nxsData
	nxsMessage
	nxsRset
	nxsQuit
	nxsNoop
	nxsAuth
	nxsAuthChallenge
	nxsAwaitingReply     // NX_SMTP_CLIENT_STATE_AWAITING_REPLY
	nxsCompletedNormally // NX_SMTP_CLIENT_STATE_COMPLETED_NORMALLY
)

// The prompts of nx_smtp_client_authentication_reply.
const (
	nxsUnknownPrompt  = 1 // NX_SMTP_CLIENT_REPLY_TO_UNKNOWN_PROMPT
	nxsUsernamePrompt = 2 // NX_SMTP_CLIENT_REPLY_TO_USERNAME_PROMPT
	nxsPasswordPrompt = 3 // NX_SMTP_CLIENT_REPLY_TO_PASSWORD_PROMPT
)

var netxStageNames = map[netxState]string{
	nxsGreeting: "greeting", nxsEHLO: "EHLO", nxsHELO: "HELO", nxsMail: "MAIL FROM", nxsRcpt: "RCPT TO",
	nxsData: "DATA", nxsMessage: "end of data", nxsQuit: "QUIT", nxsAuth: "AUTH", nxsAuthChallenge: "AUTH",
}

// netxLink is what NetX's state machine uses of TCP: one
// nx_tcp_socket_send per packet it builds, one nx_tcp_socket_receive per
// reply.
type netxLink interface {
	// send allocates one packet (NX_IPv4_TCP_PACKET or NX_IPv6_TCP_PACKET)
	// from the client pool, appends each part (nx_packet_data_append chains
	// further packets when one is full) and hands it to nx_tcp_socket_send.
	// It returns which of the three steps failed and the raw status.
	send(ctx context.Context, parts [][]byte, packetWait, sendWait nx.Wait) (netxSendStep, error)
	// receive waits for the next received packet and returns its bytes
	// appended to buf, and whether the packet was a chain.
	receive(ctx context.Context, wait nx.Wait, buf []byte) ([]byte, bool, error)
}

// netxSendStep names the step of _nx_smtp_utility_send_to_server that failed.
type netxSendStep int

const (
	netxSendOK netxSendStep = iota
	netxSendAllocate
	netxSendAppend
	netxSendSocket
)

// netxSocketLink is the board path: packets of the client pool on the
// session's TCPSocket.
type netxSocketLink struct {
	sock    *netstack.TCPSocket
	pool    *packetpool.Pool
	pktType int
}

func (l *netxSocketLink) send(ctx context.Context, parts [][]byte, packetWait, sendWait nx.Wait) (netxSendStep, error) {
	pkt, err := l.pool.Allocate(ctx, l.pktType, packetWait)
	if err != nil {
		return netxSendAllocate, err
	}
	for _, p := range parts {
		if err := pkt.Append(ctx, p, l.pool, packetWait); err != nil {
			_ = pkt.Release()
			return netxSendAppend, err
		}
	}
	if err := l.sock.Send(ctx, pkt, sendWait); err != nil {
		_ = pkt.Release() // a failed send leaves the (trimmed) chain with the caller
		return netxSendSocket, err
	}
	return netxSendOK, nil
}

func (l *netxSocketLink) receive(ctx context.Context, wait nx.Wait, buf []byte) ([]byte, bool, error) {
	pkt, err := l.sock.Receive(ctx, wait)
	if err != nil {
		return buf, false, err
	}
	chained := pkt.Next() != nil
	for b := range pkt.Buffers() {
		buf = append(buf, b...)
	}
	_ = pkt.Release()
	return buf, chained, nil
}

// netxStreamLink runs the state machine over any other transport (a pipe in
// unit tests): each send is one write and flush, each receive one read.
type netxStreamLink struct{ t *mailconn.Conn }

func (l netxStreamLink) send(ctx context.Context, parts [][]byte, _, _ nx.Wait) (netxSendStep, error) {
	for _, p := range parts {
		if err := l.t.Write(ctx, p); err != nil {
			return netxSendSocket, err
		}
	}
	if err := l.t.Flush(ctx); err != nil {
		return netxSendSocket, err
	}
	return netxSendOK, nil
}

func (l netxStreamLink) receive(ctx context.Context, wait nx.Wait, buf []byte) ([]byte, bool, error) {
	b, err := l.t.Recv(ctx, wait)
	return append(buf, b...), false, err
}

// netxParseCode ports _nx_smtp_parse_response for the first argument (C
// 4253–4319) and its "last 250" test (4389–4421): digits are collected until
// a ' ' or '-' follows at least one digit, any other byte restarts the
// collection, and a fourth digit is NX_SMTP_INTERNAL_ERROR (ok false). So
// "2200" and "2222222..." are errors, "220\r\n" gives code 0 (the CR restarts
// the collection), "220" ending the packet gives 220 (strtoul reads the
// collected digits) and "abc 250 ok" gives 250. mute is updated as NetX
// updates nx_smtp_client_mute: a "250-" first line without a "250 " later in
// the packet sets it, a "250-" with one or a "250 " first line clears it.
func netxParseCode(p []byte, mute *bool) (code int, ok bool) {
	var arg [3]byte
	n, i := 0, 0
	for ; i < len(p); i++ {
		c := p[i]
		if n > 0 && (c == ' ' || c == '-') {
			break
		}
		if c >= '0' && c <= '9' {
			if n >= len(arg) {
				return 0, false
			}
			arg[n] = c
			n++
			continue
		}
		n = 0
	}
	for j := 0; j < n; j++ {
		code = code*10 + int(arg[j]-'0')
	}
	// work_ptr = buffer - 3: the code and the separator it stopped at. (At
	// the end of the packet NetX reads past the data; nothing matches here.)
	if i >= 3 && i < len(p) && bytes.Equal(p[i-3:i], []byte("250")) {
		switch p[i] {
		case '-':
			*mute = !bytes.Contains(p[i:], []byte("250 ")) // _nx_smtp_parse_250_response
		case ' ':
			*mute = false
		}
	}
	return code, true
}

// netxChallenge ports _nx_smtp_parse_response for the second argument
// (4320–4387) as _nx_smtp_utility_authentication_challenge uses it: the bytes
// after the first separator up to the next one, at most 200.
func netxChallenge(line []byte) []byte {
	var arg []byte
	j := 0
	for i := 0; j < 2 && i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\r' && i+1 < len(line) && line[i+1] == '\n':
			return arg // CRLF is no word break: NX_SMTP_INVALID_SERVER_REPLY, argument kept
		case c == ' ' || (c == '-' && j == 0):
			j++
		case j == 1:
			if len(arg) >= netxChallengeMax {
				return arg
			}
			arg = append(arg, c)
		}
	}
	return arg
}

// netxPrompt classifies a decoded LOGIN prompt as
// _nx_smtp_utility_authentication_challenge does (3925–3962): exactly
// "Username:" or "Password:", letters in any case.
func netxPrompt(decoded []byte) int {
	switch {
	case len(decoded) == 9 && decoded[8] == ':' && bytes.EqualFold(decoded[:8], []byte("username")):
		return nxsUsernamePrompt
	case len(decoded) == 9 && decoded[8] == ':' && bytes.EqualFold(decoded[:8], []byte("password")):
		return nxsPasswordPrompt
	}
	return nxsUnknownPrompt
}

// netxSession is one run of _nx_smtp_client_process.
type netxSession struct {
	s        *session
	m        *mail
	rcpt     string // the one recipient
	link     netxLink
	payload  int // pool payload size
	v6       bool
	auth     AuthType // nx_smtp_client_authentication_type (EHLO may change it)
	authDone bool     // NX_SMTP_AUTHENTICATION_SUCCEEDED
	prompt   int      // nx_smtp_client_authentication_reply
	cmdState netxState
	rspState netxState
	mute     bool
	code     int    // nx_smtp_client_reply_code_status
	mailErr  error  // nx_smtp_client_mail_status (nil = NX_SUCCESS)
	pkt      []byte // the reply packet being handled
	accepted bool
	sends    int // packets handed to the socket during the message
}

// runNetX runs ProfileNetX's session: NetX's state machine from the
// greeting to the disconnect. It returns nil when NetX returns NX_SUCCESS,
// else an error whose NetXStatus is the UINT nx_smtp_mail_send returns.
func (s *session) runNetX(ctx context.Context, m *mail) error {
	ns := &netxSession{s: s, m: m, rcpt: m.recipients()[0], auth: s.cfg.Auth, payload: 1536}
	if s.cfg.Pool != nil {
		ns.payload = s.cfg.Pool.PayloadSize()
	}
	ns.v6 = s.cfg.ServerAddr.Is6() && !s.cfg.ServerAddr.Is4In6()
	if sock, ok := s.t.Socket().(*netstack.TCPSocket); ok {
		ns.link = &netxSocketLink{sock: sock, pool: s.cfg.Pool, pktType: sock.PacketType()}
	} else {
		ns.link = netxStreamLink{t: s.t}
	}
	err := ns.process(ctx)
	if ns.auth != s.cfg.Auth {
		// NetX keeps the type EHLO switched it to for the next mail.
		s.cfg.Auth = ns.auth
	}
	s.res.Accepted = ns.accepted
	if ns.authDone {
		s.res.Auth = ns.auth
	}
	return err
}

// process ports _nx_smtp_client_process (C 754–917) from the point where the
// socket is connected (Client.run did the bind and connect).
func (ns *netxSession) process(ctx context.Context) error {
	ns.cmdState, ns.rspState = nxsGreeting, nxsGreeting
	var status error
	for {
		closeConn := false
		if ns.cmdState == nxsAwaitingReply && !ns.mute {
			ns.cmdState = ns.rspState
		}
		if !ns.mute {
			if ctx.Err() != nil {
				status = &transportError{stage: ns.stage(ns.cmdState), op: "send command", err: nx.Aborted(ctx)}
			} else {
				status = ns.cmd(ctx, ns.cmdState)
			}
			if status != nil {
				closeConn = true
			}
		}
		ns.code = 0
		if !closeConn {
			status = ns.rsp(ctx, ns.rspState)
			if status != nil || ns.rspState == nxsCompletedNormally {
				closeConn = true
			}
		}
		if closeConn {
			// NX_NO_WAIT after an error (a reset), else the graceful
			// NX_SMTP_CLIENT_DISCONNECT_TIMEOUT; Client.run unbinds.
			if status != nil {
				ns.s.end = endReset
				return mailconn.WithCause(ctx, status) // errors.Is(err, ctx.Err()) when cancelled
			}
			ns.s.end = endDone
			return ns.mailErr
		}
		if ns.cmdState == nxsIdle && ns.rspState == nxsIdle {
			// After a failed header send NetX sets both states to IDLE
			// and returns NX_SUCCESS, so _nx_smtp_client_process runs
			// _nx_smtp_cmd_idle/_nx_smtp_rsp_idle for ever: the MCU's
			// SMTP thread hangs here. Stop instead, with the status NetX
			// recorded.
			ns.s.end = endReset
			err := ns.mailErr
			if err == nil {
				err = ErrInternal
			}
			return fmt.Errorf("smtpc: NetX Duo's state machine would spin in IDLE here (the MCU's SMTP thread hangs): %w", err)
		}
	}
}

func (ns *netxSession) stage(st netxState) string {
	if n, ok := netxStageNames[st]; ok {
		return n
	}
	return "session"
}

func (ns *netxSession) cmd(ctx context.Context, st netxState) error {
	switch st {
	case nxsIdle:
		ns.cmdState = nxsIdle
		return nil
	case nxsGreeting:
		ns.cmdState = nxsAwaitingReply
		return nil
	case nxsEHLO, nxsHELO:
		return ns.cmdHello(ctx, st)
	case nxsAuth:
		return ns.cmdAuth(ctx)
	case nxsAuthChallenge:
		return ns.cmdAuthChallenge(ctx)
	case nxsMail:
		return ns.cmdAddress(ctx, nxsMail, "MAIL FROM", ns.s.cfg.From)
	case nxsRcpt:
		return ns.cmdAddress(ctx, nxsRcpt, "RCPT TO", ns.rcpt)
	case nxsData:
		return ns.command(ctx, nxsData, "DATA\r\n", false)
	case nxsMessage:
		return ns.cmdMessage(ctx)
	case nxsQuit:
		return ns.command(ctx, nxsQuit, "QUIT\r\n", false)
	}
	// RSET and NOOP are never entered by nx_smtp_mail_send.
	ns.cmdState = nxsAwaitingReply
	return nil
}

// sendPacket ports _nx_smtp_utility_send_to_server (C 3593–3665): one packet,
// the raw status of nx_packet_allocate, nx_packet_data_append or
// nx_tcp_socket_send on failure (NetX records NX_SMTP_PACKET_ALLOCATE_ERROR
// or NX_SMTP_INTERNAL_ERROR in the mail status but returns the raw status).
func (ns *netxSession) sendPacket(ctx context.Context, st netxState, op string, parts ...[]byte) error {
	to := ns.s.cfg.to
	step, err := ns.link.send(ctx, parts, to.Packet, to.Send)
	if err == nil {
		ns.traceSend(parts)
		return nil
	}
	ns.cmdState, ns.rspState = nxsIdle, nxsIdle
	switch step {
	case netxSendAllocate:
		ns.mailErr = ErrPacketAllocate
	case netxSendAppend:
		ns.mailErr = ErrInternal
	}
	return &transportError{stage: ns.stage(st), op: op, err: err}
}

// command sends a complete command line and waits for its reply.
func (ns *netxSession) command(ctx context.Context, st netxState, line string, redact bool) error {
	if redact {
		ns.s.note("C: ", "<credentials redacted>")
	} else {
		ns.s.note("C: ", line[:len(line)-2])
	}
	if err := ns.sendPacket(ctx, st, "send command", []byte(line)); err != nil {
		return err
	}
	ns.cmdState = nxsAwaitingReply
	return nil
}

// cmdHello ports _nx_smtp_cmd_ehlo/_nx_smtp_cmd_helo (C 1390–1437, 1202–1250).
func (ns *netxSession) cmdHello(ctx context.Context, st netxState) error {
	d := ns.s.cfg.domain
	if len(d) > netxMaxUsername {
		return fmt.Errorf("smtpc: %s: client domain longer than NX_SMTP_CLIENT_MAX_USERNAME: %w", ns.stage(st), nx.ErrSize)
	}
	verb := "EHLO "
	if st == nxsHELO {
		verb = "HELO "
	}
	return ns.command(ctx, st, verb+d+"\r\n", false)
}

// cmdAddress ports _nx_smtp_cmd_mail and _nx_smtp_cmd_rcpt (C 2209–2271,
// 2403–2458): "MAIL FROM:<a> \r\n" with NetX's trailing space, built in the
// 512-byte _nx_smtp_buffer. An address over 512 octets is NX_SIZE_ERROR; one
// that leaves the command no room (sizeof(command) + length + sizeof(CRLF) +
// 2 > 512) is NX_SMTP_INTERNAL_ERROR. Either ends the session with a reset.
func (ns *netxSession) cmdAddress(ctx context.Context, st netxState, verb, addr string) error {
	if len(addr) > netxBufferSize {
		return fmt.Errorf("smtpc: %s: address of %d octets exceeds NX_SMTP_BUFFER_SIZE (512): %w", verb, len(addr), nx.ErrSize)
	}
	if (len(verb)+1)+len(addr)+3+2 > netxBufferSize {
		return errorf(ErrInternal, "smtpc: %s: command of %d octets does not fit NetX's 512-byte command buffer", verb, len(verb)+len(addr)+6)
	}
	return ns.command(ctx, st, verb+":<"+addr+"> \r\n", false)
}

// cmdAuth ports _nx_smtp_cmd_auth (C 1668–1732).
func (ns *netxSession) cmdAuth(ctx context.Context) error {
	if ns.authDone {
		ns.cmdState, ns.rspState = nxsMail, nxsMail
		_ = ns.cmdAddress(ctx, nxsMail, "MAIL FROM", ns.s.cfg.From)
		return nil
	}
	line := "AUTH PLAIN\r\n"
	if ns.auth == AuthLogin {
		line = "AUTH LOGIN\r\n"
	}
	return ns.command(ctx, nxsAuth, line, false)
}

// cmdAuthChallenge ports _nx_smtp_cmd_auth_challenge (C 2004–2108). PLAIN
// sends authorization-id NUL authentication-id NUL password, both ids the
// user name, as NetX does.
func (ns *netxSession) cmdAuthChallenge(ctx context.Context) error {
	user, pass := ns.s.cfg.Username, ns.s.cfg.Password
	if len(pass) > netxMaxPassword {
		return fmt.Errorf("smtpc: AUTH: password longer than NX_SMTP_CLIENT_MAX_PASSWORD: %w", nx.ErrSize)
	}
	var resp string
	switch ns.prompt {
	case nxsUsernamePrompt:
		if len(user) > netxMaxUsername {
			return fmt.Errorf("smtpc: AUTH: user name longer than NX_SMTP_CLIENT_MAX_USERNAME: %w", nx.ErrSize)
		}
		if ns.auth == AuthPlain {
			resp = base64.StdEncoding.EncodeToString([]byte(user + "\x00" + user + "\x00" + pass))
		} else {
			resp = base64.StdEncoding.EncodeToString([]byte(user))
		}
	case nxsPasswordPrompt:
		resp = base64.StdEncoding.EncodeToString([]byte(pass))
	default:
		resp = "*" // unreachable in NetX: an unknown prompt goes to QUIT
	}
	return ns.command(ctx, nxsAuthChallenge, resp+"\r\n", resp != "*")
}

// cmdMessage ports _nx_smtp_cmd_message (C 2744–2844): the header in one
// packet, the body verbatim in chunks of the pool's payload minus the IP
// and TCP headers (40 octets for IPv4, 60 for IPv6), each chunk one
// nx_tcp_socket_send, then "\r\n.\r\n" as its own packet. Each chunk's
// packet reserves NX_IPv4_TCP_PACKET (56) octets of header room, so a full
// chunk does not fit one packet and nx_packet_data_append chains a second.
func (ns *netxSession) cmdMessage(ctx context.Context) error {
	ns.cmdState = nxsAwaitingReply
	chunk := ns.payload - 40
	if ns.v6 {
		chunk = ns.payload - 60
	}
	if err := ns.sendHeader(ctx); err != nil {
		return err
	}
	body := ns.m.body
	var buf []byte
	var octets int64
	for {
		var part []byte
		if ns.m.reader != nil {
			if buf == nil {
				buf = make([]byte, max(chunk, 1))
			}
			n, rerr := io.ReadFull(ns.m.reader, buf)
			if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
				ns.s.end = endReset
				return &bodyError{err: rerr}
			}
			part = buf[:n]
		} else {
			part = body[:min(chunk, len(body))]
			body = body[len(part):]
		}
		if len(part) == 0 {
			break
		}
		if ctx.Err() != nil {
			return &transportError{stage: "DATA", op: "send message", err: nx.Aborted(ctx)}
		}
		if err := ns.sendPacket(ctx, nxsMessage, "send message", part); err != nil {
			return err
		}
		ns.sends++
		octets += int64(len(part))
		if len(part) < chunk {
			break
		}
	}
	ns.s.res.Octets = int64(len(ns.m.header)) + octets
	ns.s.note("C: ", "<message: "+strconv.FormatInt(ns.s.res.Octets, 10)+" octets, sent verbatim in "+strconv.Itoa(ns.sends)+" body packets>")
	ns.s.note("C: ", "<CRLF>.<CRLF>")
	if ctx.Err() != nil {
		return &transportError{stage: "DATA", op: "send message", err: nx.Aborted(ctx)}
	}
	return ns.sendPacket(ctx, nxsMessage, "send end of message", []byte(netxEOM))
}

// sendHeader ports _nx_smtp_utility_send_header_to_server (C 3719–3827): the
// recipient, sender and subject are limited to 512 octets (NX_SIZE_ERROR);
// the header is appended piece by piece to one packet. A failure to allocate,
// append or send it is recorded as NX_SMTP_INTERNAL_ERROR, the states set to
// IDLE, and NX_SUCCESS returned: NetX then sends the body anyway.
func (ns *netxSession) sendHeader(ctx context.Context) error {
	for _, f := range []struct{ what, v string }{
		{"recipient", ns.rcpt}, {"from address", ns.s.cfg.From}, {"subject", ns.m.subject},
	} {
		if len(f.v) > netxBufferSize {
			return fmt.Errorf("smtpc: DATA: %s of %d octets exceeds NX_SMTP_BUFFER_SIZE (512): %w", f.what, len(f.v), nx.ErrSize)
		}
	}
	h := ns.m.header
	ns.s.note("C: ", "<header: "+strconv.Itoa(len(h))+" octets>")
	if _, err := ns.link.send(ctx, [][]byte{h}, ns.s.cfg.to.Packet, ns.s.cfg.to.Send); err == nil {
		ns.traceSend([][]byte{h})
	} else {
		ns.cmdState, ns.rspState = nxsIdle, nxsIdle
		ns.mailErr = errorf(ErrInternal, "smtpc: DATA: header not sent: %w", err)
	}
	return nil
}

// readReply ports _nx_smtp_utility_read_server_code (C 3454–3541): one
// packet is one reply. A receive error is returned raw (the session then
// resets); a chained packet or an unparsable code records
// NX_SMTP_SERVER_ERROR_REPLY, sets QUIT and returns success with code 0, so
// the step's handler overwrites the status with its own.
func (ns *netxSession) readReply(ctx context.Context, st netxState, wait nx.Wait) error {
	var chained bool
	var err error
	ns.pkt, chained, err = ns.link.receive(ctx, wait, ns.pkt[:0])
	if err != nil {
		ns.rspState = nxsQuit
		return &transportError{stage: ns.stage(st), op: "receive reply", err: err}
	}
	ns.noteReply()
	if chained {
		ns.rspState = nxsQuit
		ns.mailErr = withStatus(ErrServerErrorReply, &ProtocolError{Stage: ns.stage(st), Reason: "reply arrived in a packet chain (NetX refuses chained replies)"})
		return nil
	}
	code, ok := netxParseCode(ns.pkt, &ns.mute)
	if !ok {
		ns.rspState = nxsQuit
		ns.mailErr = withStatus(ErrServerErrorReply, &ProtocolError{Stage: ns.stage(st), Reason: "malformed reply: more than three digits in the code", Line: quoteLine(firstLine(ns.pkt))})
		return nil
	}
	ns.code = code
	return nil
}

func (ns *netxSession) traceSend(parts [][]byte) {
	if f := ns.s.cfg.netxSends; f != nil {
		f(bytes.Join(parts, nil))
	}
}

// noteReply writes the packet's lines to the transcript.
func (ns *netxSession) noteReply() {
	if ns.s.transcript == nil {
		return
	}
	for p := ns.pkt; len(p) > 0; {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.Trim(line, "\x00")) == 0 && len(line) > 0 {
			continue // NUL padding after the reply (smtp_server_packets.c sends some)
		}
		ns.s.transcript("S: ", line)
	}
}

func firstLine(p []byte) []byte {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		p = p[:i]
	}
	return bytes.TrimSuffix(p, []byte("\r"))
}

// fail records the step's status with the reply that caused it. When the
// reply could not be parsed (code 0), the cause is the malformed reply.
func (ns *netxSession) fail(st Status, stage string) {
	var pe *ProtocolError
	if ns.code == 0 && errors.As(ns.mailErr, &pe) {
		ns.mailErr = withStatus(st, pe)
		return
	}
	if ns.code == 0 {
		ns.mailErr = withStatus(st, &ProtocolError{Stage: stage, Reason: "malformed reply: no reply code (NetX reads code 0)", Line: quoteLine(firstLine(ns.pkt))})
		return
	}
	rep := reply{code: ns.code, lines: []string{string(textAfterCode(firstLine(ns.pkt)))}}
	enh, msg := rep.enhanced()
	ns.mailErr = withStatus(st, &ReplyError{Code: ns.code, Enhanced: enh, Msg: msg, Stage: stage})
}

func textAfterCode(l []byte) []byte {
	l = bytes.TrimLeft(l, " \t")
	if len(l) > 4 {
		return l[4:]
	}
	return nil
}

func (ns *netxSession) rsp(ctx context.Context, st netxState) error {
	to := ns.s.cfg.to
	switch st {
	case nxsIdle:
		ns.rspState = nxsIdle
		return nil
	case nxsGreeting: // _nx_smtp_rsp_greeting, C 1113–1157
		if err := ns.readReply(ctx, st, to.Greeting); err != nil {
			return err
		}
		if ns.code == 220 {
			ns.rspState = nxsEHLO
		} else {
			ns.rspState = nxsQuit
			ns.fail(ErrGreetReply, "greeting")
		}
		return nil
	case nxsEHLO, nxsHELO: // _nx_smtp_rsp_ehlo / _nx_smtp_rsp_helo, C 1487–1540, 1298–1345
		if err := ns.readReply(ctx, st, to.Envelope); err != nil {
			return err
		}
		ns.parseServices()
		if st == nxsEHLO && ns.mute {
			return nil // the rest of the EHLO reply comes in the next packet
		}
		if st == nxsHELO && ns.rspState == nxsQuit {
			return nil
		}
		if ns.code == 250 { // _nx_smtp_rsp_hello_command, C 1585–1617
			ns.rspState = nxsMail
		} else {
			ns.rspState = nxsQuit
			ns.fail(ErrHelloReply, ns.stage(st))
			return nil
		}
		if st == nxsEHLO && ns.auth != AuthNone {
			ns.rspState = nxsAuth
		}
		return nil
	case nxsAuth, nxsAuthChallenge:
		return ns.rspAuth(ctx, st)
	case nxsMail, nxsRcpt, nxsData: // C 2317–2357, 2502–2540, 2660–2698
		if err := ns.readReply(ctx, st, to.Envelope); err != nil {
			return err
		}
		want, next, status := 250, nxsRcpt, ErrMailReply
		stage := "MAIL FROM:<" + ns.s.cfg.From + ">"
		switch st {
		case nxsRcpt:
			next, status, stage = nxsData, ErrRcptReply, "RCPT TO:<"+ns.rcpt+">"
		case nxsData:
			want, next, status, stage = 354, nxsMessage, ErrDataReply, "DATA"
		}
		if ns.code == want {
			ns.rspState = next
			if st == nxsRcpt {
				ns.s.res.Recipients = 1
			}
		} else {
			ns.rspState = nxsQuit
			ns.fail(status, stage)
		}
		return nil
	case nxsMessage: // _nx_smtp_rsp_message, C 2894–2933
		if err := ns.readReply(ctx, st, to.Message); err != nil {
			return err
		}
		if ns.code == 250 {
			ns.mailErr = nil
			ns.accepted = true
			ns.s.res.Reply = string(textAfterCode(firstLine(ns.pkt)))
		} else {
			ns.fail(ErrMessageReply, "end of data")
		}
		ns.rspState = nxsQuit
		return nil
	case nxsQuit: // _nx_smtp_rsp_quit, C 3054–3081
		if err := ns.readReply(ctx, st, to.Envelope); err != nil {
			return err
		}
		ns.rspState = nxsCompletedNormally
		return nil
	}
	ns.rspState = nxsIdle
	return nil
}

// rspAuth ports _nx_smtp_rsp_auth (C 1794–1953), which also serves the
// challenge state.
func (ns *netxSession) rspAuth(ctx context.Context, st netxState) error {
	if err := ns.readReply(ctx, st, ns.s.cfg.to.Envelope); err != nil {
		return err
	}
	stage := "AUTH " + ns.auth.String()
	switch ns.code / 100 {
	case 2:
		switch ns.code {
		case 235:
			ns.rspState = nxsMail
			ns.authDone = true
		case 252, 221:
			ns.rspState = nxsQuit
			ns.fail(ErrAuthReply, stage)
		}
		// Any other 2xx is discarded and the state kept: NetX sends the
		// same command again.
		return nil
	case 3:
		if ns.code != 334 {
			ns.rspState = nxsQuit
			ns.fail(ErrAuthReply, stage)
			return nil
		}
	default:
		ns.rspState = nxsQuit
		ns.fail(ErrAuthReply, stage)
		return nil
	}
	if ns.authDone {
		return nil
	}
	end := bytes.Index(ns.pkt, []byte("\r\n"))
	if end < 0 {
		ns.rspState = nxsQuit
		ns.mailErr = withStatus(ErrServerErrorReply, &ProtocolError{Stage: stage, Reason: "challenge without CRLF", Line: quoteLine(ns.pkt)})
		return nil
	}
	// _nx_smtp_utility_authentication_challenge, C 3881–3966.
	if ns.auth == AuthPlain {
		ns.prompt = nxsUsernamePrompt
		ns.rspState = nxsAuthChallenge
		return nil
	}
	enc := netxChallenge(ns.pkt[:end])
	dec, derr := base64.StdEncoding.DecodeString(string(enc))
	if len(enc) == 0 || derr != nil || netxPrompt(dec) == nxsUnknownPrompt {
		// NX_SMTP_CLIENT_REPLY_TO_UNKNOWN_PROMPT: straight to QUIT, no "*".
		ns.rspState = nxsQuit
		ns.mailErr = errorf(ErrAuthReply, "smtpc: %s: unknown LOGIN prompt %s (NetX answers only Username: and Password:)", stage, quoteLine(enc))
		return nil
	}
	ns.prompt = netxPrompt(dec)
	ns.rspState = nxsAuthChallenge
	return nil
}

// parseServices ports _nx_smtp_utility_parse_server_services (C 4016–4191):
// the first "AUTH" anywhere in the packet, then "LOGIN" and "PLAIN" anywhere
// after it, decide the type: LOGIN wanted but not offered becomes PLAIN;
// PLAIN wanted and offered stays; otherwise LOGIN if offered, else PLAIN.
// The change persists for the client's next mails, as in NetX.
func (ns *netxSession) parseServices() {
	p := ns.pkt
	if len(p) <= 4 {
		return
	}
	at := -1
	for i := 0; i < len(p)-4; i++ {
		if bytes.EqualFold(p[i:i+4], []byte("AUTH")) {
			at = i + 4
			break
		}
	}
	if at < 0 || ns.auth == AuthNone {
		return
	}
	rest := p[at:]
	if len(rest) < 5 {
		return
	}
	n := len(rest) - 5
	find := func(word string) bool {
		for i := 0; i < n; i++ {
			if bytes.EqualFold(rest[i:i+5], []byte(word)) {
				return true
			}
		}
		return false
	}
	login, plain := find("LOGIN"), find("PLAIN")
	switch {
	case ns.auth == AuthLogin && login:
	case ns.auth == AuthLogin:
		ns.auth = AuthPlain
	case plain && ns.auth == AuthPlain:
	case login:
		ns.auth = AuthLogin
	default:
		ns.auth = AuthPlain
	}
}
