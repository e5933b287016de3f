package sntpc

import (
	"fmt"

	"github.com/simboard/simboard/nx"
)

// Status is an SNTP client status from nxd_sntp_client.h (0xD01–0xD45). It
// is its own type, distinct from nx.Status and the other add-ons' statuses.
// Status implements error: "sntpc: NX_SNTP_SERVER_CLOCK_NOT_SYNC (0xD12)".
// Errors from this package wrap a Status; test them with errors.Is, and use
// Code for the UINT NetX would return.
type Status uint32

// SNTP client statuses (addons/sntp/nxd_sntp_client.h).
const (
	ErrClientNotInitialized    Status = 0xD01 // NX_SNTP_CLIENT_NOT_INITIALIZED
	ErrOverLimitOnServers      Status = 0xD02 // NX_SNTP_OVER_LIMIT_ON_SERVERS
	ErrInvalidDomain           Status = 0xD03 // NX_SNTP_INVALID_DOMAIN
	ErrNoAvailableServers      Status = 0xD04 // NX_SNTP_NO_AVAILABLE_SERVERS
	ErrInvalidLocalTime        Status = 0xD05 // NX_SNTP_INVALID_LOCAL_TIME
	ErrInvalidServerAddress    Status = 0xD0A // NX_SNTP_INVALID_SERVER_ADDRESS
	ErrClientNotStarted        Status = 0xD0B // NX_SNTP_CLIENT_NOT_STARTED
	ErrClientAlreadyStarted    Status = 0xD0C // NX_SNTP_CLIENT_ALREADY_STARTED
	ErrParam                   Status = 0xD0D // NX_SNTP_PARAM_ERROR
	ErrServerNotAvailable      Status = 0xD10 // NX_SNTP_SERVER_NOT_AVAILABLE
	ErrNoUnicastFromServer     Status = 0xD11 // NX_SNTP_NO_UNICAST_FROM_SERVER
	ErrServerClockNotSync      Status = 0xD12 // NX_SNTP_SERVER_CLOCK_NOT_SYNC
	ErrKODServerNotAvailable   Status = 0xD13 // NX_SNTP_KOD_SERVER_NOT_AVAILABLE
	ErrKODRemoveServer         Status = 0xD14 // NX_SNTP_KOD_REMOVE_SERVER
	ErrServerAuthFail          Status = 0xD15 // NX_SNTP_SERVER_AUTH_FAIL
	ErrInvalidTimePacket       Status = 0xD20 // NX_SNTP_INVALID_TIME_PACKET
	ErrInvalidNTPVersion       Status = 0xD21 // NX_SNTP_INVALID_NTP_VERSION
	ErrInvalidServerMode       Status = 0xD22 // NX_SNTP_INVALID_SERVER_MODE
	ErrInvalidServerPort       Status = 0xD23 // NX_SNTP_INVALID_SERVER_PORT
	ErrInvalidIPAddress        Status = 0xD24 // NX_SNTP_INVALID_IP_ADDRESS
	ErrInvalidServerStratum    Status = 0xD25 // NX_SNTP_INVALID_SERVER_STRATUM
	ErrBadServerRootDispersion Status = 0xD26 // NX_SNTP_BAD_SERVER_ROOT_DISPERSION
	ErrOverInvalidLimit        Status = 0xD27 // NX_SNTP_OVER_INVALID_LIMIT
	ErrDupeServerPacket        Status = 0xD28 // NX_SNTP_DUPE_SERVER_PACKET
	ErrInvalidTimestamp        Status = 0xD29 // NX_SNTP_INVALID_TIMESTAMP
	ErrInsufficientPayload     Status = 0xD2A // NX_SNTP_INSUFFICIENT_PACKET_PAYLOAD
	ErrInvalidSNTPPacket       Status = 0xD2B // NX_SNTP_INVALID_SNTP_PACKET
	ErrInvalidTime             Status = 0xD30 // NX_SNTP_INVALID_TIME
	ErrTimedOutOnServer        Status = 0xD44 // NX_SNTP_TIMED_OUT_ON_SERVER
	ErrMaxTimeLapseExceeded    Status = 0xD45 // NX_SNTP_MAX_TIME_LAPSE_EXCEEDED
)

var statusNames = map[Status]string{
	ErrClientNotInitialized: "NX_SNTP_CLIENT_NOT_INITIALIZED", ErrOverLimitOnServers: "NX_SNTP_OVER_LIMIT_ON_SERVERS",
	ErrInvalidDomain: "NX_SNTP_INVALID_DOMAIN", ErrNoAvailableServers: "NX_SNTP_NO_AVAILABLE_SERVERS",
	ErrInvalidLocalTime: "NX_SNTP_INVALID_LOCAL_TIME", ErrInvalidServerAddress: "NX_SNTP_INVALID_SERVER_ADDRESS",
	ErrClientNotStarted: "NX_SNTP_CLIENT_NOT_STARTED", ErrClientAlreadyStarted: "NX_SNTP_CLIENT_ALREADY_STARTED",
	ErrParam: "NX_SNTP_PARAM_ERROR", ErrServerNotAvailable: "NX_SNTP_SERVER_NOT_AVAILABLE",
	ErrNoUnicastFromServer: "NX_SNTP_NO_UNICAST_FROM_SERVER", ErrServerClockNotSync: "NX_SNTP_SERVER_CLOCK_NOT_SYNC",
	ErrKODServerNotAvailable: "NX_SNTP_KOD_SERVER_NOT_AVAILABLE", ErrKODRemoveServer: "NX_SNTP_KOD_REMOVE_SERVER",
	ErrServerAuthFail: "NX_SNTP_SERVER_AUTH_FAIL", ErrInvalidTimePacket: "NX_SNTP_INVALID_TIME_PACKET",
	ErrInvalidNTPVersion: "NX_SNTP_INVALID_NTP_VERSION", ErrInvalidServerMode: "NX_SNTP_INVALID_SERVER_MODE",
	ErrInvalidServerPort: "NX_SNTP_INVALID_SERVER_PORT", ErrInvalidIPAddress: "NX_SNTP_INVALID_IP_ADDRESS",
	ErrInvalidServerStratum: "NX_SNTP_INVALID_SERVER_STRATUM", ErrBadServerRootDispersion: "NX_SNTP_BAD_SERVER_ROOT_DISPERSION",
	ErrOverInvalidLimit: "NX_SNTP_OVER_INVALID_LIMIT", ErrDupeServerPacket: "NX_SNTP_DUPE_SERVER_PACKET",
	ErrInvalidTimestamp: "NX_SNTP_INVALID_TIMESTAMP", ErrInsufficientPayload: "NX_SNTP_INSUFFICIENT_PACKET_PAYLOAD",
	ErrInvalidSNTPPacket: "NX_SNTP_INVALID_SNTP_PACKET", ErrInvalidTime: "NX_SNTP_INVALID_TIME",
	ErrTimedOutOnServer: "NX_SNTP_TIMED_OUT_ON_SERVER", ErrMaxTimeLapseExceeded: "NX_SNTP_MAX_TIME_LAPSE_EXCEEDED",
}

// Error returns "sntpc: NAME (0xNNN)".
func (s Status) Error() string { return "sntpc: " + s.String() }

// String returns "NAME (0xNNN)", or "status 0xNNN" for a value NetX does not
// define.
func (s Status) String() string {
	return nx.StatusText(statusNames[s], uint32(s), 3)
}

// Name returns the NetX macro name, or "" when s is not an SNTP status.
func (s Status) Name() string { return statusNames[s] }

// Code returns the UINT NetX would return for err: 0 for nil, the SNTP
// Status it wraps, else the wrapped nx.Status, else NX_NOT_SUCCESSFUL.
func Code(err error) uint32 { return nx.AddOnCode[Status](err) }

// KissError is a kiss-o'-death reply (stratum 0): the server's four-letter
// code (RATE, DENY, RSTR, …) and the status it led to.
type KissError struct {
	Code   string
	status error
}

func (e *KissError) Error() string {
	return fmt.Sprintf("sntpc: kiss-o'-death %q: %v", e.Code, e.status)
}

// Unwrap returns the status: the kiss-o'-death handler's error, or
// ErrKODServerNotAvailable when there is no handler (NetX's default).
func (e *KissError) Unwrap() error { return e.status }
