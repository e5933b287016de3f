// Package pop3c is the board's POP3 client (RFC 1939). It mirrors NetX Duo's
// POP3 client add-on (addons/pop3/nxd_pop3_client.c: NX_POP3_CLIENT and the
// nx_pop3_client_* services) on the packet-chain API: commands go out as
// packets of the client's pool, message data comes back as pool packets the
// caller releases, statuses keep their NetX names and values, and every wait
// is a NetX wait option. Code written against it ports to NetX line for line.
//
// Start with Create (it connects and logs in, as nxd_pop3_client_create
// does), then MailItemsGet, MailItemGet and a MailItemMessageGet loop, and
// end with Quit and Delete. RetrTo copies a message to an io.Writer instead.
//
// # NetX mapping
//
//	NetX Duo                                simboard
//	nxd_pop3_client_create(client, APOP,    Create(ctx, Options{Auth: AuthAPOP or AuthUserPass,
//	  ip, pool, server, port, name, pw)       IP, Pool, Server, Port, Name, Password})
//	nx_pop3_client_create (IPv4 server)     Create with an IPv4 Options.Server
//	nx_pop3_client_mail_items_get           (*Client).MailItemsGet          STAT
//	nx_pop3_client_mail_item_size_get       (*Client).MailItemSizeGet       LIST n
//	nx_pop3_client_mail_item_get            (*Client).MailItemGet           RETR n
//	nx_pop3_client_mail_item_message_get    (*Client).MailItemMessageGet    next data packet, final flag
//	nx_pop3_client_mail_item_delete         (*Client).MailItemDelete        DELE n
//	nx_pop3_client_quit                     (*Client).Quit                  QUIT
//	nx_pop3_client_delete                   (*Client).Delete
//	NX_POP3_COMMAND_NOOP / _RSET (unused)   (*Client).Noop, (*Client).Rset
//	(not in NetX)                           Capa, UIDL, UIDLItem, List, Top, TopTo, RetrTo,
//	                                        Options.TLS (STLS, implicit TLS), AUTH PLAIN,
//	                                        AuthAuto, NetXStatus, *ReplyError
//	NX_POP3_PARAM_ERROR ... _INVALID_INDEX  ErrParam ... ErrClientInvalidIndex (type Status, 0xB1-0xB8)
//	NX_POP3_CLIENT_PACKET_TIMEOUT (1 s)     Options.Timeouts.Packet (allocation, bind)
//	NX_POP3_TCP_SOCKET_SEND_WAIT (10 s)     Options.Timeouts.Send
//	NX_POP3_CLIENT_CONNECTION_TIMEOUT (30 s) Options.Timeouts.Connect (and the TLS handshake)
//	NX_POP3_CLIENT_DISCONNECT_TIMEOUT (10 s) Options.Timeouts.Disconnect
//	NX_POP3_SERVER_REPLY_TIMEOUT (10 s)     Options.Timeouts.Reply
//	NX_POP3_MAX_USERNAME/PASSWORD (40/20)   enforced in ProfileNetX
//	NX_POP3_CLIENT_TCP_WINDOW_SIZE (1460)   Options.Window (64 KiB by default, 1460 in ProfileNetX)
//	NX_POP3_MAX_SERVER_REPLY (512)          Options.MaxLineLength (8192 by default, 512 in ProfileNetX)
//
// # Ownership
//
//   - Create returns a Client the caller owns; Delete frees it (socket
//     disconnected, unbound and deleted, every packet the client holds
//     released). Delete is idempotent and always returns nil, as NetX's does.
//   - Every packet MailItemMessageGet returns belongs to the caller, the
//     final one included, and must be released with Release. A whole
//     received packet is the socket's receive packet itself, from the IP's
//     default pool, as NetX hands it over; the rest of the RETR reply's
//     packet, or one buffer of a received chain, is copied into a packet of
//     Options.Pool. Release returns each packet to its own pool either way.
//   - Command packets are allocated from Options.Pool with the socket's packet
//     type (IPv4 or IPv6 TCP header room) and handed to the socket; a failed
//     send is released by the client, as NetX does.
//   - Received packets the client consumes are released by it on every path:
//     success, -ERR, malformed replies, timeouts, resets and Delete.
//
// # The rule: what NetX returns, and where NetX is defective
//
// A call that carries a NetX name (Create, MailItemsGet, MailItemGet,
// MailItemMessageGet, MailItemDelete, Quit, Delete) returns what NetX Duo
// returns — the same bytes, statuses and packets — in both profiles. Where
// NetX is defective, the default profile fixes the defect and ProfileNetX
// reproduces it, so an engineer sees here the failure the MCU will show.
// Go-named helpers (RetrTo, TopTo) return clean data in both profiles.
//
// # Message data
//
// MailItemMessageGet returns what nx_pop3_client_mail_item_message_get
// returns: each received packet as the server sent it — lines still
// dot-stuffed, the terminator "\r\n.\r\n" included in the last one — with n
// (bytes_retrieved) equal to the packet's length; the first holds what
// followed the +OK line in the RETR reply's packet. Its final flag is NetX's
// in ProfileNetX (the last five bytes are the terminator, or a packet of five
// bytes or fewer starts with "\r\n.\r\n" or ".\r\n", then n is 0), so a
// terminator split across packets is missed as on the MCU; the default
// profile finds the terminator wherever packets and segments split it. RetrTo
// and TopTo write the message as the server holds it: dot-unstuffed, without
// the terminator. Options.MaxMessageSize bounds a message that never ends
// (ErrMailBufferOverflow).
//
// # Every NetX defect and what each profile does
//
//	NetX defect (nxd_pop3_client.c)            default profile              ProfileNetX (as the MCU)
//	terminator split across packets missed     final set on the packet      missed: the next call
//	  (1562-1598)                              that completes it            waits 10 s, NX_NO_PACKET,
//	                                                                        the session stays up
//	data returned dot-stuffed, terminator      the same in                  the same (NetX's bytes);
//	  included (1553-1578)                     MailItemMessageGet; RetrTo   RetrTo/TopTo are clean
//	                                           and TopTo are clean
//	-ERR to PASS returns NX_SUCCESS            ErrServerErrorStatus with    Create succeeds
//	  (3249-3292)                              a *ReplyError (Stage PASS)
//	failed create leaves the socket created,   nothing left: nil Client,    the Client is returned
//	  bound or connected (387-440, 2665-2772)  socket deleted               with the error; Delete
//	                                                                        releases the socket
//	a receive timeout in message get leaves    the connection is reset      left as it is; commands
//	  the socket as it is (1553)                                            go out while data is unread
//	chained reply packets refused              accepted                     NX_INVALID_PACKET
//	  (NX_INVALID_PACKET, 1337-1344, 2711)
//	greeting packet leaked after a successful  no leak                      not reproduced (it would
//	  APOP (2747-2756)                                                      shrink the pool each login)
//	refused APOP falls back to USER/PASS,      no fallback unless           fallback (APOPFallback)
//	  sending the password in clear (2751)     Options.APOPFallback
//	chained message packet returned whole      -                            returned one buffer at a
//	  (its end test reads past the first                                    time
//	  buffer)
//
// Also beyond NetX in the default profile: a -ERR keeps its text
// (*ReplyError{Stage, Enhanced, Msg}, the shape smtpc uses, wrapped with
// ErrServerErrorStatus); name and password with CR, LF or NUL are rejected
// before any traffic (both profiles). ProfileNetX keeps NetX's limits where
// they matter to an MCU port (name and password lengths, no TLS, CAPA or
// AUTH, STAT before LIST/RETR, one packet per command, 512-byte replies, a
// 1460-byte window); see ProfileNetX.
//
// # Errors
//
// Statuses are returned wrapped with context; test them with errors.Is:
// pop3c statuses (ErrServerErrorStatus, ErrClientInvalidIndex, ...), nx
// statuses from the socket and pool (nx.ErrNoPacket for a timeout,
// nx.ErrNotConnected when the server closed or reset, nx.ErrWaitAborted when
// ctx was cancelled or Delete interrupted the call, wrapped together with
// ctx.Err() so errors.Is(err, context.DeadlineExceeded) holds), or
// crypto/tls errors for a failed handshake. NetXStatus gives the UINT NetX
// would return. errors.As gives *ReplyError for a -ERR and
// *ProtocolError for a reply that breaks the protocol. After a transport
// failure (timeout, close, reset, cancelled wait) or a reply whose framing
// is broken (neither +OK nor -ERR, over-long, over the size limit) the client
// resets the connection, since the reply stream cannot be trusted any more,
// and later calls return nx.ErrNotConnected. After a -ERR, or a well-framed
// reply with malformed arguments, the session goes on.
//
// # Concurrency
//
// A Client is safe for concurrent use: one mutex serialises the calls, and
// each runs its command to completion. Delete may be called from any
// goroutine; it interrupts a blocked call. The client starts no goroutine.
//
// # TLS
//
// Options.TLS selects STLS (RFC 2595; opportunistic, the zero value, or
// required) or implicit TLS (port 995, RFC 8314); TLSMode is the same type
// as smtpc.TLSMode, with the same meaning. The TLS session runs over a
// netstack.Conn on the same socket; certificates are verified
// (Options.TLSConfig, nil = system roots and the server address as name).
// Under TLS, message data is decrypted into the client's buffer and appended
// into pool packets, so the ownership rules above do not change. Every wait
// is a deadline on the board's clock (the IP's nx.Clock).
//
// # Login and clear-text credentials
//
// Options.Auth picks the login: AuthAuto (the zero value) tries the
// strongest on offer once (APOP with a valid greeting timestamp, else AUTH
// PLAIN when CAPA lists it, else USER/PASS); AuthAPOP, AuthUserPass and
// AuthPlain force one. USER/PASS and AUTH PLAIN send the password itself:
// without TLS they need Options.AllowPlaintextAuth, else ErrPlaintextAuth
// before the password is sent (smtpc applies the same rule). ProfileNetX
// allows them, as the MCU sends them.
//
// # Bounds
//
// Options.MaxMessageSize bounds a message and a listing in bytes,
// Options.MaxLineLength a line, and Options.MaxListEntries the entries List
// and UIDL keep (100000 by default; past it the rest is read and dropped and
// ErrMailBufferOverflow returned): a huge listing costs a few times its size
// in memory, not tens of times. A pool that can never hold a 255-octet
// command is ErrInsufficientPacketPayload at Create.
//
// # Cancellation
//
// No command leaves the board once ctx is done: a cancelled call resets the
// connection (no QUIT, which would commit DELEs) and later calls return
// nx.ErrNotConnected.
package pop3c
