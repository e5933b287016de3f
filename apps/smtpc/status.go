package smtpc

import "github.com/simboard/simboard/nx"

// Status is an SMTP client status from nxd_smtp_client.h (0xA0–0xB2). It is
// its own type, distinct from nx.Status and from the POP3 client's statuses:
// NetX numbers them in ranges that overlap (0xB1 and 0xB2 mean different
// things in the two add-ons), so a Status never compares equal to a POP3 one.
//
// Status implements error: "smtpc: NX_SMTP_MAIL_REPLY_ERROR (0xA9)". Errors
// returned by this package wrap a Status next to their cause (a *ReplyError,
// a *ProtocolError, an nx.Status); transport failures wrap only the nx.Status,
// as NetX returns the raw TCP status for those. Test them with errors.Is and
// errors.As, never with ==; NetXStatus gives the UINT NetX would return.
type Status uint32

// SMTP client statuses (addons/smtp/nxd_smtp_client.h). The comment names the
// NetX macro; see the package documentation for when each is returned.
const (
	ErrAuthentication         Status = 0xA0 // NX_SMTP_AUTHENTICATION_ERROR
	ErrOversizeMailData       Status = 0xA1 // NX_SMTP_OVERSIZE_MAIL_DATA
	ErrInvalidServerReply     Status = 0xA2 // NX_SMTP_INVALID_SERVER_REPLY
	ErrInternal               Status = 0xA3 // NX_SMTP_INTERNAL_ERROR
	ErrServerErrorCode        Status = 0xA4 // NX_SMTP_SERVER_ERROR_CODE_RECEIVED
	ErrInvalidParam           Status = 0xA5 // NX_SMTP_INVALID_PARAM
	ErrPacketAllocate         Status = 0xA6 // NX_SMTP_PACKET_ALLOCATE_ERROR
	ErrGreetReply             Status = 0xA7 // NX_SMTP_GREET_REPLY_ERROR
	ErrHelloReply             Status = 0xA8 // NX_SMTP_HELLO_REPLY_ERROR
	ErrMailReply              Status = 0xA9 // NX_SMTP_MAIL_REPLY_ERROR
	ErrRcptReply              Status = 0xAA // NX_SMTP_RCPT_REPLY_ERROR
	ErrMessageReply           Status = 0xAB // NX_SMTP_MESSAGE_REPLY_ERROR
	ErrDataReply              Status = 0xAC // NX_SMTP_DATA_REPLY_ERROR
	ErrAuthReply              Status = 0xAD // NX_SMTP_AUTH_REPLY_ERROR
	ErrServerErrorReply       Status = 0xAE // NX_SMTP_SERVER_ERROR_REPLY
	ErrTransmit               Status = 0xAF // NX_SMTP_TRANSMIT_ERROR
	ErrInvalidServerChallenge Status = 0xB0 // NX_SMTP_INVALID_SERVER_CHALLENGE
	ErrOversizeServerReply    Status = 0xB1 // NX_SMTP_OVERSIZE_SERVER_REPLY
	ErrClientNotInitialized   Status = 0xB2 // NX_SMTP_CLIENT_NOT_INTIALIZED (sic)
)

var statusNames = map[Status]string{
	ErrAuthentication:         "NX_SMTP_AUTHENTICATION_ERROR",
	ErrOversizeMailData:       "NX_SMTP_OVERSIZE_MAIL_DATA",
	ErrInvalidServerReply:     "NX_SMTP_INVALID_SERVER_REPLY",
	ErrInternal:               "NX_SMTP_INTERNAL_ERROR",
	ErrServerErrorCode:        "NX_SMTP_SERVER_ERROR_CODE_RECEIVED",
	ErrInvalidParam:           "NX_SMTP_INVALID_PARAM",
	ErrPacketAllocate:         "NX_SMTP_PACKET_ALLOCATE_ERROR",
	ErrGreetReply:             "NX_SMTP_GREET_REPLY_ERROR",
	ErrHelloReply:             "NX_SMTP_HELLO_REPLY_ERROR",
	ErrMailReply:              "NX_SMTP_MAIL_REPLY_ERROR",
	ErrRcptReply:              "NX_SMTP_RCPT_REPLY_ERROR",
	ErrMessageReply:           "NX_SMTP_MESSAGE_REPLY_ERROR",
	ErrDataReply:              "NX_SMTP_DATA_REPLY_ERROR",
	ErrAuthReply:              "NX_SMTP_AUTH_REPLY_ERROR",
	ErrServerErrorReply:       "NX_SMTP_SERVER_ERROR_REPLY",
	ErrTransmit:               "NX_SMTP_TRANSMIT_ERROR",
	ErrInvalidServerChallenge: "NX_SMTP_INVALID_SERVER_CHALLENGE",
	ErrOversizeServerReply:    "NX_SMTP_OVERSIZE_SERVER_REPLY",
	ErrClientNotInitialized:   "NX_SMTP_CLIENT_NOT_INTIALIZED",
}

// Error returns "smtpc: NAME (0xNN)".
func (s Status) Error() string { return "smtpc: " + s.String() }

// String returns "NAME (0xNN)", or "status 0xNN" for a value NetX does not
// define.
func (s Status) String() string {
	return nx.StatusText(statusNames[s], uint32(s), 2)
}

// Name returns the NetX macro name ("NX_SMTP_MAIL_REPLY_ERROR"), or "" when
// the value is not an SMTP client status.
func (s Status) Name() string { return statusNames[s] }
