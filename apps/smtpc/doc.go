// Package smtpc is the board's SMTP client, mirroring the NetX Duo SMTP
// client add-on (addons/smtp/nxd_smtp_client.c) on the packet-chain API: it
// runs on a netstack.TCPSocket, builds every command and the whole message
// in packets of the client's packetpool.Pool (chaining more packets as the
// message grows) and reads replies straight from received packets. Code
// written against it ports to NetX Duo line for line; the NetX defects are
// fixed, and ProfileNetX keeps NetX's limits for engineers who want to see
// the failures the MCU will see.
//
// Start with Create and Client.MailSend; Client.Send takes a Message with
// several recipients and a streamed body.
//
// # NetX mapping
//
//	NetX Duo                                   smtpc
//	nxd_smtp_client_create(client, ip, pool,   Create(Options{IP, Pool, Username, Password,
//	  username, password, from, domain,          From, ClientDomain, Auth, ServerAddr, Port})
//	  auth_type, server_address, port)
//	nx_smtp_client_create (IPv4 only)          Create (ServerAddr is IPv4 or IPv6)
//	nx_smtp_client_delete                      (*Client).Delete
//	nx_smtp_mail_send(client, recipient,       (*Client).MailSend(ctx, recipient, priority,
//	  priority, subject, body, length)           subject, body) (Result, error)
//	(none: one recipient, body in RAM)         (*Client).Send(ctx, *Message), MailSendReader
//	NX_SMTP_CLIENT_AUTH_LOGIN/PLAIN/NONE       AuthLogin, AuthPlain, AuthNone (same values)
//	NX_SMTP_CLIENT_AUTH_CRAM_MD5 (unusable)    AuthCRAMMD5 (works); AuthXOAUTH2 (new)
//	NX_SMTP_MAIL_PRIORITY_LOW/NORMAL/HIGH      PriorityLow, PriorityNormal, PriorityHigh
//	NX_SMTP_CLIENT_PACKET_TIMEOUT ...          Timeouts{Packet, Connection, Disconnect,
//	  _SEND_TIMEOUT (config macros)              Greeting, Envelope, Message, Send, Bind}
//	NX_SMTP_CLIENT_TCP_WINDOW_SIZE             Options.Window
//	UINT status                                error; NetXStatus(err) gives the UINT
//
// # Statuses
//
// The SMTP statuses are their own type, Status (0xA0–0xB2), distinct from
// nx.Status and from the POP3 client's (NetX numbers them in overlapping
// ranges). A failing call returns an error that wraps the status of the
// stage (errors.Is) together with its cause (errors.As): a *ReplyError for a
// server's negative reply (Temporary for 4xx, Permanent for 5xx), a
// *ProtocolError for a reply that cannot be parsed, or the nx.Status of a
// transport failure, as NetX returns the raw TCP status for those.
//
//	status / cause                          when
//	ErrGreetReply 0xA7 + *ReplyError        the greeting is not 220
//	ErrHelloReply 0xA8 + *ReplyError        EHLO (and the HELO fallback) refused; STARTTLS
//	                                        refused under TLSRequired
//	ErrHelloReply + ErrTLSUnavailable       TLSRequired but STARTTLS not offered
//	ErrAuthReply 0xAD + *ReplyError         AUTH or a credential refused (535, 504, ...)
//	ErrAuthentication 0xA0 + ErrPlaintextAuth  PLAIN/LOGIN/XOAUTH2 without TLS and without
//	                                        AllowPlaintextAuth (nothing sent)
//	ErrAuthentication + ErrAuthNotOffered   the chosen mechanism is not offered (the
//	                                        message names the offer), or AuthAuto
//	                                        found none; never replaced by another
//	ErrInvalidServerChallenge 0xB0          a 334 challenge the mechanism cannot answer
//	                                        (ErrAuthReply in ProfileNetX, as NetX)
//	ErrMailReply 0xA9 + *ReplyError         MAIL FROM refused
//	ErrRcptReply 0xAA + *ReplyError         a RCPT TO refused; Stage names the address
//	ErrDataReply 0xAC + *ReplyError         DATA not answered with 354
//	ErrMessageReply 0xAB + *ReplyError      the end of data not answered with 250
//	ErrServerErrorReply 0xAE + *ProtocolError  malformed reply (bad code, mixed codes,
//	                                        data after the STARTTLS reply); in ProfileNetX
//	                                        the step's status instead, see below
//	ErrOversizeServerReply 0xB1 + *ProtocolError  reply line over 4096 octets, or a
//	                                        reply of more than 128 lines / 64 KiB
//	ErrOversizeMailData 0xA1                the server's SIZE limit is smaller than the mail
//	ErrInvalidParam 0xA5                    CR/LF in an address or the subject, an address
//	                                        without '@', ProfileNetX with several
//	                                        recipients, ErrLineTooLong, ErrNeeds8BitMIME,
//	                                        ErrNeedsSMTPUTF8
//	ErrPacketAllocate 0xA6 + nx.ErrNoPacket the pool stayed empty for Timeouts.Packet
//	                                        (ProfileNetX: the raw nx.ErrNoPacket, as NetX)
//	ErrPacketAllocate 0xA6 at Create        the pool can never hold a 512-octet command
//	                                        (the message gives the packets needed)
//	ErrTransmit 0xAF + tls error            the TLS handshake or certificate check failed
//	ErrClientNotInitialized 0xB2            MailSend after Delete
//	nx.ErrNoPacket 0x01                     no reply within the stage's timeout
//	nx.ErrNotConnected 0x38                 the server closed or reset the connection
//	nx.ErrWaitAborted 0x1A                  ctx was done; errors.Is(err, ctx.Err()) holds too
//	                                        (context.DeadlineExceeded or Canceled)
//	nx.ErrPtr, nx.ErrSize, nx.ErrIPAddress  Create's argument checks, as in NetX
//
// A mail the server accepted (250 after the end of data) counts as sent:
// MailSend then returns a nil error even if the QUIT exchange fails, and
// Result.QuitErr (wrapping ErrQuit) says so. NetX returns the receive error
// in that case although the mail was delivered, and so does ProfileNetX
// (with Result.Accepted true).
//
// # Ownership
//
// Every packet the client allocates from Options.Pool is either handed to
// TCPSocket.Send (which owns it from then on and releases it when the peer
// has acknowledged it) or released by the client; a failed Send leaves the
// (trimmed) chain with the client, which releases it. Every packet returned
// by TCPSocket.Receive is copied out and released at once; leftover bytes of
// a reply stay in the client's reply buffer, never in a held packet. So when
// MailSend returns — success, a server error, a timeout, a reset, a
// cancelled context — the client holds no packet. Under TLS the session runs
// over netstack.NewConn(socket), which chains packets from the IP's pool the
// same way; that Conn owns and deletes the socket, and the next mail creates
// a new one.
//
// A Client is safe for concurrent use; calls are serialised (one session at
// a time). Each mail is one TCP connection (as in NetX); nothing is kept
// between mails but the socket.
//
// # Protocol (NetX defects fixed)
//
// Replies are assembled across segments and packets, and chained receive
// packets are accepted (NetX rejects chains and reads exactly one packet per
// reply). Every reply code is checked, QUIT's too. EHLO falls back to HELO on
// 500 or 502 (not in ProfileNetX). The body is dot-stuffed, bare LF and bare
// CR become CRLF, and a last unterminated line is terminated; NetX sends the
// body verbatim.
//
// Lines over 998 octets (RFC 5322) are an error, decided before the line is
// sent: a []byte body is scanned before any traffic; a streamed body is read
// through a 32 KiB lookahead and each line is emitted only once its end has
// been seen, so an over-long line fails with ErrLineTooLong before any of it
// reaches the wire, and the session is then reset without the final "." —
// the server discards the partial message. The same holds for an 8-bit
// octet in a streamed body when the server lacks 8BITMIME.
//
// # The rule: what NetX returns, and where NetX is defective
//
// A call that carries a NetX name (Create, MailSend, Delete) returns what
// NetX Duo returns — the same bytes on the wire, the same statuses, the same
// packets — so that what is measured here holds on the MCU. Where NetX is
// defective, the default profile fixes the defect and ProfileNetX reproduces
// it, so an engineer sees here the failure the MCU will show (a corrupted
// dot line, a lost status, a different pool peak). Go-named helpers (Send
// with a Message, MailSendReader) may clean data in the default profile; in
// ProfileNetX they too send NetX's bytes.
//
// ProfileNetX runs a port of NetX's own state machine (netx_send.go, with
// the C line of each step). Input that would inject commands (CR or LF in an
// address or the subject) is still refused before any traffic, in both
// profiles: that is a safety check, not a NetX behaviour.
//
// Every NetX Duo defect of nxd_smtp_client.c and what each profile does:
//
//	NetX defect (C line)                       default profile          ProfileNetX (as the MCU)
//	body lines starting with '.' not stuffed   stuffed ("..x")          sent as is: the server drops
//	  (2795-2837)                                                        the dot; a line "." ends
//	                                                                     the message early
//	bare LF / bare CR not repaired             made CRLF                sent as is
//	lines over 998 octets not checked          ErrLineTooLong before    sent as is
//	                                           any of it is sent
//	"\r\n.\r\n" always appended (2840)         "." after a terminated   an empty line is added when
//	                                           last line                the body ends with CRLF
//	packetization (2744-2844)                  chains of up to 16 KiB   header 1 packet; body chunks
//	                                           (¼ pool), fast           of payload-40 (IPv6 -60),
//	                                                                     each a 2-packet chain and one
//	                                                                     send; "\r\n.\r\n" 1 packet
//	one packet = one reply (3472)              replies reassembled      a split reply's rest is read
//	                                           across packets           as the next reply
//	chained reply refused (3486-3501), then    chains accepted          NX_SMTP_SERVER_ERROR_REPLY
//	  a stale packet re-released                                         overwritten by the step's
//	                                                                     status; the re-release is
//	                                                                     not reproduced (it would
//	                                                                     corrupt the pool count)
//	malformed code ("2200"): SERVER_ERROR_     ErrServerErrorReply      the step's status (greeting
//	  REPLY overwritten by the step (1146,     0xAE                     0xA7, EHLO 0xA8, MAIL 0xA9,
//	  1610, 1844, 2349, 2526, 2690, 2922)                               RCPT 0xAA, DATA 0xAC, end of
//	                                                                     data 0xAB, AUTH 0xAD)
//	code parsing (4282-4318): "220\r\n" is    parsed as 220; garbage   code 0 / 250, as NetX
//	  code 0, "abc 250 x" is 250               is a ProtocolError
//	pool empty: 0xA6 recorded, raw status      ErrPacketAllocate 0xA6   NX_NO_PACKET 0x01
//	  returned (3607-3621)                     (+ nx.ErrNoPacket)
//	QUIT fails after the mail was accepted:    nil, Result.QuitErr      the receive error (e.g.
//	  receive error returned (3061-3068)                                 NX_NOT_CONNECTED 0x38);
//	                                                                     Result.Accepted is true
//	malformed QUIT reply after acceptance      nil, Result.QuitErr      0xAE, mail delivered
//	QUIT reply code never checked (3054-3081)  not 221: Result.QuitErr  any reply completes
//	512-byte command buffer (2220-2238,        no such limit            address > 512: NX_SIZE_ERROR
//	  2414-2426, 3740-3753)                                              (0x09); MAIL address > 497,
//	                                                                     RCPT > 499: NX_SMTP_INTERNAL_
//	                                                                     ERROR 0xA3; subject > 512:
//	                                                                     NX_SIZE_ERROR after DATA
//	unknown LOGIN prompt: straight to QUIT     "*" cancels, then        QUIT, ErrAuthReply 0xAD
//	  (1933-1944, 3957-3961)                   ErrInvalidServerChallenge
//	EHLO refused: no HELO fallback (1610)      HELO on 500/502          ErrHelloReply 0xA8
//	RCPT answered 251 refused (2520)           accepted                 ErrRcptReply 0xAA
//	AUTH type changed by a substring search    mechanism chosen from    NetX's search; the change
//	  of the EHLO reply (4016-4191), kept      the parsed offer         persists for the next mail;
//	  for later mails; type 0 becomes PLAIN                              type 0 is PLAIN
//	  (333-340)
//	2xx other than 235 to AUTH: command        ErrAuthReply             AUTH is sent again
//	  repeated (1846-1849)
//	header send failure: states IDLE, NX_      the session is reset     the body is still sent as
//	  SUCCESS returned; the state machine                                NetX does, then the session
//	  then spins for ever (3808-3826, 1010)                              is reset with 0xA3 and an
//	                                                                     error saying the MCU hangs
//	malformed EHLO reply: the services parser  -                        not reproduced (parsed as a
//	  reads a NULL packet (1507, 3523)                                   normal reply)
//	receive window NX_SMTP_CLIENT_TCP_         the IP's default window  1460 (Options.Window 0)
//	  WINDOW_SIZE 1460 (355)
//
// Pool figures measured in ProfileNetX transfer to a NetX Duo build of the
// same pool payload; the default profile's do not (it packs the message
// into fewer, larger chains).
//
// # Beyond NetX
//
// To, Cc and Bcc recipients (Bcc never in the header); every RCPT must be
// accepted or the mail is not sent. AUTH PLAIN, LOGIN, CRAM-MD5 and XOAUTH2:
// AuthAuto (the zero value) takes the strongest the server offers, an
// explicit choice is used as is or fails with ErrAuthNotOffered naming the
// offer (never a silent downgrade; ProfileNetX keeps NetX's substitutions).
// STARTTLS (TLSOpportunistic, the zero value, and TLSRequired) and implicit
// TLS (TLSImplicit) with crypto/tls over the board's socket, verifying
// certificates by default. TLSMode is the one enum of both mail clients
// (pop3c.TLSMode is the same type) with one rule: without TLS, a mechanism
// that sends the password itself (PLAIN, LOGIN, XOAUTH2) needs
// Options.AllowPlaintextAuth, so a stripped STARTTLS offer cannot make the
// client reveal it; pop3c applies the same rule to USER/PASS and AUTH PLAIN.
// A body that can seek (a file, a bytes.Reader) is checked for 8-bit octets
// and long lines before MAIL FROM when the server lacks 8BITMIME. SIZE is declared and a
// mail larger than the server's limit refused up front when its size is
// known; BODY=8BITMIME and SMTPUTF8 are used when the body or an address
// needs them, and the mail fails (before MAIL) when the server does not
// offer them. With Options.Chunking and a server offering CHUNKING, the
// message goes in BDAT chunks (RFC 3030) instead of DATA: each chunk is
// counted, announced and answered, nothing is dot-stuffed, and a refused
// chunk or a bad body line still ends the session with QUIT. A server given
// by name is resolved through Options.Resolver.
// Date, Message-ID, X-Priority and Importance headers are added and a
// non-ASCII subject is RFC 2047 encoded (not in ProfileNetX, which writes
// NetX's exact header bytes). Date comes from Options.Now or the IP's clock
// and the Message-ID's random part from Options.Rand, so on a sim.Sim with
// a seeded Rand (sim.Rand("smtpc")) both are the same in every run.
//
// Credentials never reach the logger or Options.Transcript: AUTH
// continuation lines are written as "<credentials redacted>".
//
// # Connection layer and cancellation
//
// The packet path, the TLS upgrade over netstack.Conn, every wait as a
// deadline on the board's clock, the error mapping and bounded line reading
// live in internal/mailconn, shared with pop3c. Nothing leaves the board once
// ctx is done: a body still being read when the deadline passes is never
// followed by the end-of-data marker or BDAT LAST, no QUIT is sent, the
// connection is reset, and the error is nx.ErrWaitAborted together with
// ctx.Err(), so the server discards the partial mail and a retry sends no
// duplicate.
package smtpc
