// Package packetpool mirrors NetX Duo packet pools (NX_PACKET_POOL) and
// packets (NX_PACKET): fixed-size buffers allocated from a bounded pool,
// chained when data outgrows one buffer, and released back to the pool they
// came from. Every byte that crosses a simboard board is accounted against a
// pool, so Info tells a firmware engineer how large the real pools must be.
//
// Start with New, then Pool.Allocate, Packet.Append and Packet.Release.
//
// # NetX mapping
//
//	NetX Duo                                   simboard
//	nx_packet_pool_create                      New(Options{Name, PayloadSize, Count})
//	  carved from pool_size bytes, as NetX     New(Options{Name, PayloadSize, MemorySize}), (*Pool).Carve
//	  memory_size for the same pool            (*Pool).NetXMemorySize, NetXPacketCount
//	nx_packet_pool_delete                      (*Pool).Delete
//	nx_packet_pool_info_get                    (*Pool).Info (+ LowWater)
//	nx_packet_pool_low_watermark_set           (*Pool).SetLowWatermark, LowWatermark
//	nx_packet_pool_suspended_count             (*Pool).SuspendedCount
//	nx_packet_allocate                         (*Pool).Allocate(ctx, packetType, wait)
//	nx_packet_release                          (*Packet).Release
//	nx_packet_transmit_release                 (*Packet).TransmitRelease
//	nx_packet_data_append                      (*Packet).Append(ctx, data, pool, wait)
//	nx_packet_data_retrieve                    (*Packet).Retrieve
//	nx_packet_data_extract_offset              (*Packet).ExtractOffset
//	nx_packet_copy                             (*Packet).Copy(ctx, pool, wait)
//	_nx_packet_data_adjust                     (*Packet).DataAdjust
//	nx_packet_length_get                       (*Packet).Length
//	packet->nx_packet_next                     (*Packet).Next
//	packet->nx_packet_pool_owner               (*Packet).Pool
//	prepend_ptr..append_ptr                    (*Packet).Bytes, Buffers (zero copy)
//	prepend_ptr -= n (protocol headers)        (*Packet).Prepend, HeaderRoom
//	prepend_ptr += n (trim sent data)          (*Packet).TrimFront
//	NX_PACKET_ENQUEUED / NX_DRIVER_TX_DONE     MarkQueued, UnmarkQueued, ReleaseQueued (netstack only)
//	NX_ENABLE_PACKET_DEBUG_INFO                Options.Debug + (*Pool).Leaks
//	NX_RECEIVE_PACKET, NX_TCP_PACKET, ...      ReceivePacket, TCPPacket, ... (IPv6 build values)
//
// Statuses are nx.Status values wrapped with context:
// errors.Is(err, nx.ErrNoPacket) holds for an empty pool with nx.NoWait.
// Argument checks that NetX does in its _nxe_ layer (NULL pointers and
// buffers, packet_type % 4, empty appends) are always on here, run in the
// same order and return the same statuses; nil receivers return nx.ErrPtr
// instead of panicking.
//
// A context that is done stops every call that would take a packet
// (Allocate, and Append or Copy when they allocate) before it takes one:
// nx.ErrWaitAborted wrapping ctx.Err(), even when packets are free.
//
// # Ownership
//
//   - Allocate and Copy give the caller a packet (a chain head) that the caller
//     must Release, or hand to a service that takes ownership (a successful TCP
//     send). A failed call leaves ownership where it was.
//   - Release returns the whole chain; each buffer goes back to its own pool,
//     even in a chain that mixes pools (Append may chain packets from another
//     pool). Never release a Next buffer on its own, and never use a packet
//     after releasing it: a second Release is nx.ErrPtr and counts an invalid
//     release, as in NetX.
//   - A packet is used by one goroutine at a time. Slices from Bytes and
//     Buffers alias the packet and die with it.
//   - When the pool is empty, allocators that wait are served first-in
//     first-out: Release hands the packet directly to the first waiter
//     (re-initialised with its packet type), without it ever becoming free.
//
// # Memory
//
// A pool is one backing []byte and one slice of pre-allocated Packet headers;
// Allocate and Release do not allocate (they take a lock-free LIFO free
// list, LIFO as NetX's), nor does Append within existing buffers. Waiting
// allocations allocate a small waiter record. Options.MemorySize sizes a
// pool the way nx_packet_pool_create does, from a memory area: Carve tells
// how many packets that area holds on the MCU and how many bytes it wastes.
//
// # Concurrency
//
// A Pool is safe for concurrent use; distinct packets may be used
// concurrently. Lock order: each pool has one mutex and no code holds two;
// a chain that mixes pools is released one pool at a time.
package packetpool
