// Package sntpc is the board's SNTP client: it mirrors NetX Duo's SNTP
// add-on (addons/sntp/nxd_sntp_client.c) in unicast mode, on a board UDP
// socket with pool packets, using the NTP packet format (RFC 4330/5905, the
// layout github.com/beevik/ntp reads) encoded here in Packet.
//
//	NetX Duo                                 sntpc
//	nx_sntp_client_create / _delete          New / (*Client).Delete
//	nxd_sntp_client_initialize_unicast       InitializeUnicast
//	nx_sntp_client_run_unicast / _stop       RunUnicast / Stop
//	nx_sntp_client_get_local_time            LocalTime (and Now, Offset)
//	nx_sntp_client_receiving_updates         ReceivingUpdates
//	nx_sntp_client_set_time_update_notify    Options.TimeUpdate
//	kiss_of_death_handler, leap_second_handler  Options.KissOfDeath, Options.LeapSecond
//	NX_SNTP_* statuses (0xD01–0xD45)         Status
//
// The board's wall time is its free-running clock (Options.Clock, the IP's
// clock by default) plus the offset the last valid reply measured
// (((t2−t1)+(t3−t4))/2). Now is the hook the mail clients take for the Date
// header. RequestUpdate performs one request/reply synchronously, for a boot
// sequence that needs the time before going on; RunUnicast runs NetX's
// client thread as a goroutine: a request at once, then every PollInterval,
// backing off while updates fail.
//
// # Sanity checks, in NetX's order
//
// A reply that is not from the server's address and port 123, or not 48–68
// bytes long, is dropped and the wait goes on. Then: a duplicate of the last
// reply (ErrDupeServerPacket), mode other than 4 (ErrInvalidServerMode),
// version other than 3 (ErrInvalidNTPVersion), leap indicator 3
// (ErrServerClockNotSync), stratum 0 = kiss-o'-death (a *KissError with the
// code; without a handler ErrKODServerNotAvailable), stratum above
// Options.MaxStratum (2, as NetX: raise it for a local ntpd/chrony),
// zero timestamps or transmit before receive (ErrInvalidTimestamp), a
// root dispersion over 50 ms on the first update
// (ErrBadServerRootDispersion), and after the first update a step beyond
// MaxAdjustment (ErrInvalidTime).
//
// One check is added to NetX's: the reply's origin timestamp must equal the
// request's transmit timestamp (RFC 4330 §5), else ErrInvalidTimestamp; NetX
// checks only that it is not zero, so it would accept a stale or spoofed
// reply.
//
// # Ownership
//
// Each request takes one packet from Options.Pool, released by the socket
// once sent (or by the client if sending fails). Replies arrive in packets of
// the IP's default pool and are released before RequestUpdate returns, on
// every path. Stop and Delete join the polling goroutine.
package sntpc
