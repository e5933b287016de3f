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
//	ErrAuthentication 0xA0 + ErrPlaintextAuth  no usable mechanism without TLS
//	ErrInvalidServerChallenge 0xB0          a 334 challenge the mechanism cannot answer
//	                                        (ErrAuthReply in ProfileNetX, as NetX)
//	ErrMailReply 0xA9 + *ReplyError         MAIL FROM refused
//	ErrRcptReply 0xAA + *ReplyError         a RCPT TO refused; Stage names the address
//	ErrDataReply 0xAC + *ReplyError         DATA not answered with 354
//	ErrMessageReply 0xAB + *ReplyError      the end of data not answered with 250
//	ErrServerErrorReply 0xAE + *ProtocolError  malformed reply (bad code, mixed codes,
//	                                        data after the STARTTLS reply)
//	ErrOversizeServerReply 0xB1 + *ProtocolError  reply line over 4096 octets, or a
//	                                        reply of more than 128 lines / 64 KiB
//	ErrOversizeMailData 0xA1                the server's SIZE limit is smaller than the mail
//	ErrInvalidParam 0xA5                    CR/LF in an address or the subject, an address
//	                                        without '@', ProfileNetX with several
//	                                        recipients, ErrLineTooLong, ErrNeeds8BitMIME,
//	                                        ErrNeedsSMTPUTF8
//	ErrPacketAllocate 0xA6 + nx.ErrNoPacket the pool stayed empty for Timeouts.Packet
//	ErrTransmit 0xAF + tls error            the TLS handshake or certificate check failed
//	ErrClientNotInitialized 0xB2            MailSend after Delete
//	nx.ErrNoPacket 0x01                     no reply within the stage's timeout
//	nx.ErrNotConnected 0x38                 the server closed or reset the connection
//	nx.ErrWaitAborted 0x1A                  ctx was cancelled
//	nx.ErrPtr, nx.ErrSize, nx.ErrIPAddress  Create's argument checks, as in NetX
//
// A mail the server accepted (250 after the end of data) counts as sent:
// MailSend then returns a nil error even if the QUIT exchange fails, and
// Result.QuitErr (wrapping ErrQuit) says so. NetX returns the receive error
// in that case although the mail was delivered.
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
// # Beyond NetX
//
// To, Cc and Bcc recipients (Bcc never in the header); every RCPT must be
// accepted or the mail is not sent. AUTH PLAIN, LOGIN, CRAM-MD5 and XOAUTH2
// chosen from the EHLO offer by NetX's fallback rules, extended (see
// AuthType and Options.AllowPlaintextAuth). STARTTLS (TLSOpportunistic,
// TLSRequired) and implicit TLS (TLSImplicit) with crypto/tls over the
// board's socket, verifying certificates by default. SIZE is declared and a
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
// NetX's exact header bytes).
//
// Credentials never reach the logger or Options.Transcript: AUTH
// continuation lines are written as "<credentials redacted>".
package smtpc
