// Package dnsc is the board's DNS client: it mirrors NetX Duo's DNS add-on
// (addons/dns/nxd_dns.c) on a board UDP socket with pool packets, with
// messages encoded and parsed by github.com/miekg/dns.
//
// Start with New (nx_dns_create), give it servers with ServerAdd
// (nxd_dns_server_add) or SetServers (what a DHCP lease brings), then ask
// HostByNameGet (nxd_dns_host_by_name_get). LookupNetIP lets the mail clients
// resolve through the board.
//
//	NetX Duo                               dnsc
//	nx_dns_create / nx_dns_delete          New / (*Client).Delete
//	nx_dns_packet_pool_set                 Options.Pool
//	nxd_dns_server_add / _remove           ServerAdd / ServerRemove
//	nx_dns_server_remove_all               ServerRemoveAll
//	nxd_dns_server_get                     ServerGet
//	nxd_dns_host_by_name_get               HostByNameGet
//	nx_dns_ipv4_address_by_name_get,
//	nxd_dns_ipv6_address_by_name_get       AddressesByNameGet
//	nxd_dns_host_by_address_get            HostByAddressGet
//	nx_dns_cache_initialize                Options.CacheSize, CacheFlush
//	NX_DNS_* statuses (0xA0–0xB7)          Status
//
// # Behaviour kept from NetX
//
// One query at a time per client (the instance mutex). Each query binds the
// socket to a fresh port; the client asks every server in list order, then
// repeats the round (Options.Retries, NX_DNS_MAX_RETRIES = 3 by default),
// doubling the reply timeout after each round up to 64 s
// (NX_DNS_MAX_RETRANS_TIMEOUT). A reply whose ID does not match is dropped
// and the wait goes on (NX_DNS_BAD_ID_ERROR if nothing else came). Replies
// with RCODE set by NetX's NX_DNS_ERROR_MASK (SERVFAIL, NXDOMAIN) give
// NX_DNS_SERVER_AUTH_ERROR for that server, other codes NX_DNS_QUERY_FAILED,
// and like NetX the client goes on to the next server and the next round, so
// NXDOMAIN costs Retries × servers queries. When every attempt failed the
// result is NX_DNS_QUERY_FAILED wrapping the last attempt's cause (an
// *RcodeError, a timeout's nx.ErrNoPacket, ErrMalformedPacket, …).
//
// # Where it differs from NetX, on purpose
//
//   - A reply with TC set is asked again over TCP (a board TCP connection,
//     pool packets); NetX uses what the truncated reply holds, which
//     Options.NoTCPFallback restores. When the server has no TCP service the
//     truncated reply's records are used.
//   - A reply larger than a pool packet arrives as a chain and is read whole;
//     NetX drops chained replies with NX_INVALID_PACKET.
//   - A reply must come from the server's address and port 53; NetX checks
//     only the ID.
//   - NX_NO_WAIT (non-blocking queries completed by nx_dns_response_get) is
//     not mirrored: it is ErrParam.
//
// # Ownership
//
// Each query packet comes from Options.Pool (default the IP's pool) and is
// released by the socket once sent, or by the client when sending fails.
// Replies arrive in packets of the IP's default pool and are released before
// the call returns, on every path, so a lookup leaves every pool as it found
// it.
package dnsc
