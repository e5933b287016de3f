package dnsc

import (
	"github.com/simboard/simboard/nx"
)

// Status is a DNS client status from nxd_dns.h (0xA0–0xB7). It is its own
// type, distinct from nx.Status and from the mail clients' statuses (NetX
// numbers the add-ons' ranges so that they overlap).
//
// Status implements error: "dnsc: NX_DNS_QUERY_FAILED (0xA3)". Errors from
// this package wrap a Status next to their cause (an *RcodeError, an
// nx.Status from the socket or the pool); test them with errors.Is and
// errors.As. Code gives the UINT NetX would return.
type Status uint32

// DNS client statuses (addons/dns/nxd_dns.h).
const (
	ErrDNS                  Status = 0xA0 // NX_DNS_ERROR
	ErrNoServer             Status = 0xA1 // NX_DNS_NO_SERVER
	ErrTimeout              Status = 0xA2 // NX_DNS_TIMEOUT
	ErrQueryFailed          Status = 0xA3 // NX_DNS_QUERY_FAILED
	ErrBadAddress           Status = 0xA4 // NX_DNS_BAD_ADDRESS_ERROR
	ErrSize                 Status = 0xA5 // NX_DNS_SIZE_ERROR
	ErrMalformedPacket      Status = 0xA6 // NX_DNS_MALFORMED_PACKET
	ErrBadID                Status = 0xA7 // NX_DNS_BAD_ID_ERROR
	ErrParam                Status = 0xA8 // NX_DNS_PARAM_ERROR
	ErrServerNotFound       Status = 0xA9 // NX_DNS_SERVER_NOT_FOUND
	ErrPacketCreate         Status = 0xAA // NX_DNS_PACKET_CREATE_ERROR
	ErrEmptyServerList      Status = 0xAB // NX_DNS_EMPTY_DNS_SERVER_LIST
	ErrServerAuth           Status = 0xAC // NX_DNS_SERVER_AUTH_ERROR
	ErrZeroGateway          Status = 0xAD // NX_DNS_ZERO_GATEWAY_IP_ADDRESS
	ErrMismatchedResponse   Status = 0xAE // NX_DNS_MISMATCHED_RESPONSE
	ErrDuplicateEntry       Status = 0xAF // NX_DNS_DUPLICATE_ENTRY
	ErrRetryAQuery          Status = 0xB0 // NX_DNS_RETRY_A_QUERY
	ErrIPv6Disabled         Status = 0xB1 // NX_DNS_IPV6_DISABLED_ERROR
	ErrInvalidAddressType   Status = 0xB2 // NX_DNS_INVALID_ADDRESS_TYPE
	ErrIPv6NotSupported     Status = 0xB3 // NX_DNS_IPV6_NOT_SUPPORTED
	ErrNeedMoreRecordBuffer Status = 0xB4 // NX_DNS_NEED_MORE_RECORD_BUFFER
	ErrFeatureNotSupported  Status = 0xB5 // NX_DNS_FEATURE_NOT_SUPPORTED
	ErrNameMismatch         Status = 0xB6 // NX_DNS_NAME_MISMATCH
	ErrCache                Status = 0xB7 // NX_DNS_CACHE_ERROR
)

var statusNames = map[Status]string{
	ErrDNS: "NX_DNS_ERROR", ErrNoServer: "NX_DNS_NO_SERVER", ErrTimeout: "NX_DNS_TIMEOUT",
	ErrQueryFailed: "NX_DNS_QUERY_FAILED", ErrBadAddress: "NX_DNS_BAD_ADDRESS_ERROR",
	ErrSize: "NX_DNS_SIZE_ERROR", ErrMalformedPacket: "NX_DNS_MALFORMED_PACKET",
	ErrBadID: "NX_DNS_BAD_ID_ERROR", ErrParam: "NX_DNS_PARAM_ERROR",
	ErrServerNotFound: "NX_DNS_SERVER_NOT_FOUND", ErrPacketCreate: "NX_DNS_PACKET_CREATE_ERROR",
	ErrEmptyServerList: "NX_DNS_EMPTY_DNS_SERVER_LIST", ErrServerAuth: "NX_DNS_SERVER_AUTH_ERROR",
	ErrZeroGateway: "NX_DNS_ZERO_GATEWAY_IP_ADDRESS", ErrMismatchedResponse: "NX_DNS_MISMATCHED_RESPONSE",
	ErrDuplicateEntry: "NX_DNS_DUPLICATE_ENTRY", ErrRetryAQuery: "NX_DNS_RETRY_A_QUERY",
	ErrIPv6Disabled: "NX_DNS_IPV6_DISABLED_ERROR", ErrInvalidAddressType: "NX_DNS_INVALID_ADDRESS_TYPE",
	ErrIPv6NotSupported: "NX_DNS_IPV6_NOT_SUPPORTED", ErrNeedMoreRecordBuffer: "NX_DNS_NEED_MORE_RECORD_BUFFER",
	ErrFeatureNotSupported: "NX_DNS_FEATURE_NOT_SUPPORTED", ErrNameMismatch: "NX_DNS_NAME_MISMATCH",
	ErrCache: "NX_DNS_CACHE_ERROR",
}

// Error returns "dnsc: NAME (0xNN)".
func (s Status) Error() string { return "dnsc: " + s.String() }

// String returns "NAME (0xNN)", or "status 0xNN" for a value NetX does not
// define.
func (s Status) String() string {
	return nx.StatusText(statusNames[s], uint32(s), 2)
}

// Name returns the NetX macro name, or "" when s is not a DNS status.
func (s Status) Name() string { return statusNames[s] }

// Code returns the UINT NetX would return for err: 0 for nil, the first DNS
// Status it wraps, else the wrapped nx.Status (a socket or pool failure),
// else NX_NOT_SUCCESSFUL.
func Code(err error) uint32 { return nx.AddOnCode[Status](err) }
