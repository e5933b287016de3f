// Package mailhost is simboard's built-in mail host: an SMTP server and a
// POP3 server over one in-memory maildrop, with fault injection for both.
// The board's SMTP and POP3 clients (apps/smtpc, apps/pop3c) are tested
// against it, and `simboard demo` runs it on a peer board. It serves any
// net.Listener: kernel sockets in tests, a userspace stack's listener on a
// peer board. It has no NetX Duo counterpart (NetX ships client and server
// add-ons separately); it plays the part of the mail server a firmware
// engineer would otherwise need.
//
// Start with New and Options, then the Serve methods:
//
//	cert, pool, _ := mailhost.SelfSigned("mail.example.test", "198.51.100.1")
//	h, _ := mailhost.New(mailhost.Options{
//		Users: map[string]string{"alice": "secret"},
//		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}},
//	})
//	go h.ServeSMTP(smtpListener)
//	go h.ServePOP3(pop3Listener)
//	defer h.Close()
//	// clients trust pool, or refuse the certificate by not using it
//
// On a board the listener is the board's own: l, _ := brd.IP.ListenTCP(25)
// (see Example_onBoard); in a test, boardtest's Lab.MailHost does that
// wiring and the cleanup. The Examples cover SASL (CRAM-MD5, XOAUTH2),
// APOP with a real digest, implicit TLS and fault counts.
//
// # Virtual time and seeds
//
// With Options.Clock a sim.Clock and Options.Rand a seeded stream
// (sim.Rand), a run repeats: store times, the APOP banner
// (<pid.clock@domain>, the pid drawn from Rand), CRAM-MD5 challenges, UIDs
// and FaultDelay waits come from them, and idle timeouts on a board's
// connection run on its IP clock. SelfSignedWith makes a certificate that is
// a function of a seed and a time (Ed25519), so it is the same in every run
// too. Only the bytes inside TLS records differ: Go 1.26 does not let
// crypto/tls take all its randomness from tls.Config.Rand.
//
// # Maildrop
//
// Store holds one mailbox per user. Mail accepted by SMTP goes, byte-exact
// after DATA decoding, into the mailbox of each recipient (see Store for
// address resolution and Options.CatchAll for unknown ones) and is
// recorded with its envelope (Store.Received). POP3 sessions lock a
// maildrop exclusively, number its messages for the session, mark
// deletions with DELE, undo them with RSET and commit them only at QUIT
// (RFC 1939 UPDATE state); a dropped connection or Close commits nothing.
//
// # SMTP
//
// emersion/go-smtp speaks the protocol: EHLO/HELO, PIPELINING, 8BITMIME,
// SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING (BDAT), SIZE, STARTTLS. AUTH
// offers PLAIN, LOGIN, CRAM-MD5 (a real HMAC-MD5 check), XOAUTH2 and
// OAUTHBEARER (bearer tokens, Options.Tokens), all implemented here as
// go-sasl servers. Without TLS AUTH is not offered unless
// Options.AllowInsecureAuth.
//
// In front of go-smtp each connection has an interceptor that owns the
// client's connection, its TLS (STARTTLS and implicit) and its idle
// timeout. It reads the client's commands one at a time and forwards each
// through an in-memory pipe to go-smtp, then relays go-smtp's reply. Since
// it sees both directions in clear it can inject any fault at any stage,
// write transcripts with credentials redacted, and it answers pipelined
// commands in order. When the client side is TLS the pipe carries TLS too,
// with an internal certificate, so go-smtp's TLS rules (STARTTLS offer,
// AUTH only under TLS) apply unchanged. The interceptor mirrors go-smtp's
// end-of-data scanner exactly, so both agree where a DATA body ends.
//
// # POP3
//
// The POP3 server is this package's own: RFC 1939 with APOP (MD5 of the
// greeting timestamp and the password, lower-case hex, checked), RFC 2449
// CAPA (TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, USER, SASL, STLS;
// PIPELINING is not advertised), RFC 2595 STLS, RFC 3206 response codes,
// RFC 5034 AUTH with the same mechanisms as SMTP. Command lines are limited
// to POP3MaxLineLength octets; a longer one is consumed and answered with
// -ERR. Multi-line replies are dot-stuffed and end with CRLF.CRLF; a line
// starts after every LF, so a dot after a bare LF in a stored message is
// doubled too (no reader can mistake it for the terminator), and CRLF is
// added to a message that does not end with one.
// Options.APOP turns the APOP timestamp off or makes APOP fail.
//
// # Faults
//
// Options.Faults (or SetFaults) lists Fault values: at a Stage of either
// protocol, do one FaultKind (reply with a code and text, delay, close,
// reset, stay silent, send a garbage line), optionally only for some
// occurrences (Skip, Times), and for smtp.data-end after some octets of the
// body (AfterBytes: "RST after 100 KB of DATA"). SMTP faults act in the interceptor, POP3 faults in the
// server loop, so both work over any net.Conn; a reset uses SetLinger(0)
// when the connection has it (kernel TCP) and falls back to Close.
//
// # Goroutines and locks
//
// Each Serve call runs its accept loop on the caller's goroutine; each
// connection gets one goroutine, and SMTP connections one more inside
// go-smtp. Close closes every listener and connection and joins all of
// them. Lock order: Host.mu before Store.mu; the fault set's and the
// transcript's mutexes are leaves.
package mailhost
