// Package driver is the NetX Duo driver layer of a simboard board: the
// network device (Link), the in-memory Ethernet switch with impairments
// (Wire), the Linux TAP device (TAP), the pcap recorder (Capture), and the
// NetX driver itself (Driver): a Link plus a receive packet pool, statistics
// and the NX_LINK_* commands.
//
// Start with NewWire and Attach for two boards in one process, or OpenTAP
// for a board the host kernel can talk to; wrap either in NewCapture to get
// a Wireshark trace; then hand the Link to New with the board's receive
// pool. netstack drives the Driver.
//
// # NetX mapping
//
//	NetX Duo                                   simboard
//	VOID driver(NX_IP_DRIVER *req)             *Driver
//	NX_LINK_PACKET_SEND / _BROADCAST /
//	  _ARP_SEND / _ARP_RESPONSE_SEND /
//	  _RARP_SEND (packet with link header)     (*Driver).Send(pkt): one frame, then TransmitRelease
//	NX_LINK_RAW_PACKET_SEND                    (*Driver).SendFrame(bytes)
//	_nx_ip_packet_deferred_receive (ISR side)  (*Driver).Receive(ctx): frame -> NX_RECEIVE_PACKET chain
//	nx_ip_driver_direct_command(ip, cmd, &ret) (*Driver).DirectCommand(cmd, arg) (ret, error)
//	NX_LINK_INITIALIZE (1) / _UNINITIALIZE (17) DirectCommand(LinkInitialize / LinkUninitialize)
//	NX_LINK_ENABLE (2) / NX_LINK_DISABLE (3)   DirectCommand(LinkEnable / LinkDisable): drop rx and tx while disabled
//	NX_LINK_MULTICAST_JOIN (8) / _LEAVE (9)    DirectCommand(LinkMulticastJoin, lsw), (*Driver).MulticastJoin(mac);
//	                                           3-entry table: NX_NO_MORE_ENTRIES / NX_ENTRY_NOT_FOUND
//	NX_LINK_GET_STATUS (10)                    1 = enabled and carrier (Link.LinkUp)
//	NX_LINK_GET_SPEED (11)                     Mbit/s of a rate-limited Port, else 0
//	NX_LINK_GET_DUPLEX_TYPE (12)               DuplexFull
//	NX_LINK_GET_ERROR_COUNT (13)               Stats.Errors
//	NX_LINK_GET_RX_COUNT (14)                  Stats.RxFrames
//	NX_LINK_GET_TX_COUNT (15)                  Stats.TxFrames
//	NX_LINK_GET_ALLOC_ERRORS (16)              Stats.AllocErrors
//	NX_LINK_DEFERRED_PROCESSING (18)           no-op (Receive runs at thread level)
//	NX_LINK_GET_INTERFACE_TYPE (28)            InterfaceTypeEthernet
//	NX_LINK_USER_COMMAND (50+)                 Options.UserCommand
//	any other command                          nx.ErrUnhandledCommand
//	_nx_ram_network_driver (RAM driver)        Wire + Port (with loss, duplicate, reorder, delay, rate)
//	nx_ram_network_driver_test advanced
//	  callback: DROP / DELAY / DUPLICATE        Impairments{Loss, Delay, Duplicate}
//	nx_pcap_network_driver / NX_PCAP_ENABLE    TAP (real kernel peer) / Capture (pcap trace)
//
// Status codes are nx.Status values wrapped with context, so
// errors.Is(err, nx.ErrUnhandledCommand) holds. Link errors after Close
// wrap ErrClosed (itself wrapping net.ErrClosed).
//
// # Ownership
//
//   - Receive gives the caller a packet (chain) from the receive pool; the
//     caller releases it. A frame that finds the pool empty is dropped and
//     counted (Stats.AllocErrors); Receive never waits for a packet.
//   - Send always takes the packet: it is released with TransmitRelease
//     after the frame is written, and on failure too, as a NetX driver does.
//   - Link.WriteFrame never retains the frame; Link.ReadFrame copies into
//     the caller's buffer.
//   - The Driver owns its Link (Close closes it); a Capture owns the Link it
//     wraps but not its io.Writer; a Wire owns its Ports.
//
// # Loss
//
// Nothing in this package drops a frame silently. Every drop has a counter:
// Port Stats (Drops.Loss, QueueFull, LinkDown, Oversize, Malformed) and
// Driver Stats (AllocErrors, RxDropped, TxDropped, RxFiltered). A Wire with
// no impairments never drops: it applies back-pressure (see Wire).
//
// # Goroutines
//
// Each Port runs one scheduler goroutine (delay, jitter, rate, reorder),
// joined by Port.Close and Wire.Close. A Driver over a link that cannot
// read with a context (a TAP) runs one receive pump goroutine, joined by
// Driver.Close. Nothing else starts goroutines.
package driver
