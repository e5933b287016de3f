package mailconn

// TLSMode selects transport security. smtpc and pop3c use this one type
// (smtpc.TLSMode and pop3c.TLSMode are aliases of it), with one meaning:
//
// Clear-text credentials (SMTP AUTH PLAIN, LOGIN and XOAUTH2; POP3 USER/PASS
// and AUTH PLAIN) never travel on a connection without TLS unless the caller
// opts in (Options.AllowPlaintextAuth, or ProfileNetX, which behaves as the
// MCU does). Challenge-response mechanisms (CRAM-MD5, APOP) do not reveal
// the password and are allowed without TLS. A failed handshake or
// certificate check always fails the session: there is no fall back to
// plain text after one.
type TLSMode uint8

const (
	// TLSOpportunistic (the zero value): upgrade with STARTTLS (SMTP) or
	// STLS (POP3) when the server offers it, and go on in plain text when it
	// does not or refuses it (logged at Warn). In plain text only
	// challenge-response credentials are sent unless AllowPlaintextAuth is
	// set, so a stripped STARTTLS offer cannot make the client reveal a
	// password: mail without AUTH still flows, credentials do not.
	TLSOpportunistic TLSMode = iota
	// TLSOff never uses TLS (NetX Duo's behaviour). Clear-text credentials
	// still need AllowPlaintextAuth.
	TLSOff
	// TLSRequired: STARTTLS/STLS must be offered and succeed, else the
	// session fails before any credential or mail is sent.
	TLSRequired
	// TLSImplicit: TLS from the first byte (SMTPS on 465, POP3S on 995,
	// RFC 8314).
	TLSImplicit
)

// String returns "opportunistic", "off", "required" or "implicit" (the CLI's
// --tls vocabulary), or "invalid".
func (m TLSMode) String() string {
	switch m {
	case TLSOpportunistic:
		return "opportunistic"
	case TLSOff:
		return "off"
	case TLSRequired:
		return "required"
	case TLSImplicit:
		return "implicit"
	}
	return "invalid"
}

// Valid reports whether m is one of the four modes.
func (m TLSMode) Valid() bool { return m <= TLSImplicit }
