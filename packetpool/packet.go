package packetpool

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/simboard/simboard/nx"
)

// Packet state markers (nx_packet_union_next.nx_packet_tcp_queue_next in
// NetX, common/inc/nx_packet.h).
const (
	stateFree      uint32 = 0xFFFFFFFF // NX_PACKET_FREE: on the pool's free list
	stateAllocated uint32 = 0xAAAAAAAA // NX_PACKET_ALLOCATED: owned by a user
	stateQueued    uint32 = 0xEEEEEEEE // NX_PACKET_ENQUEUED: owned by a TCP queue
)

// Packet mirrors NX_PACKET: one fixed-size buffer of a pool, with a window of
// valid bytes (prepend..append) and a link to the next buffer of its chain.
// The head packet of a chain carries the chain's total length and a pointer
// to its last buffer.
//
// A Packet is owned by one goroutine at a time: whoever allocated or received
// it, until it is released or handed to a service that takes ownership.
// Methods on distinct packets are safe to call concurrently; methods on one
// packet are not, except Pool, which never changes.
type Packet struct {
	pool     *Pool
	next     *Packet       // nx_packet_next: next buffer of the chain
	last     *Packet       // nx_packet_last (head only): buffer receiving appends, nil for one buffer
	freeNext atomic.Uint32 // free list link: slot + 1 of the packet below, 0 at the bottom
	buf      []byte        // data_start..data_end (len == cap == payload size)
	prepend  int           // nx_packet_prepend_ptr - data_start
	app      int           // nx_packet_append_ptr - data_start
	length   int           // nx_packet_length (head only): bytes in the whole chain
	index    int
	state    uint32  // NX_PACKET_FREE/ALLOCATED/ENQUEUED: written by the owner (see checkOwned)
	txDone   bool    // NX_DRIVER_TX_DONE (guarded by pool.mu)
	site     uintptr // allocation site, Debug pools only (guarded by pool.mu)
}

// reset re-initialises a packet as nx_packet_allocate does.
//
// It leaves next and last alone: every free packet already has both nil
// (Release and releaseChain clear them), which spares Allocate two pointer
// stores and their write-barrier checks.
func (pk *Packet) reset(packetType int) {
	pk.prepend, pk.app, pk.length = packetType, packetType, 0
	pk.txDone = false
}

// checkOwned returns nil when pk is a live packet its caller may use: not
// nil, from a pool, and allocated (not free).
//
// It reads the state without the pool mutex. That is safe for a caller that
// owns pk: the state only changes through its owner, and ownership passes
// between goroutines with a happens-before edge (the free list's atomics, a
// channel, a mutex). A caller using a packet it released, while another
// goroutine re-allocates it, races, and the race detector reports that
// misuse. Keeping state a plain field keeps Allocate and Release to one
// compare-and-swap each.
func (pk *Packet) checkOwned(op string) error {
	if pk == nil || pk.pool == nil {
		return errNilPacket
	}
	if pk.state == stateFree {
		return fmt.Errorf("packetpool: pool %q: %s: packet %d is not allocated: %w", pk.pool.name, op, pk.index, nx.ErrPtr)
	}
	return nil
}

// Pool returns the packet's owner pool (nx_packet_pool_owner); nil for a nil
// packet. Safe for concurrent use.
func (pk *Packet) Pool() *Pool {
	if pk == nil {
		return nil
	}
	return pk.pool
}

// Next returns the next buffer of the chain (nx_packet_next), nil at the end.
// It belongs to the same chain: release the head, never a Next.
func (pk *Packet) Next() *Packet {
	if pk == nil {
		return nil
	}
	return pk.next
}

// Length mirrors nx_packet_length_get: the number of valid bytes in the whole
// chain, read from the head. A nil packet has length 0.
func (pk *Packet) Length() int {
	if pk == nil {
		return 0
	}
	return pk.length
}

// HeaderRoom returns the bytes of room in front of this buffer's valid bytes
// (prepend_ptr - data_start): the packet type it was allocated with, less
// what Prepend has used, plus what TrimFront has dropped. Prepend can write
// up to HeaderRoom bytes.
func (pk *Packet) HeaderRoom() int {
	if pk == nil {
		return 0
	}
	return pk.prepend
}

// Bytes returns this buffer's valid bytes (prepend..append) only, aliasing
// the packet's memory: it is valid until the packet is released, and its
// capacity ends at the valid bytes, so append on it never writes into the
// packet. For the whole chain use Buffers or Retrieve.
func (pk *Packet) Bytes() []byte {
	if pk == nil || pk.buf == nil {
		return nil
	}
	return pk.buf[pk.prepend:pk.app:pk.app]
}

// Buffers returns a zero-copy iterator over the valid bytes of every buffer
// of the chain, head first (empty buffers are skipped). The slices alias the
// packets, as Bytes does.
func (pk *Packet) Buffers() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for q := pk; q != nil; q = q.next {
			if q.app == q.prepend {
				continue
			}
			if !yield(q.buf[q.prepend:q.app:q.app]) {
				return
			}
		}
	}
}

// Release mirrors nx_packet_release: it returns every buffer of the chain to
// its own owner pool (a chain may mix pools), or hands it directly to the
// first allocator suspended on that pool. The caller must not use pk or any
// buffer of its chain afterwards.
//
// A buffer that is not allocated (already released, or queued by a TCP
// queue: see MarkQueued) stops the walk with nx.ErrPtr and counts an invalid
// release on its pool; buffers before it are already released, as in NetX.
// nx.ErrPtr is also returned for a nil packet or a deleted owner pool. Does
// not block; safe for concurrent use on distinct packets.
func (pk *Packet) Release() error {
	if pk == nil || pk.pool == nil {
		return errNilPacket
	}
	// The common case, one buffer on a pool that is not Debug: give and
	// push written out here to save two calls.
	if p := pk.pool; pk.next == nil && pk.state == stateAllocated && !p.debug && !p.deleted.Load() {
		if pk.last != nil { // only a hand-edited chain has last without next
			pk.last = nil
		}
		pk.state = stateFree
		for ; ; backoff() {
			h := p.head.Load()
			setLink(pk, uint32(h&slotMask))
			if p.head.CompareAndSwap(h, uint64(pk.index+1)|(h>>countShift&slotMask+1)<<countShift|(h>>tagShift+1)<<tagShift) {
				break
			}
		}
		if p.suspended.Load() != 0 {
			p.handOffFree(false)
		}
		return nil
	}
	return releaseChain(pk)
}

func releaseChain(pk *Packet) error {
	head := true
	for pk != nil {
		p := pk.pool
		if p == nil {
			// A buffer with no owner (nx_packet_pool_owner NULL): NetX
			// stops with NX_PTR_ERROR and counts nothing, having no pool.
			return errNilPacket
		}
		if head && p.deleted.Load() {
			return p.errDeleted
		}
		head = false
		// A Debug pool's markers and sites are guarded by its mutex, so
		// Leaks can read them while others release.
		locked := p.debug
		if locked {
			p.mu.Lock()
		}
		// Unlink the run of buffers owned by p, mark each free and link it
		// for the free list; the run then goes back with one push.
		var first, last *Packet
		n := 0
		for pk != nil && pk.pool == p && pk.state == stateAllocated {
			next := pk.next
			pk.next, pk.last, pk.txDone = nil, nil, false
			pk.state = stateFree
			if last == nil {
				first = pk
			} else {
				setLink(last, uint32(pk.index+1))
			}
			last = pk
			n++
			pk = next
		}
		if n > 0 {
			p.give(first, last, n, locked)
		}
		if pk != nil && pk.pool == p {
			// Not allocated: free already, or held by a TCP queue.
			if !locked {
				p.mu.Lock()
			}
			p.invalidReleases++
			p.mu.Unlock()
			return p.errInvalidRelease
		}
		if locked {
			p.mu.Unlock()
		}
	}
	return nil
}

// TransmitRelease mirrors nx_packet_transmit_release, which a driver calls
// once it has transmitted a packet. A packet marked queued by a TCP transmit
// queue (MarkQueued) is not freed: it is flagged NX_DRIVER_TX_DONE and stays
// with the queue, which frees it with ReleaseQueued once acknowledged.
// Otherwise it behaves exactly as Release. Does not block.
//
// (NetX also strips the IP header again here; simboard's TCP queue keeps
// payload only, so there is nothing to strip.)
func (pk *Packet) TransmitRelease() error {
	if pk == nil || pk.pool == nil {
		return errNilPacket
	}
	p := pk.pool
	p.mu.Lock()
	if pk.state == stateQueued {
		pk.txDone = true
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return releaseChain(pk)
}

// MarkQueued is the hook a TCP transmit queue (netstack) uses to take a
// packet it has accepted for transmission: the head's marker moves from
// NX_PACKET_ALLOCATED to NX_PACKET_ENQUEUED and its NX_DRIVER_TX_DONE flag is
// cleared. While queued, Release returns nx.ErrPtr (counting an invalid
// release, as NetX does for a packet still on a TCP queue) and
// TransmitRelease only flags the packet as transmitted. Returns nx.ErrPtr
// when the packet is not allocated. Applications do not call it.
func (pk *Packet) MarkQueued() error {
	return pk.setQueued(stateAllocated, stateQueued, "mark queued")
}

// UnmarkQueued is the reverse hook: the TCP queue hands the packet back to
// its caller without freeing it (NX_PACKET_ENQUEUED back to
// NX_PACKET_ALLOCATED), e.g. when a send fails after queueing. Returns
// nx.ErrPtr when the packet is not queued.
func (pk *Packet) UnmarkQueued() error {
	return pk.setQueued(stateQueued, stateAllocated, "unmark queued")
}

func (pk *Packet) setQueued(from, to uint32, op string) error {
	if pk == nil || pk.pool == nil {
		return errNilPacket
	}
	p := pk.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if pk.state != from {
		return fmt.Errorf("packetpool: pool %q: %s: packet %d in wrong state: %w", p.name, op, pk.index, nx.ErrPtr)
	}
	pk.state = to
	pk.txDone = false
	return nil
}

// Queued reports whether the packet is marked queued by a TCP queue. It
// takes the pool mutex, so a driver may ask while the queue's goroutine
// changes the mark.
func (pk *Packet) Queued() bool {
	if pk == nil || pk.pool == nil {
		return false
	}
	pk.pool.mu.Lock()
	defer pk.pool.mu.Unlock()
	return pk.state == stateQueued
}

// ReleaseQueued is the hook the TCP queue calls when a queued packet is
// acknowledged, as NetX's ACK processing does: if the driver has already
// transmitted it (TransmitRelease ran), the chain is released now; otherwise
// it is marked allocated again so the driver's pending TransmitRelease frees
// it. Either way the queue gives up ownership. Returns nx.ErrPtr (and counts
// an invalid release) when the packet is not queued.
func (pk *Packet) ReleaseQueued() error {
	if pk == nil || pk.pool == nil {
		return errNilPacket
	}
	p := pk.pool
	p.mu.Lock()
	if pk.state != stateQueued {
		p.invalidReleases++
		p.mu.Unlock()
		return p.errInvalidRelease
	}
	pk.state = stateAllocated
	done := pk.txDone
	pk.txDone = false
	p.mu.Unlock()
	if !done {
		return nil
	}
	return releaseChain(pk)
}

// Append mirrors nx_packet_data_append: it copies data to the end of the
// chain, filling the last buffer first and then chaining as many extra
// packets as needed, allocated from pool (the argument, not necessarily the
// packet's own pool) with packet type 0 and the caller's wait. It is O(1) in
// the chain length (it starts from the head's last-buffer pointer).
//
// On an allocation failure the extra packets are released and the chain is
// left unchanged; the allocation status is returned (nx.ErrNoPacket,
// nx.ErrWaitAborted, nx.ErrPoolDeleted, ...). Other statuses, in the order of
// _nxe_packet_data_append: nx.ErrPtr for a nil or released packet, a nil or
// deleted pool or nil data (NULL data_start); then nx.ErrSize for empty
// data. Blocks only while an extra allocation waits. The caller
// keeps ownership of pk (and of the whole chain).
func (pk *Packet) Append(ctx context.Context, data []byte, pool *Pool, wait nx.Wait) error {
	if err := pk.checkOwned("append"); err != nil {
		return err
	}
	if pool == nil {
		return errNilPool
	}
	if pool.deleted.Load() {
		return pool.errDeleted
	}
	if data == nil {
		return fmt.Errorf("packetpool: pool %q: append: nil data: %w", pk.pool.name, nx.ErrPtr)
	}
	if len(data) == 0 {
		return fmt.Errorf("packetpool: pool %q: append: no data: %w", pk.pool.name, nx.ErrSize)
	}
	var site uintptr
	if pool.debug && len(data) > pk.tailRoom() {
		site = callerPC()
	}
	return pk.appendData(ctx, data, pool, wait, site)
}

// tailRoom returns the free bytes from the head's last buffer to the end of
// the chain.
func (pk *Packet) tailRoom() int {
	cur := pk.last
	if cur == nil {
		cur = pk
	}
	n := 0
	for q := cur; q != nil; q = q.next {
		n += len(q.buf) - q.app
	}
	return n
}

func (pk *Packet) appendData(ctx context.Context, data []byte, pool *Pool, wait nx.Wait, site uintptr) error {
	cur := pk.last
	if cur == nil {
		cur = pk
	}
	if avail := pk.tailRoom(); avail < len(data) {
		need := len(data) - avail
		var first, tail *Packet
		for need > 0 {
			q, err := pool.allocate(ctx, 0, wait, site)
			if err != nil {
				if first != nil {
					releaseChain(first)
				}
				return err
			}
			if first == nil {
				first = q
			} else {
				tail.next = q
			}
			tail = q
			need -= len(q.buf)
		}
		end := cur
		for end.next != nil {
			end = end.next
		}
		end.next = first
	}
	pk.length += len(data)
	for {
		n := copy(cur.buf[cur.app:], data)
		cur.app += n
		data = data[n:]
		if len(data) == 0 {
			break
		}
		cur = cur.next
	}
	if cur != pk {
		pk.last = cur
	}
	return nil
}

// Prepend writes data in front of the head buffer's valid bytes, into the
// header room its packet type reserved (moving prepend_ptr back, as NetX's
// protocol layers do), and adds len(data) to the length. Returns
// nx.ErrUnderflow, leaving the packet unchanged, when the head has fewer than
// len(data) bytes of room; nx.ErrPtr for a nil or released packet. Does not
// block.
func (pk *Packet) Prepend(data []byte) error {
	if err := pk.checkOwned("prepend"); err != nil {
		return err
	}
	if len(data) > pk.prepend {
		return fmt.Errorf("packetpool: pool %q: prepend %d bytes with %d bytes of room: %w", pk.pool.name, len(data), pk.prepend, nx.ErrUnderflow)
	}
	pk.prepend -= len(data)
	copy(pk.buf[pk.prepend:], data)
	pk.length += len(data)
	return nil
}

// DataAdjust mirrors _nx_packet_data_adjust (common/src/nx_packet_data_adjust.c),
// which NetX's protocol layers call to make headerSize bytes of header room
// in front of the head's data without changing the chain's bytes or length:
//
//  1. headerSize larger than the payload size: nx.ErrUnderflow (a header
//     must fit in one packet);
//  2. already headerSize bytes of room: nothing to do;
//  3. room plus the head's tail room holds headerSize: the head's bytes move
//     back so that they start headerSize bytes into the buffer;
//  4. otherwise, an odd headerSize is nx.ErrNotSupported; an even one takes
//     one type-0 packet from the head's own pool with NX_NO_WAIT (its status,
//     nx.ErrNoPacket, is returned as is), moves the head's last bytes into
//     it and links it right after the head.
//
// A negative headerSize is nx.ErrUnderflow (NetX's ULONG makes it huge);
// nx.ErrPtr for a nil or released packet. Does not block; the caller keeps
// ownership of the chain, now possibly one packet longer. (NetX's own
// nx_packet_data_adjust has no context: neither has this.)
func (pk *Packet) DataAdjust(headerSize int) error {
	if err := pk.checkOwned("data adjust"); err != nil {
		return err
	}
	if headerSize < 0 || len(pk.buf) < headerSize {
		return fmt.Errorf("packetpool: pool %q: data adjust %d bytes of header in a %d-byte payload: %w", pk.pool.name, headerSize, len(pk.buf), nx.ErrUnderflow)
	}
	if pk.prepend >= headerSize {
		return nil
	}
	shift := pk.app - pk.prepend
	if pk.prepend+len(pk.buf)-pk.app >= headerSize {
		copy(pk.buf[headerSize:], pk.buf[pk.prepend:pk.app])
		pk.prepend, pk.app = headerSize, headerSize+shift
		return nil
	}
	if headerSize&1 != 0 {
		return fmt.Errorf("packetpool: pool %q: data adjust by an odd %d bytes across packets: %w", pk.pool.name, headerSize, nx.ErrNotSupported)
	}
	p := pk.pool
	var site uintptr
	if p.debug {
		site = callerPC()
	}
	q, err := p.allocate(context.Background(), 0, nx.NoWait, site)
	if err != nil {
		return err
	}
	// append_size = header_size - available_size bytes move to the new
	// packet; the rest of the head's bytes move back.
	moved := headerSize - (pk.prepend + len(pk.buf) - pk.app)
	q.app += copy(q.buf[q.prepend:], pk.buf[pk.app-moved:pk.app])
	shift -= moved
	copy(pk.buf[headerSize:], pk.buf[pk.prepend:pk.prepend+shift])
	pk.prepend, pk.app = headerSize, headerSize+shift
	q.next = pk.next
	pk.next = q
	if pk.last == nil {
		pk.last = q
	}
	return nil
}

// TrimFront drops n bytes from the front of the chain by advancing prepend
// pointers (e.g. after a partial send). Buffers that become empty stay in the
// chain (the head must stay the head: the caller holds it) and are released
// with it. Returns nx.ErrInvalidParameters when n is negative or exceeds
// Length, nx.ErrPtr for a nil or released packet. Does not block.
func (pk *Packet) TrimFront(n int) error {
	if err := pk.checkOwned("trim"); err != nil {
		return err
	}
	if n < 0 || n > pk.length {
		return fmt.Errorf("packetpool: pool %q: trim %d bytes of %d: %w", pk.pool.name, n, pk.length, nx.ErrInvalidParameters)
	}
	pk.length -= n
	for q := pk; n > 0 && q != nil; q = q.next {
		k := min(n, q.app-q.prepend)
		q.prepend += k
		n -= k
	}
	return nil
}

// Retrieve mirrors nx_packet_data_retrieve: it copies the whole chain's bytes
// into buf and returns Length(). buf must hold Length() bytes; a shorter buf
// returns nx.ErrSize and copies nothing (where NetX would overrun the
// buffer). When the chain holds fewer bytes than its length says, it returns
// nx.ErrInvalidPacket with the count actually copied. nx.ErrPtr for a nil or
// released packet or a nil buf (_nxe_packet_data_retrieve's NULL checks). Does not block; the caller keeps ownership of pk.
func (pk *Packet) Retrieve(buf []byte) (int, error) {
	if err := pk.checkOwned("retrieve"); err != nil {
		return 0, err
	}
	if buf == nil {
		return 0, fmt.Errorf("packetpool: pool %q: retrieve: nil buffer: %w", pk.pool.name, nx.ErrPtr)
	}
	if len(buf) < pk.length {
		return 0, fmt.Errorf("packetpool: pool %q: retrieve %d bytes into %d: %w", pk.pool.name, pk.length, len(buf), nx.ErrSize)
	}
	n := 0
	remaining := pk.length
	for q := pk; q != nil && remaining > 0; q = q.next {
		k := copy(buf[n:n+min(remaining, q.app-q.prepend)], q.buf[q.prepend:q.app])
		n += k
		remaining -= k
	}
	if remaining > 0 {
		return n, fmt.Errorf("packetpool: pool %q: retrieve: chain holds %d of %d bytes: %w", pk.pool.name, n, pk.length, nx.ErrInvalidPacket)
	}
	return n, nil
}

// ExtractOffset mirrors nx_packet_data_extract_offset: it copies up to
// len(buf) bytes starting offset bytes into the chain, truncating to buf
// (never an error for a short buf), and returns the count. Does not block;
// the caller keeps ownership of pk.
//
// Statuses, in NetX's order: nx.ErrPtr for a nil or released packet or a nil
// buf (_nxe_packet_data_extract_offset's NULL checks); then
// nx.ErrPacketOffset when offset is at or past Length (except offset 0 of an
// empty packet, which copies 0 bytes successfully) or negative (NetX's ULONG
// makes it huge), and when the chain's buffers end before offset although
// Length says otherwise (a corrupted length, line 153 of
// nx_packet_data_extract_offset.c). As in NetX the count is
// min(Length-offset, len(buf)) once the offset is found, even if the chain
// runs out before that many bytes: the rest of buf is left as it was.
func (pk *Packet) ExtractOffset(offset int, buf []byte) (int, error) {
	if err := pk.checkOwned("extract offset"); err != nil {
		return 0, err
	}
	if buf == nil {
		return 0, fmt.Errorf("packetpool: pool %q: extract offset: nil buffer: %w", pk.pool.name, nx.ErrPtr)
	}
	if offset < 0 || offset >= pk.length {
		if offset == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("packetpool: pool %q: extract at offset %d of %d: %w", pk.pool.name, offset, pk.length, nx.ErrPacketOffset)
	}
	want := min(pk.length-offset, len(buf))
	// Find the buffer holding offset.
	q, rel := pk, offset
	for ; q != nil; q = q.next {
		l := q.app - q.prepend
		if l > rel {
			break
		}
		rel -= l
	}
	if q == nil {
		return 0, fmt.Errorf("packetpool: pool %q: extract at offset %d: chain ends before its length %d: %w", pk.pool.name, offset, pk.length, nx.ErrPacketOffset)
	}
	n, src := 0, q.buf[q.prepend+rel:q.app]
	for n < want {
		n += copy(buf[n:want], src)
		if q = q.next; q == nil {
			break
		}
		src = q.buf[q.prepend:q.app]
	}
	return want, nil
}

// Copy mirrors nx_packet_copy: it allocates a new chain from pool (type-0
// packets, the caller's wait for each) holding the same bytes, chained when
// pool's packets are smaller.
//
// The header room is kept as NetX keeps it (nx_packet_copy.c): the source
// head is copied from data_start, its header room included, and the copy's
// prepend pointer is then set to the same offset from data_start. So a
// source with header room h gives a copy with header room h, and h bytes of
// the first buffers hold the source's header room; when h equals pool's
// payload the copy's head holds no data at all and the bytes start in its
// second packet (one packet more than the data alone needs, as on the MCU).
// A source whose header room exceeds pool's payload is where NetX sets a
// prepend pointer past its buffer's end; here the copy then has no header
// room instead.
//
// The caller owns the copy and keeps the source. Statuses: nx.ErrPtr for a
// nil or released packet or a nil or deleted pool (_nxe_packet_copy);
// nx.ErrInvalidPacket for an empty source or a chain holding fewer bytes
// than its length; allocation statuses as Allocate (nx.ErrNoPacket,
// nx.ErrWaitAborted, ...) after releasing any partial copy. Blocks only while
// an allocation waits.
func (pk *Packet) Copy(ctx context.Context, pool *Pool, wait nx.Wait) (*Packet, error) {
	if err := pk.checkOwned("copy"); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errNilPool
	}
	if pool.deleted.Load() {
		return nil, pool.errDeleted
	}
	if pk.length == 0 {
		return nil, fmt.Errorf("packetpool: pool %q: copy of an empty packet: %w", pk.pool.name, nx.ErrInvalidPacket)
	}
	var site uintptr
	if pool.debug {
		site = callerPC()
	}
	cp, err := pool.allocate(ctx, 0, wait, site)
	if err != nil {
		return nil, err
	}
	headroom := pk.prepend
	if headroom > pool.payload {
		headroom = 0
	}
	for q := pk; q != nil; q = q.next {
		start := q.prepend
		if q == pk {
			start -= headroom
		}
		if q.app == start {
			continue
		}
		if err := cp.appendData(ctx, q.buf[start:q.app], pool, wait, site); err != nil {
			releaseChain(cp)
			return nil, err
		}
	}
	cp.prepend = headroom
	cp.length -= headroom
	if cp.length != pk.length {
		releaseChain(cp)
		return nil, fmt.Errorf("packetpool: pool %q: copy: chain holds %d of %d bytes: %w", pk.pool.name, cp.length, pk.length, nx.ErrInvalidPacket)
	}
	return cp, nil
}
