// Status values transcribed from reference/netxduo.md §0 (common/inc/nx_api.h).

package nx

// NetX Duo status values (common/inc/nx_api.h, "API return values").
// Success is a nil error; Success exists only so ported tables can name it.
const (
	Success               Status = 0x00 // NX_SUCCESS
	ErrNoPacket           Status = 0x01 // NX_NO_PACKET
	ErrUnderflow          Status = 0x02 // NX_UNDERFLOW
	ErrOverflow           Status = 0x03 // NX_OVERFLOW
	ErrNoMapping          Status = 0x04 // NX_NO_MAPPING
	ErrDeleted            Status = 0x05 // NX_DELETED
	ErrPool               Status = 0x06 // NX_POOL_ERROR
	ErrPtr                Status = 0x07 // NX_PTR_ERROR
	ErrWait               Status = 0x08 // NX_WAIT_ERROR
	ErrSize               Status = 0x09 // NX_SIZE_ERROR
	ErrOption             Status = 0x0A // NX_OPTION_ERROR
	ErrDelete             Status = 0x10 // NX_DELETE_ERROR
	ErrCaller             Status = 0x11 // NX_CALLER_ERROR
	ErrInvalidPacket      Status = 0x12 // NX_INVALID_PACKET
	ErrInvalidSocket      Status = 0x13 // NX_INVALID_SOCKET
	ErrNotEnabled         Status = 0x14 // NX_NOT_ENABLED
	ErrAlreadyEnabled     Status = 0x15 // NX_ALREADY_ENABLED
	ErrEntryNotFound      Status = 0x16 // NX_ENTRY_NOT_FOUND
	ErrNoMoreEntries      Status = 0x17 // NX_NO_MORE_ENTRIES
	ErrARPTimer           Status = 0x18 // NX_ARP_TIMER_ERROR
	ErrReservedCode0      Status = 0x19 // NX_RESERVED_CODE0
	ErrWaitAborted        Status = 0x1A // NX_WAIT_ABORTED
	ErrIPInternal         Status = 0x20 // NX_IP_INTERNAL_ERROR
	ErrIPAddress          Status = 0x21 // NX_IP_ADDRESS_ERROR
	ErrAlreadyBound       Status = 0x22 // NX_ALREADY_BOUND
	ErrPortUnavailable    Status = 0x23 // NX_PORT_UNAVAILABLE
	ErrNotBound           Status = 0x24 // NX_NOT_BOUND
	ErrSocketUnbound      Status = 0x26 // NX_SOCKET_UNBOUND
	ErrNotCreated         Status = 0x27 // NX_NOT_CREATED
	ErrSocketsBound       Status = 0x28 // NX_SOCKETS_BOUND
	ErrNoResponse         Status = 0x29 // NX_NO_RESPONSE
	ErrPoolDeleted        Status = 0x30 // NX_POOL_DELETED
	ErrAlreadyReleased    Status = 0x31 // NX_ALREADY_RELEASED
	ErrMaxListen          Status = 0x33 // NX_MAX_LISTEN
	ErrDuplicateListen    Status = 0x34 // NX_DUPLICATE_LISTEN
	ErrNotClosed          Status = 0x35 // NX_NOT_CLOSED
	ErrNotListenState     Status = 0x36 // NX_NOT_LISTEN_STATE
	ErrInProgress         Status = 0x37 // NX_IN_PROGRESS
	ErrNotConnected       Status = 0x38 // NX_NOT_CONNECTED
	ErrWindowOverflow     Status = 0x39 // NX_WINDOW_OVERFLOW
	ErrAlreadySuspended   Status = 0x40 // NX_ALREADY_SUSPENDED
	ErrDisconnectFailed   Status = 0x41 // NX_DISCONNECT_FAILED
	ErrStillBound         Status = 0x42 // NX_STILL_BOUND
	ErrNotSuccessful      Status = 0x43 // NX_NOT_SUCCESSFUL
	ErrUnhandledCommand   Status = 0x44 // NX_UNHANDLED_COMMAND
	ErrNoFreePorts        Status = 0x45 // NX_NO_FREE_PORTS
	ErrInvalidPort        Status = 0x46 // NX_INVALID_PORT
	ErrInvalidRelisten    Status = 0x47 // NX_INVALID_RELISTEN
	ErrConnectionPending  Status = 0x48 // NX_CONNECTION_PENDING
	ErrTXQueueDepth       Status = 0x49 // NX_TX_QUEUE_DEPTH
	ErrNotImplemented     Status = 0x4A // NX_NOT_IMPLEMENTED
	ErrNotSupported       Status = 0x4B // NX_NOT_SUPPORTED
	ErrInvalidInterface   Status = 0x4C // NX_INVALID_INTERFACE
	ErrInvalidParameters  Status = 0x4D // NX_INVALID_PARAMETERS
	ErrNotFound           Status = 0x4E // NX_NOT_FOUND
	ErrCannotStart        Status = 0x4F // NX_CANNOT_START
	ErrNoInterfaceAddress Status = 0x50 // NX_NO_INTERFACE_ADDRESS
	ErrInvalidMTUData     Status = 0x51 // NX_INVALID_MTU_DATA
	ErrDuplicatedEntry    Status = 0x52 // NX_DUPLICATED_ENTRY
	ErrPacketOffset       Status = 0x53 // NX_PACKET_OFFSET_ERROR
	ErrOptionHeader       Status = 0x54 // NX_OPTION_HEADER_ERROR
	ErrContinue           Status = 0x55 // NX_CONTINUE
	ErrTCPIPOffload       Status = 0x56 // NX_TCPIP_OFFLOAD_ERROR
)

var statusNames = map[Status]string{
	Success:               "NX_SUCCESS",
	ErrNoPacket:           "NX_NO_PACKET",
	ErrUnderflow:          "NX_UNDERFLOW",
	ErrOverflow:           "NX_OVERFLOW",
	ErrNoMapping:          "NX_NO_MAPPING",
	ErrDeleted:            "NX_DELETED",
	ErrPool:               "NX_POOL_ERROR",
	ErrPtr:                "NX_PTR_ERROR",
	ErrWait:               "NX_WAIT_ERROR",
	ErrSize:               "NX_SIZE_ERROR",
	ErrOption:             "NX_OPTION_ERROR",
	ErrDelete:             "NX_DELETE_ERROR",
	ErrCaller:             "NX_CALLER_ERROR",
	ErrInvalidPacket:      "NX_INVALID_PACKET",
	ErrInvalidSocket:      "NX_INVALID_SOCKET",
	ErrNotEnabled:         "NX_NOT_ENABLED",
	ErrAlreadyEnabled:     "NX_ALREADY_ENABLED",
	ErrEntryNotFound:      "NX_ENTRY_NOT_FOUND",
	ErrNoMoreEntries:      "NX_NO_MORE_ENTRIES",
	ErrARPTimer:           "NX_ARP_TIMER_ERROR",
	ErrReservedCode0:      "NX_RESERVED_CODE0",
	ErrWaitAborted:        "NX_WAIT_ABORTED",
	ErrIPInternal:         "NX_IP_INTERNAL_ERROR",
	ErrIPAddress:          "NX_IP_ADDRESS_ERROR",
	ErrAlreadyBound:       "NX_ALREADY_BOUND",
	ErrPortUnavailable:    "NX_PORT_UNAVAILABLE",
	ErrNotBound:           "NX_NOT_BOUND",
	ErrSocketUnbound:      "NX_SOCKET_UNBOUND",
	ErrNotCreated:         "NX_NOT_CREATED",
	ErrSocketsBound:       "NX_SOCKETS_BOUND",
	ErrNoResponse:         "NX_NO_RESPONSE",
	ErrPoolDeleted:        "NX_POOL_DELETED",
	ErrAlreadyReleased:    "NX_ALREADY_RELEASED",
	ErrMaxListen:          "NX_MAX_LISTEN",
	ErrDuplicateListen:    "NX_DUPLICATE_LISTEN",
	ErrNotClosed:          "NX_NOT_CLOSED",
	ErrNotListenState:     "NX_NOT_LISTEN_STATE",
	ErrInProgress:         "NX_IN_PROGRESS",
	ErrNotConnected:       "NX_NOT_CONNECTED",
	ErrWindowOverflow:     "NX_WINDOW_OVERFLOW",
	ErrAlreadySuspended:   "NX_ALREADY_SUSPENDED",
	ErrDisconnectFailed:   "NX_DISCONNECT_FAILED",
	ErrStillBound:         "NX_STILL_BOUND",
	ErrNotSuccessful:      "NX_NOT_SUCCESSFUL",
	ErrUnhandledCommand:   "NX_UNHANDLED_COMMAND",
	ErrNoFreePorts:        "NX_NO_FREE_PORTS",
	ErrInvalidPort:        "NX_INVALID_PORT",
	ErrInvalidRelisten:    "NX_INVALID_RELISTEN",
	ErrConnectionPending:  "NX_CONNECTION_PENDING",
	ErrTXQueueDepth:       "NX_TX_QUEUE_DEPTH",
	ErrNotImplemented:     "NX_NOT_IMPLEMENTED",
	ErrNotSupported:       "NX_NOT_SUPPORTED",
	ErrInvalidInterface:   "NX_INVALID_INTERFACE",
	ErrInvalidParameters:  "NX_INVALID_PARAMETERS",
	ErrNotFound:           "NX_NOT_FOUND",
	ErrCannotStart:        "NX_CANNOT_START",
	ErrNoInterfaceAddress: "NX_NO_INTERFACE_ADDRESS",
	ErrInvalidMTUData:     "NX_INVALID_MTU_DATA",
	ErrDuplicatedEntry:    "NX_DUPLICATED_ENTRY",
	ErrPacketOffset:       "NX_PACKET_OFFSET_ERROR",
	ErrOptionHeader:       "NX_OPTION_HEADER_ERROR",
	ErrContinue:           "NX_CONTINUE",
	ErrTCPIPOffload:       "NX_TCPIP_OFFLOAD_ERROR",
}
