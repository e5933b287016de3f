// Package dhcpc is NetX Duo's DHCP client add-on (addons/dhcp/nxd_dhcp_client.c)
// on a simboard board: DISCOVER, OFFER, REQUEST and ACK on the board's own UDP
// socket (port 68) with packets from its own pool, NetX's retransmission and
// renewal timing on an injectable clock, and the lease applied to the IP
// instance. Messages are encoded and decoded with
// github.com/insomniacslk/dhcp/dhcpv4; the state machine is a port of NetX's.
//
// Start with New, Start and WaitBound:
//
//	c, _ := dhcpc.New(dhcpc.Options{IP: ip, Name: "board", RequestOptions: []uint8{42, 15}})
//	_ = c.Start()
//	lease, err := c.WaitBound(ctx, nx.Seconds(10))
//
// # NetX mapping
//
//	nx_dhcp_create                  New
//	nx_dhcp_packet_pool_set         Options.Pool (nil: the client's own 5-packet pool)
//	nx_dhcp_start / nx_dhcp_stop    (*Client).Start / Stop
//	nx_dhcp_release                 (*Client).Release
//	nx_dhcp_decline                 (*Client).Decline
//	nx_dhcp_reinitialize            (*Client).Reinitialize
//	nx_dhcp_delete                  (*Client).Close
//	nx_dhcp_state_change_notify     Options.StateChange, (*Client).StateChangeNotify
//	nx_dhcp_user_option_request     Options.RequestOptions
//	nx_dhcp_user_option_retrieve    (*Client).UserOptionRetrieve
//	nx_dhcp_user_option_convert     UserOptionConvert
//	nx_dhcp_server_address_get      (*Client).ServerAddressGet
//	nx_dhcp_request_client_ip       Options.RequestedAddress, Options.SkipDiscover
//	nx_dhcp_clear_broadcast_flag    Options.ClearBroadcast
//	NX_DHCP_CLIENT_SEND_ARP_PROBE   Options.ARPProbe
//	nx_ip_status_check(ADDRESS_RESOLVED) loop   (*Client).WaitBound
//
// # Timing (ticks of 10 ms, as NetX)
//
// The client's timer ticks once a second (NX_DHCP_TIME_INTERVAL). The first
// DISCOVER goes out one second after Start; DISCOVER and REQUEST are resent
// after 4 s, doubling to 64 s (NX_DHCP_MIN/MAX_RETRANS_TIMEOUT), each ±1 s at
// random (NX_RAND). T1 defaults to half the lease and T2 to 7/8; at T1 the
// REQUEST is unicast to the server, then resent after half the time left
// before T2, never less than 60 s (NX_DHCP_MIN_RENEW_TIMEOUT); at T2 it is
// broadcast the same way until the lease ends, when the address is removed
// and the client starts over from INIT. A NAK restarts from INIT after 1 s; a
// DECLINE after NX_DHCP_RESTART_WAIT (10 s).
//
// # Statuses
//
// Status holds NetX's DHCP codes (0x90–0xA8). Start returns
// ErrAlreadyStarted, Stop ErrNotStarted, Release, Decline, Lease and
// UserOptionRetrieve ErrNotBound before the first ACK. WaitBound returns
// ErrNoResponse when no server ever answered, and otherwise ErrNotBound
// wrapping the last refusal: a NAK, a reply refused by the checks
// (ErrInvalidMessage for a lease of 0 s, ErrBadIPAddress for a bad address),
// an offered address another host answered for in the ARP probe
// (ErrBadIPAddress with nx.ErrDuplicatedEntry).
//
// # Ownership
//
// Every message the client sends is built in a packet from its pool and the
// socket releases it once sent; a failed send releases it at once. Each
// received datagram is copied into a pool packet and the original (from the
// IP's default pool) released, as _nx_dhcp_packet_process does; the copy is
// released when the message has been handled. Stop, Release, Reinitialize and
// Close join the client's goroutines and release any datagram still queued.
//
// # Where it differs from NetX Duo
//
//   - A lease of 0 s is refused (NetX binds with T1 = T2 = 0 and, as its timer
//     skips a zero timeout, keeps the address for ever).
//   - Replies with a non-contiguous subnet mask or a router outside class
//     A/B/C are refused, not applied.
//   - With no subnet mask option the classful mask is used (NetX keeps
//     whatever mask the interface had).
//   - The ARP probe runs on the stack's timer (gVisor's duplicate address
//     detection, RFC 5227 probes with sender 0.0.0.0), ProbeCount probes
//     ProbeInterval apart, not NetX's random 1–2 s spacing.
//   - Release resolves the server's MAC before sending the DHCPRELEASE, since
//     the address is removed right after it.
//   - With ClearBroadcast the interface accepts datagrams to any address
//     until BOUND (gVisor would drop a reply unicast to the offered address).
//   - One interface only (NetX's multi-interface records are not mirrored).
package dhcpc
