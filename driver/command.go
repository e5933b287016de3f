package driver

import "fmt"

// Command is a NetX driver command (NX_LINK_*, nx_ip_driver_command); values
// are those of common/inc/nx_api.h (reference netxduo.md §3.2).
type Command uint32

// NX_LINK_* command values.
const (
	LinkPacketSend         Command = 0  // NX_LINK_PACKET_SEND (use Driver.Send)
	LinkInitialize         Command = 1  // NX_LINK_INITIALIZE
	LinkEnable             Command = 2  // NX_LINK_ENABLE
	LinkDisable            Command = 3  // NX_LINK_DISABLE
	LinkPacketBroadcast    Command = 4  // NX_LINK_PACKET_BROADCAST (use Driver.Send)
	LinkARPSend            Command = 5  // NX_LINK_ARP_SEND (use Driver.Send)
	LinkARPResponseSend    Command = 6  // NX_LINK_ARP_RESPONSE_SEND (use Driver.Send)
	LinkRARPSend           Command = 7  // NX_LINK_RARP_SEND (use Driver.Send)
	LinkMulticastJoin      Command = 8  // NX_LINK_MULTICAST_JOIN
	LinkMulticastLeave     Command = 9  // NX_LINK_MULTICAST_LEAVE
	LinkGetStatus          Command = 10 // NX_LINK_GET_STATUS
	LinkGetSpeed           Command = 11 // NX_LINK_GET_SPEED
	LinkGetDuplexType      Command = 12 // NX_LINK_GET_DUPLEX_TYPE
	LinkGetErrorCount      Command = 13 // NX_LINK_GET_ERROR_COUNT
	LinkGetRxCount         Command = 14 // NX_LINK_GET_RX_COUNT
	LinkGetTxCount         Command = 15 // NX_LINK_GET_TX_COUNT
	LinkGetAllocErrors     Command = 16 // NX_LINK_GET_ALLOC_ERRORS
	LinkUninitialize       Command = 17 // NX_LINK_UNINITIALIZE
	LinkDeferredProcessing Command = 18 // NX_LINK_DEFERRED_PROCESSING
	LinkInterfaceAttach    Command = 19 // NX_LINK_INTERFACE_ATTACH
	LinkSetPhysicalAddress Command = 20 // NX_LINK_SET_PHYSICAL_ADDRESS
	InterfaceCapabilityGet Command = 21 // NX_INTERFACE_CAPABILITY_GET
	InterfaceCapabilitySet Command = 22 // NX_INTERFACE_CAPABILITY_SET
	LinkInterfaceDetach    Command = 23 // NX_LINK_INTERFACE_DETACH
	LinkFactoryAddressGet  Command = 24 // NX_LINK_FACTORY_ADDRESS_GET
	LinkRxEnable           Command = 25 // NX_LINK_RX_ENABLE
	LinkRxDisable          Command = 26 // NX_LINK_RX_DISABLE
	Link6LoWPANCommand     Command = 27 // NX_LINK_6LOWPAN_COMMAND
	LinkGetInterfaceType   Command = 28 // NX_LINK_GET_INTERFACE_TYPE
	LinkRawPacketSend      Command = 29 // NX_LINK_RAW_PACKET_SEND (use Driver.SendFrame)
	LinkUserCommand        Command = 50 // NX_LINK_USER_COMMAND: first application-defined command
)

// Interface types returned by LinkGetInterfaceType (NX_INTERFACE_TYPE_*).
const (
	InterfaceTypeUnknown   = 0 // NX_INTERFACE_TYPE_UNKNOWN
	InterfaceTypeOther     = 1 // NX_INTERFACE_TYPE_OTHER
	InterfaceTypeEthernet  = 2 // NX_INTERFACE_TYPE_ETHERNET
	InterfaceTypeWiFi      = 3 // NX_INTERFACE_TYPE_WIFI
	InterfaceTypeCellular  = 4 // NX_INTERFACE_TYPE_CELLULAR
	InterfaceTypeBluetooth = 5 // NX_INTERFACE_TYPE_BLUETOOTH
	InterfaceTypeLoRaWAN   = 6 // NX_INTERFACE_TYPE_LORAWAN
)

// Duplex values returned by LinkGetDuplexType. NetX leaves the encoding to
// each driver; these follow the common MCU drivers (0 = half, 1 = full).
const (
	DuplexHalf = 0
	DuplexFull = 1
)

// MaxMulticast is the size of the driver's multicast table, as in NetX's
// RAM driver (NX_NO_MORE_ENTRIES when full).
const MaxMulticast = 3

var commandNames = map[Command]string{
	LinkPacketSend:         "NX_LINK_PACKET_SEND",
	LinkInitialize:         "NX_LINK_INITIALIZE",
	LinkEnable:             "NX_LINK_ENABLE",
	LinkDisable:            "NX_LINK_DISABLE",
	LinkPacketBroadcast:    "NX_LINK_PACKET_BROADCAST",
	LinkARPSend:            "NX_LINK_ARP_SEND",
	LinkARPResponseSend:    "NX_LINK_ARP_RESPONSE_SEND",
	LinkRARPSend:           "NX_LINK_RARP_SEND",
	LinkMulticastJoin:      "NX_LINK_MULTICAST_JOIN",
	LinkMulticastLeave:     "NX_LINK_MULTICAST_LEAVE",
	LinkGetStatus:          "NX_LINK_GET_STATUS",
	LinkGetSpeed:           "NX_LINK_GET_SPEED",
	LinkGetDuplexType:      "NX_LINK_GET_DUPLEX_TYPE",
	LinkGetErrorCount:      "NX_LINK_GET_ERROR_COUNT",
	LinkGetRxCount:         "NX_LINK_GET_RX_COUNT",
	LinkGetTxCount:         "NX_LINK_GET_TX_COUNT",
	LinkGetAllocErrors:     "NX_LINK_GET_ALLOC_ERRORS",
	LinkUninitialize:       "NX_LINK_UNINITIALIZE",
	LinkDeferredProcessing: "NX_LINK_DEFERRED_PROCESSING",
	LinkInterfaceAttach:    "NX_LINK_INTERFACE_ATTACH",
	LinkSetPhysicalAddress: "NX_LINK_SET_PHYSICAL_ADDRESS",
	InterfaceCapabilityGet: "NX_INTERFACE_CAPABILITY_GET",
	InterfaceCapabilitySet: "NX_INTERFACE_CAPABILITY_SET",
	LinkInterfaceDetach:    "NX_LINK_INTERFACE_DETACH",
	LinkFactoryAddressGet:  "NX_LINK_FACTORY_ADDRESS_GET",
	LinkRxEnable:           "NX_LINK_RX_ENABLE",
	LinkRxDisable:          "NX_LINK_RX_DISABLE",
	Link6LoWPANCommand:     "NX_LINK_6LOWPAN_COMMAND",
	LinkGetInterfaceType:   "NX_LINK_GET_INTERFACE_TYPE",
	LinkRawPacketSend:      "NX_LINK_RAW_PACKET_SEND",
}

// String returns the NetX macro name, "NX_LINK_USER_COMMAND+N" for user
// commands, or "command N".
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	if c >= LinkUserCommand {
		return fmt.Sprintf("NX_LINK_USER_COMMAND+%d", uint32(c-LinkUserCommand))
	}
	return fmt.Sprintf("command %d", uint32(c))
}
