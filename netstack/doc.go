// Package netstack is the board's IP instance: NetX Duo's NX_IP, TCP and UDP
// sockets on packets, over gVisor's userspace TCP/IP. It is the only package
// that imports gvisor.dev; no gVisor type appears in its API.
//
// Start with New (an IP on a driver.Driver and a default packet pool), then
// TCPSocketCreate, ClientBind, Connect, Send, Receive, Disconnect.
//
// # NetX mapping
//
//	NetX Duo                              simboard
//	nx_ip_create (+ arp/icmp/tcp/udp_enable)  New(Options{Pool, Driver, Addr, ...})
//	nx_ip_delete                          (*IP).Close
//	nx_ip_info_get                        (*IP).Info
//	nx_ip_status_check                    (*IP).StatusCheck(ctx, bits, wait)
//	nx_ip_driver_direct_command           (*IP).DirectCommand
//	nx_tcp_socket_create                  (*IP).TCPSocketCreate(name, window)
//	nx_tcp_client_socket_bind             (*TCPSocket).ClientBind(ctx, port, wait)
//	nxd_tcp_client_socket_connect         (*TCPSocket).Connect(ctx, addrport, wait)
//	nx_tcp_socket_send                    (*TCPSocket).Send(ctx, pkt, wait)
//	nx_tcp_socket_receive                 (*TCPSocket).Receive(ctx, wait)
//	nx_tcp_socket_disconnect              (*TCPSocket).Disconnect(ctx, wait)
//	nx_tcp_client_socket_unbind           (*TCPSocket).ClientUnbind
//	nx_tcp_socket_delete                  (*TCPSocket).Delete
//	nx_tcp_socket_info_get                (*TCPSocket).Info
//	nx_tcp_server_socket_listen           (*IP).ServerListen(port, sock, backlog)
//	nx_tcp_server_socket_accept           (*TCPSocket).ServerAccept(ctx, wait)
//	nx_tcp_server_socket_relisten         (*IP).ServerRelisten
//	nx_tcp_server_socket_unaccept         (*TCPSocket).ServerUnaccept
//	nx_tcp_server_socket_unlisten         (*IP).ServerUnlisten
//	nx_udp_socket_create/bind/receive     (*IP).UDPSocketCreate, (*UDPSocket).Bind/Receive
//	nxd_udp_socket_send                   (*UDPSocket).Send(ctx, pkt, addrport)
//
// Go adapters: NewConn/DialTCP give a net.Conn and ListenTCP a net.Listener
// over the same sockets, so crypto/tls, emersion/go-smtp and net/textproto
// run on a board.
//
// # ARP timing (as in NetX)
//
// An unresolved IPv4 neighbour gets an ARP request at once, then one every
// NX_ARP_UPDATE_RATE (10 s) up to NX_ARP_MAXIMUM_RETRIES (18) more times
// before it is given up (190 s); a resolved entry does not expire
// (NX_ARP_EXPIRATION_RATE 0). gVisor's own defaults (3 requests 1 s apart)
// would give up on a peer 2 s away each way. IPv6 neighbour discovery keeps
// gVisor's RFC 4861 timing, which matches NetX Duo's nx_nd_cache.h defaults
// (3 solicitations 1 s apart, 30 s reachable, 5 s before the first probe).
//
// # Ownership (as in NetX)
//
//   - Receive returns a packet from the IP's default pool; the caller
//     releases it.
//   - A successful Send takes the packet: the socket keeps it on its
//     transmit queue until the peer acknowledges its last byte, then
//     releases it (NetX's retransmit queue). A failed Send leaves the packet
//     with the caller, trimmed to the unsent part; the caller releases it.
//   - At most TCPOptions.MaxTxQueue (NX_TCP_MAXIMUM_TX_QUEUE, 20) packets wait
//     for acknowledgement; then Send waits and reports NX_TX_QUEUE_DEPTH.
//   - Disconnect(NoWait) resets the connection (RST) and returns
//     NX_IN_PROGRESS; every disconnect releases the transmit queue and wakes
//     blocked senders and receivers.
//   - When a connection dies by itself (peer RST, retransmission timeout
//     after TCPOptions.MaxRetries) its transmit queue goes back to the pool
//     at once and blocked callers wake, as _nx_tcp_socket_connection_reset
//     does; later Sends fail with NX_NOT_CONNECTED without waiting. Queued
//     receive data can still be read; Disconnect or unbind is still needed.
//
// # Cancellation
//
// Every call that would put bytes or segments on the wire (Send, Connect,
// Disconnect with a wait, UDP Send) checks its context first: once the
// context is done nothing of it leaves the board, even with an open window
// and free packets. The error is NX_WAIT_ABORTED and also matches the
// context's error (errors.Is(err, context.DeadlineExceeded)); the packet
// stays with the caller. Disconnect on a done context resets instead of
// sending a FIN, so the peer does not take the exchange for complete.
//
// # Closing
//
// The side that closes first stays in TIME_WAIT for 2MSL
// (TCPOptions.TimeWait), with Info().State == StateTimedWait, as a NetX
// socket stays NX_TCP_TIMED_WAIT. A connection that has finished its FIN
// exchange is never followed by a RST: when the IP is closed or its fixed
// port connects again, the TIME_WAIT ends quietly, as NetX's unbind and
// nx_ip_delete end it. Closing the IP under a live connection still resets
// it.
//
// # Data path
//
// Outbound frames go from gVisor into a ring of reusable frame buffers and
// one transmit goroutine writes them to the driver; when the ring is full,
// gVisor's writer waits (back-pressure). Nothing is dropped silently between
// the stack and the wire, so the Wire's impairments are the only loss (with
// SACK+RACK, silent drops cost 200 ms RTO storms: reference/anchors.md §7).
// Inbound frames come from the driver as packets of its receive pool (no
// packet free = frame dropped and counted, like a MAC), are copied into
// gVisor and released. The receive goroutine also reads each TCP header's
// acknowledgement number so the transmit queue can release what the peer
// acknowledged.
//
// # MCU-like TCP defaults (a deliberate choice)
//
// gVisor defaults to 1 MiB socket buffers; an MCU has tens of kilobytes.
// The zero TCPOptions give each socket a 64 KiB send buffer and a 64 KiB
// receive window (TCPSocketCreate's window overrides it per socket, as NetX's
// window_size does), receive-buffer auto-tuning off, SACK on, gVisor's RACK
// loss detection and 200 ms minimum RTO, and a 20-packet transmit queue.
package netstack
