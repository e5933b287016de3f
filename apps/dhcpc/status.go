package dhcpc

import (
	"fmt"

	"github.com/simboard/simboard/nx"
)

// Status is a DHCP client status from nxd_dhcp_client.h (0x90–0xA8). It is
// its own type, distinct from nx.Status and from the mail clients' statuses,
// whose ranges overlap NetX's DHCP range (0xA3–0xA8).
//
// Status implements error: "dhcpc: NX_DHCP_NOT_BOUND (0x94)". Errors returned
// by this package wrap a Status, and often the cause next to it (the last
// NAK, an invalid lease); test them with errors.Is and errors.As.
type Status uint32

// DHCP client statuses (addons/dhcp/nxd_dhcp_client.h).
const (
	ErrGeneral                 Status = 0x90 // NX_DHCP_ERROR
	ErrNoResponse              Status = 0x91 // NX_DHCP_NO_RESPONSE
	ErrBadIPAddress            Status = 0x92 // NX_DHCP_BAD_IP_ADDRESS
	ErrAlreadyStarted          Status = 0x93 // NX_DHCP_ALREADY_STARTED
	ErrNotBound                Status = 0x94 // NX_DHCP_NOT_BOUND
	ErrDestTooSmall            Status = 0x95 // NX_DHCP_DEST_TO_SMALL (sic)
	ErrNotStarted              Status = 0x96 // NX_DHCP_NOT_STARTED
	ErrParse                   Status = 0x97 // NX_DHCP_PARSE_ERROR
	ErrBadXID                  Status = 0x98 // NX_DHCP_BAD_XID
	ErrBadMACAddress           Status = 0x99 // NX_DHCP_BAD_MAC_ADDRESS
	ErrInvalidMessage          Status = 0x9B // NX_DHCP_INVALID_MESSAGE
	ErrInvalidPayload          Status = 0x9C // NX_DHCP_INVALID_PAYLOAD
	ErrInvalidIPRequest        Status = 0x9D // NX_DHCP_INVALID_IP_REQUEST
	ErrUnknownOption           Status = 0x9F // NX_DHCP_UNKNOWN_OPTION
	ErrInterfaceAlreadyEnabled Status = 0xA3 // NX_DHCP_INTERFACE_ALREADY_ENABLED
	ErrInterfaceNotEnabled     Status = 0xA4 // NX_DHCP_INTERFACE_NOT_ENABLED
	ErrNoInterfacesEnabled     Status = 0xA5 // NX_DHCP_NO_INTERFACES_ENABLED
	ErrNoInterfacesStarted     Status = 0xA6 // NX_DHCP_NO_INTERFACES_STARTED
	ErrNoRecordsAvailable      Status = 0xA7 // NX_DHCP_NO_RECORDS_AVAILABLE
	ErrInvalidName             Status = 0xA8 // NX_DHCP_INVALID_NAME
)

var statusNames = map[Status]string{
	ErrGeneral:                 "NX_DHCP_ERROR",
	ErrNoResponse:              "NX_DHCP_NO_RESPONSE",
	ErrBadIPAddress:            "NX_DHCP_BAD_IP_ADDRESS",
	ErrAlreadyStarted:          "NX_DHCP_ALREADY_STARTED",
	ErrNotBound:                "NX_DHCP_NOT_BOUND",
	ErrDestTooSmall:            "NX_DHCP_DEST_TO_SMALL",
	ErrNotStarted:              "NX_DHCP_NOT_STARTED",
	ErrParse:                   "NX_DHCP_PARSE_ERROR",
	ErrBadXID:                  "NX_DHCP_BAD_XID",
	ErrBadMACAddress:           "NX_DHCP_BAD_MAC_ADDRESS",
	ErrInvalidMessage:          "NX_DHCP_INVALID_MESSAGE",
	ErrInvalidPayload:          "NX_DHCP_INVALID_PAYLOAD",
	ErrInvalidIPRequest:        "NX_DHCP_INVALID_IP_REQUEST",
	ErrUnknownOption:           "NX_DHCP_UNKNOWN_OPTION",
	ErrInterfaceAlreadyEnabled: "NX_DHCP_INTERFACE_ALREADY_ENABLED",
	ErrInterfaceNotEnabled:     "NX_DHCP_INTERFACE_NOT_ENABLED",
	ErrNoInterfacesEnabled:     "NX_DHCP_NO_INTERFACES_ENABLED",
	ErrNoInterfacesStarted:     "NX_DHCP_NO_INTERFACES_STARTED",
	ErrNoRecordsAvailable:      "NX_DHCP_NO_RECORDS_AVAILABLE",
	ErrInvalidName:             "NX_DHCP_INVALID_NAME",
}

// Error returns "dhcpc: NAME (0xNN)".
func (s Status) Error() string { return "dhcpc: " + s.String() }

// String returns "NAME (0xNN)", or "status 0xNN" for a value NetX does not
// define.
func (s Status) String() string {
	return nx.StatusText(statusNames[s], uint32(s), 2)
}

// Name returns the NetX macro name ("NX_DHCP_NOT_BOUND"), or "".
func (s Status) Name() string { return statusNames[s] }

// State mirrors the NX_DHCP_STATE_* values of the client state machine.
type State uint8

// Client states (nxd_dhcp_client.h), with NetX's values.
const (
	StateNotStarted     State = 0 // NX_DHCP_STATE_NOT_STARTED
	StateBoot           State = 1 // NX_DHCP_STATE_BOOT
	StateInit           State = 2 // NX_DHCP_STATE_INIT
	StateSelecting      State = 3 // NX_DHCP_STATE_SELECTING
	StateRequesting     State = 4 // NX_DHCP_STATE_REQUESTING
	StateBound          State = 5 // NX_DHCP_STATE_BOUND
	StateRenewing       State = 6 // NX_DHCP_STATE_RENEWING
	StateRebinding      State = 7 // NX_DHCP_STATE_REBINDING
	StateForceRenew     State = 8 // NX_DHCP_STATE_FORCERENEW
	StateAddressProbing State = 9 // NX_DHCP_STATE_ADDRESS_PROBING
)

var stateNames = [...]string{
	"NOT_STARTED", "BOOT", "INIT", "SELECTING", "REQUESTING", "BOUND",
	"RENEWING", "REBINDING", "FORCERENEW", "ADDRESS_PROBING",
}

// String returns the NetX name without its prefix ("BOUND").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state %d", uint8(s))
}
