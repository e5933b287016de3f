package pop3c

import "github.com/simboard/simboard/nx"

// Status is a NetX Duo POP3 client status (nxd_pop3_client.h, base
// NX_POP3_CLIENT_ERROR_CONSTANT 0xB0). It is its own type because the add-on
// status ranges overlap in NetX (SMTP uses 0xB1 and 0xB2 as well): a
// pop3c.Status never compares equal to an smtpc or nx status. Success is a nil
// error; errors.Is(err, pop3c.ErrServerErrorStatus) works through wrapping;
// NetXStatus gives the UINT NetX would return.
type Status uint32

// POP3 client statuses, with their NetX names and values.
const (
	// ErrParam is NX_POP3_PARAM_ERROR: a bad argument to Create (name or
	// password with CR or LF, too long in the NetX profile, no server
	// address, ...), reported before any traffic.
	ErrParam Status = 0xB1 // NX_POP3_PARAM_ERROR
	// ErrInvalidMailItem is NX_POP3_INVALID_MAIL_ITEM: an index beyond the
	// message count of the last STAT.
	ErrInvalidMailItem Status = 0xB2 // NX_POP3_INVALID_MAIL_ITEM
	// ErrAPOPFailedMD5Digest is NX_POP3_APOP_FAILED_MD5_DIGEST. NetX returns
	// it when its MD5 service fails; Go's crypto/md5 cannot, so this package
	// never returns it. It exists for code ported from NetX.
	ErrAPOPFailedMD5Digest Status = 0xB3 // NX_POP3_APOP_FAILED_MD5_DIGEST
	// ErrServerErrorStatus is NX_POP3_SERVER_ERROR_STATUS: the server replied
	// -ERR (the error is then a *ReplyError) or sent a reply this client
	// cannot parse (a *ProtocolError).
	ErrServerErrorStatus Status = 0xB4 // NX_POP3_SERVER_ERROR_STATUS
	// ErrMailBufferOverflow is NX_POP3_MAIL_BUFFER_OVERFLOW (defined but
	// unused in NetX). Here it reports a message longer than
	// Options.MaxMessageSize or a reply line longer than Options.MaxLineLength.
	ErrMailBufferOverflow Status = 0xB5 // NX_POP3_MAIL_BUFFER_OVERFLOW
	// ErrInsufficientPacketPayload is NX_POP3_INSUFFICIENT_PACKET_PAYLOAD: in
	// the NetX profile, a command that does not fit in one packet of the
	// client's pool.
	ErrInsufficientPacketPayload Status = 0xB6 // NX_POP3_INSUFFICIENT_PACKET_PAYLOAD
	// ErrClientInvalidState is NX_POP3_CLIENT_INVALID_STATE: the call does not
	// fit the session state (MailItemMessageGet with no message in progress,
	// a command while a message is still being read, any call after Quit).
	ErrClientInvalidState Status = 0xB7 // NX_POP3_CLIENT_INVALID_STATE
	// ErrClientInvalidIndex is NX_POP3_CLIENT_INVALID_INDEX: mail item index 0
	// (or negative). Items are numbered from 1.
	ErrClientInvalidIndex Status = 0xB8 // NX_POP3_CLIENT_INVALID_INDEX
)

var statusNames = map[Status]string{
	ErrParam:                     "NX_POP3_PARAM_ERROR",
	ErrInvalidMailItem:           "NX_POP3_INVALID_MAIL_ITEM",
	ErrAPOPFailedMD5Digest:       "NX_POP3_APOP_FAILED_MD5_DIGEST",
	ErrServerErrorStatus:         "NX_POP3_SERVER_ERROR_STATUS",
	ErrMailBufferOverflow:        "NX_POP3_MAIL_BUFFER_OVERFLOW",
	ErrInsufficientPacketPayload: "NX_POP3_INSUFFICIENT_PACKET_PAYLOAD",
	ErrClientInvalidState:        "NX_POP3_CLIENT_INVALID_STATE",
	ErrClientInvalidIndex:        "NX_POP3_CLIENT_INVALID_INDEX",
}

// Error formats the status as "pop3c: NX_POP3_SERVER_ERROR_STATUS (0xB4)".
func (s Status) Error() string { return "pop3c: " + s.String() }

// String formats the status as "NX_POP3_SERVER_ERROR_STATUS (0xB4)".
func (s Status) String() string {
	return nx.StatusText(statusNames[s], uint32(s), 2)
}

// Name returns the NetX name ("NX_POP3_PARAM_ERROR"), or "" for a value that
// is not a POP3 client status.
func (s Status) Name() string { return statusNames[s] }
