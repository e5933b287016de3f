package packetpool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simboard/simboard/nx"
)

// Packet types: the number of header bytes reserved in front of the payload
// (NetX packet_type, reference netxduo.md §1.4). Values are those of a NetX Duo
// build with IPv6 enabled, NX_PHYSICAL_HEADER 16 and IPsec off.
const (
	ReceivePacket = 0  // NX_RECEIVE_PACKET: driver receive, whole buffer usable
	IPv4Packet    = 36 // NX_IPv4_PACKET: 16 + 20
	IPv4TCPPacket = 56 // NX_IPv4_TCP_PACKET: IPv4 + 20
	IPv4UDPPacket = 44 // NX_IPv4_UDP_PACKET: IPv4 + 8
	IPv6Packet    = 56 // NX_IPv6_PACKET: 16 + 40
	IPv6TCPPacket = 76 // NX_IPv6_TCP_PACKET: IPv6 + 20
	IPv6UDPPacket = 64 // NX_IPv6_UDP_PACKET: IPv6 + 8

	IPPacket   = 56 // NX_IP_PACKET (IPv6 build)
	TCPPacket  = 76 // NX_TCP_PACKET (IPv6 build)
	UDPPacket  = 64 // NX_UDP_PACKET (IPv6 build)
	ICMPPacket = 56 // NX_ICMP_PACKET (IPv6 build)
	IGMPPacket = 36 // NX_IGMP_PACKET

	PhysicalHeader = 16 // NX_PHYSICAL_HEADER: Ethernet header (14) padded to 16
)

// NetXPacketHeaderSize is sizeof(NX_PACKET) on a 32-bit NetX Duo build with its
// defaults (packet chaining, IPv4 fragmentation and IPv6 enabled; IPsec,
// interface capability, packet debug info and header padding disabled). From
// the fields of typedef struct NX_PACKET_STRUCT (common/inc/nx_api.h,
// reference netxduo.md §1.1), 4 bytes per pointer or ULONG:
//
//	nx_packet_pool_owner, nx_packet_next, nx_packet_prepend_ptr,
//	nx_packet_append_ptr, nx_packet_data_start, nx_packet_data_end,
//	nx_packet_last, nx_packet_queue_next,
//	nx_packet_union_next (tcp_queue_next | fragment_next)      9 pointers = 36
//	nx_packet_length                                             ULONG     =  4
//	nx_packet_reassembly_time (fragmentation enabled)            ULONG     =  4
//	nx_packet_option_state, _destination_header (UCHAR),
//	nx_packet_option_offset (USHORT) (FEATURE_NX_IPV6)                     =  4
//	nx_packet_ip_version, _identical_copy, _ip_header_length,
//	_reserved (4 x UCHAR)                                                  =  4
//	nx_packet_address (interface / IPv6 address pointer union)             =  4
//	nx_packet_ip_header (UCHAR *)                                          =  4
//	                                                                 total   60
//
// 60 is already a multiple of NX_PACKET_ALIGNMENT (sizeof(ULONG) = 4), so the
// header_size nx_packet_pool_create computes is 60 as well.
const NetXPacketHeaderSize = 60

// netxAlignment is NX_PACKET_ALIGNMENT on a 32-bit build: sizeof(ULONG).
const netxAlignment = 4

// Options configures a Pool. The zero value is not usable: PayloadSize and
// one of Count or MemorySize must be set.
type Options struct {
	// Name is the pool's name (nx_packet_pool_create name), used in errors
	// and Leaks. "" is allowed.
	Name string
	// PayloadSize is the bytes of payload per packet (NetX payload_size);
	// must be > 0. It includes the header room a packet type reserves.
	PayloadSize int
	// Count is the number of packets in the pool. NetX derives it from
	// memory_size; NetXMemorySize gives the memory_size to use there. Set
	// either Count or MemorySize, not both.
	Count int
	// MemorySize, when > 0, is nx_packet_pool_create's pool_size: the pool
	// holds exactly the packets NetX Duo carves from that many bytes on a
	// 32-bit build, starting at a 4-byte-aligned address (see
	// NetXPacketCount for the arithmetic, and for an unaligned start):
	// 15360 bytes of 1536-byte payloads give 9 packets, not 10. Carve
	// reports the result. 0 means the pool is sized by Count.
	MemorySize int
	// Clock times suspensions (Allocate with a finite wait). nil means
	// nx.SystemClock, which testing/synctest fakes.
	Clock nx.Clock
	// Debug records each outstanding packet's allocation site (the caller of
	// Allocate, Append or Copy) for Leaks. false keeps Allocate free of the
	// runtime.Callers cost; Leaks still lists outstanding packets.
	Debug bool
}

// Info is a snapshot of the pool statistics nx_packet_pool_info_get returns,
// plus the low-water mark.
type Info struct {
	Total            int // packets in the pool (total_packets)
	Free             int // packets on the free list (free_packets / nx_packet_pool_available)
	EmptyRequests    int // allocations that found the pool empty (empty_pool_requests)
	EmptySuspensions int // of those, the ones that suspended (empty_pool_suspensions)
	InvalidReleases  int // releases of packets that were not allocated (invalid_packet_releases)
	LowWater         int // fewest free packets ever seen (not in NetX; sizes a real pool)
}

// Pool mirrors NX_PACKET_POOL: a fixed number of fixed-size packets carved
// from one backing buffer, a LIFO free list and a FIFO list of allocators
// suspended on the empty pool.
//
// A Pool is safe for concurrent use. The free list is lock-free (see
// freelist.go); the mutex guards the suspension list, the request counters,
// the low watermark and the NX_DRIVER_TX_DONE hand-over between a TCP queue
// and a driver (MarkQueued, TransmitRelease, ReleaseQueued). Allocate and
// Release take it only when allocators are suspended, and always on a Debug
// pool, whose packet markers it then guards too. It is never held while
// another pool's mutex is taken (at most one pool mutex at a time), and never
// while the caller blocks.
type Pool struct {
	name    string
	payload int
	clock   nx.Clock
	debug   bool

	carve   Carve    // how NetX lays the pool out (Carve)
	mem     []byte   // one backing buffer for every payload
	packets []Packet // pre-allocated packet headers

	head      atomic.Uint64 // free list top, free count and tag (freelist.go)
	lowWater  atomic.Int64  // fewest free packets ever
	suspended atomic.Int32  // allocators on the suspension list
	deleted   atomic.Bool   // set under mu by Delete; read without mu by nxe-style checks

	mu               sync.Mutex
	emptyRequests    int
	emptySuspensions int
	invalidReleases  int
	lowWatermark     int
	waitHead         *waiter // FIFO suspension list
	waitTail         *waiter

	// Pre-built errors so failure paths that are part of normal operation
	// (empty pool, timeouts, invalid releases) do not allocate.
	errNoPacket       error
	errAbortCanceled  error
	errAbortDeadline  error
	errPoolDeleted    error
	errDeleted        error
	errInvalidRelease error
}

// waiter is one allocator suspended on an empty pool (a ThreadX thread on
// nx_packet_pool_suspension_list). done, pkt and err are written under the
// pool mutex before ready is closed.
type waiter struct {
	ready      chan struct{}
	packetType int
	site       uintptr
	done       bool
	pkt        *Packet
	err        error
	prev, next *waiter
}

// New mirrors nx_packet_pool_create: it builds a pool of opts.Count packets of
// opts.PayloadSize payload bytes each, all free, or, when opts.MemorySize is
// set, of the packets NetX carves from that memory size (NetXPacketCount).
//
// Errors wrap nx.ErrSize when PayloadSize is not positive; when Count is not
// in 1..MaxCount (or is set together with MemorySize); when MemorySize is 4
// bytes or less or too small for one packet (the checks of
// _nxe_packet_pool_create); or when the pool would not fit the 32-bit
// memory_size a NetX Duo build can address (NetXMemorySize > 0xFFFFFFFF).
// NetX's NX_PTR_ERROR cases (NULL control block or memory, pools
// overlapping) cannot arise: each Pool owns its memory. New never panics and
// does not block.
func New(opts Options) (*Pool, error) {
	if opts.PayloadSize <= 0 {
		return nil, fmt.Errorf("packetpool: pool %q: create: payload size %d: %w", opts.Name, opts.PayloadSize, nx.ErrSize)
	}
	var carve Carve
	if opts.MemorySize != 0 {
		if opts.Count != 0 {
			return nil, fmt.Errorf("packetpool: pool %q: create: give Count (%d) or MemorySize (%d), not both: %w", opts.Name, opts.Count, opts.MemorySize, nx.ErrSize)
		}
		if opts.MemorySize > math.MaxUint32 || opts.PayloadSize > math.MaxUint32 {
			return nil, fmt.Errorf("packetpool: pool %q: create: memory size %d exceeds a 32-bit memory size: %w", opts.Name, opts.MemorySize, nx.ErrSize)
		}
		carve = carveOf(opts.PayloadSize, opts.MemorySize)
		if carve.Packets == 0 {
			return nil, fmt.Errorf("packetpool: pool %q: create: %d bytes of memory hold no packet of %d bytes (%d with its header): %w",
				opts.Name, opts.MemorySize, opts.PayloadSize, carve.PacketSize, nx.ErrSize)
		}
		opts.Count = carve.Packets
		carve.FromMemory = true
	}
	if opts.Count <= 0 || opts.Count > MaxCount {
		return nil, fmt.Errorf("packetpool: pool %q: create: count %d not in 1..%d: %w", opts.Name, opts.Count, MaxCount, nx.ErrSize)
	}
	if opts.PayloadSize > math.MaxUint32 || netxMemorySize(opts.PayloadSize, opts.Count) > math.MaxUint32 {
		return nil, fmt.Errorf("packetpool: pool %q: create: %d packets of %d bytes exceed a 32-bit memory size: %w",
			opts.Name, opts.Count, opts.PayloadSize, nx.ErrSize)
	}
	if opts.MemorySize == 0 {
		carve = carveOf(opts.PayloadSize, int(netxMemorySize(opts.PayloadSize, opts.Count)))
	}
	clk := opts.Clock
	if clk == nil {
		clk = nx.SystemClock
	}
	p := &Pool{
		name:    opts.Name,
		payload: opts.PayloadSize,
		clock:   clk,
		debug:   opts.Debug,
		carve:   carve,
	}
	// Payloads are laid out ULONG-aligned like NetX's, so a packet's buffer
	// never shares a word with its neighbour's.
	stride := roundUp(opts.PayloadSize, netxAlignment)
	p.mem = make([]byte, stride*opts.Count)
	p.packets = make([]Packet, opts.Count)
	for i := len(p.packets) - 1; i >= 0; i-- {
		pk := &p.packets[i]
		start := i * stride
		pk.pool = p
		pk.index = i
		pk.buf = p.mem[start : start+opts.PayloadSize : start+opts.PayloadSize]
		pk.state = stateFree
		if i+1 < len(p.packets) {
			pk.freeNext.Store(uint32(i + 2))
		}
	}
	p.head.Store(1 | uint64(opts.Count)<<countShift)
	p.lowWater.Store(int64(opts.Count))

	prefix := fmt.Sprintf("packetpool: pool %q", opts.Name)
	p.errNoPacket = fmt.Errorf("%s: allocate: %w", prefix, nx.ErrNoPacket)
	p.errAbortCanceled = fmt.Errorf("%s: allocate: %w", prefix, nx.Aborted(cancelledCtx))
	p.errAbortDeadline = fmt.Errorf("%s: allocate: %w", prefix, nx.Aborted(expiredCtx))
	p.errPoolDeleted = fmt.Errorf("%s: allocate: %w", prefix, nx.ErrPoolDeleted)
	p.errDeleted = fmt.Errorf("%s: deleted: %w", prefix, nx.ErrPtr)
	p.errInvalidRelease = fmt.Errorf("%s: release of a packet that is not allocated: %w", prefix, nx.ErrPtr)
	return p, nil
}

// Contexts that are done, one per cause, to pre-build the abort errors.
var (
	cancelledCtx = func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
	expiredCtx = func() context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		cancel() // already expired: Err stays DeadlineExceeded
		return ctx
	}()
)

func roundUp(n, a int) int { return (n + a - 1) / a * a }

func netxMemorySize(payload, count int) uint64 {
	stride := uint64(roundUp(NetXPacketHeaderSize+payload, netxAlignment))
	return stride * uint64(count)
}

// NetXPacketCount returns how many packets nx_packet_pool_create carves from
// memorySize bytes starting at address memoryStart on a 32-bit NetX Duo
// build. The arithmetic, step by step from _nx_packet_pool_create
// (common/src/nx_packet_pool_create.c), with NX_PACKET_ALIGNMENT =
// sizeof(ULONG) = 4:
//
//	rounded_pool_start = round_up(pool_start, 4)
//	pool_size          = round_down(pool_size - (rounded_pool_start - pool_start), 4)
//	payload_address    = round_up(rounded_pool_start + sizeof(NX_PACKET), 4)
//	header_size        = payload_address - rounded_pool_start  = round_up(60, 4) = 60
//	payload_size'      = round_up(header_size + payload_size, 4) - header_size
//	packets: while (packet_ptr + payload_size' + header_size <= start + pool_size) packets++
//
// so every packet takes a stride of round_up(60 + payloadSize, 4) bytes and
// the count is floor(pool_size / stride): 15360 bytes of 1536-byte payloads
// are 9 strides of 1596 (14364 bytes) with 996 bytes left over. Only
// memoryStart%4 matters. _nxe_packet_pool_create refuses the create with
// NX_SIZE_ERROR when the original memorySize is 4 or less, when payloadSize
// is 0, or when one stride does not fit; this returns 0 in those cases.
func NetXPacketCount(payloadSize int, memoryStart uintptr, memorySize int) int {
	if payloadSize <= 0 || memorySize <= netxAlignment {
		return 0
	}
	adjust := int((netxAlignment - memoryStart%netxAlignment) % netxAlignment)
	if memorySize < adjust {
		return 0
	}
	size := (memorySize - adjust) / netxAlignment * netxAlignment
	stride := roundUp(NetXPacketHeaderSize+payloadSize, netxAlignment)
	return size / stride
}

// Carve is how nx_packet_pool_create lays a pool out in its memory area on a
// 32-bit NetX Duo build (a 4-byte-aligned start): what an engineer needs to
// size the pool_size argument on the MCU.
type Carve struct {
	MemorySize  int  // pool_size given (Options.MemorySize), or NetXMemorySize for a pool sized by Count
	HeaderSize  int  // sizeof(NX_PACKET) rounded to 4: NetXPacketHeaderSize
	PayloadSize int  // payload_size asked for
	PacketSize  int  // stride: round_up(HeaderSize + PayloadSize, 4)
	Packets     int  // packets carved: floor(round_down(MemorySize, 4) / PacketSize)
	Wasted      int  // bytes of MemorySize no packet uses: MemorySize - Packets*PacketSize
	FromMemory  bool // the pool was made from Options.MemorySize
}

func carveOf(payload, memorySize int) Carve {
	stride := roundUp(NetXPacketHeaderSize+payload, netxAlignment)
	n := NetXPacketCount(payload, 0, memorySize)
	return Carve{
		MemorySize:  memorySize,
		HeaderSize:  NetXPacketHeaderSize,
		PayloadSize: payload,
		PacketSize:  stride,
		Packets:     n,
		Wasted:      memorySize - n*stride,
	}
}

// String formats the carve for a pool report, e.g.
// "15360 bytes carve 9 packets of 1596 (60 header + 1536 payload, 4-byte aligned), 996 bytes unused".
func (c Carve) String() string {
	return fmt.Sprintf("%d bytes carve %d packets of %d (%d header + %d payload, 4-byte aligned), %d bytes unused",
		c.MemorySize, c.Packets, c.PacketSize, c.HeaderSize, c.PayloadSize, c.Wasted)
}

// Carve returns how NetX Duo lays this pool out in memory: for a pool made
// from Options.MemorySize, the memory given, packets carved and bytes left
// over; for one made by Count, the exact memory_size that carves Count
// packets (NetXMemorySize, nothing wasted). Does not block; a nil pool
// returns the zero Carve.
func (p *Pool) Carve() Carve {
	if p == nil {
		return Carve{}
	}
	return p.carve
}

// Name returns the pool's name. A nil pool returns "".
func (p *Pool) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// PayloadSize returns the payload bytes per packet (nx_packet_pool_payload_size,
// as requested, unrounded). A nil pool returns 0.
func (p *Pool) PayloadSize() int {
	if p == nil {
		return 0
	}
	return p.payload
}

// NetXMemorySize returns the memory_size to pass to nx_packet_pool_create on a
// 32-bit NetX Duo build (default configuration, IPv6 enabled) for the same
// pool: each packet takes a stride of
//
//	round_up(NetXPacketHeaderSize + PayloadSize, 4)
//
// bytes (the NX_PACKET header, 60 bytes, already leaves the payload ULONG
// aligned) and the pool is Count strides (reference netxduo.md §1.3). Give NetX
// a 4-byte-aligned memory area of exactly this size, or up to 3 bytes more if
// the area may start unaligned. A nil pool returns 0.
func (p *Pool) NetXMemorySize() int {
	if p == nil {
		return 0
	}
	return int(netxMemorySize(p.payload, len(p.packets)))
}

// Allocate mirrors nx_packet_allocate: it takes a packet from the pool with
// packetType bytes of header room reserved in front of the payload (prepend
// and append both at data_start+packetType, length 0, no chain).
//
// The caller owns the returned packet and must release it (Release), or hand
// it to a service that takes ownership (a successful TCP send).
//
// A ctx that is already done returns nx.ErrWaitAborted at once, whatever the
// wait option and even when a packet is free: nothing is taken from the pool
// and no counter changes, so nothing is sent on behalf of a cancelled
// caller. The error also wraps ctx.Err(), so errors.Is(err,
// context.DeadlineExceeded) (or context.Canceled) holds. (NetX has no
// context; this is tx_thread_wait_abort arriving before the call.)
//
// When the pool is empty it counts an empty request; with nx.NoWait it returns
// nx.ErrNoPacket at once. Otherwise it counts an empty suspension and blocks,
// first-in first-out behind earlier waiters, until a Release hands it a packet
// (nil error), the wait expires on the pool's clock (nx.ErrNoPacket), ctx is
// done (nx.ErrWaitAborted, wrapping ctx.Err() as above) or the pool is
// deleted (nx.ErrPoolDeleted).
//
// Argument checks run in the order of _nxe_packet_allocate and then
// _nx_packet_allocate: nx.ErrPtr for a nil or deleted pool (NX_PTR_ERROR,
// before anything else); nx.ErrOption when packetType is not a multiple of 4;
// nx.ErrInvalidParameters when packetType exceeds the payload size (or is
// negative, which NetX's ULONG makes huge). The context is looked at after
// the arguments. All errors are wrapped with the pool name. Safe for
// concurrent use.
func (p *Pool) Allocate(ctx context.Context, packetType int, wait nx.Wait) (*Packet, error) {
	// One call, so it inlines and the common case costs a single call.
	return p.allocate(ctx, packetType, wait, siteCaller)
}

// siteCaller, passed as allocate's site, asks a Debug pool to record the
// caller of Allocate (no program counter is 1).
const siteCaller uintptr = 1

var (
	errNilPool   = fmt.Errorf("packetpool: nil pool: %w", nx.ErrPtr)
	errNilPacket = fmt.Errorf("packetpool: nil packet: %w", nx.ErrPtr)
)

// callerPC returns the program counter of the caller of the exported
// function that called callerPC.
func callerPC() uintptr {
	var pcs [1]uintptr
	// 0 = runtime.Callers, 1 = callerPC, 2 = exported entry, 3 = its caller.
	if runtime.Callers(3, pcs[:]) == 0 {
		return 0
	}
	return pcs[0]
}

func (p *Pool) allocate(ctx context.Context, packetType int, wait nx.Wait, site uintptr) (*Packet, error) {
	// NetX's order: the pool first (NX_PTR_ERROR), then the packet type.
	if p == nil {
		return nil, errNilPool
	}
	if p.deleted.Load() {
		return nil, p.errDeleted
	}
	// One unsigned compare covers negative types (NetX's ULONG wraps them
	// above any payload) and types beyond the payload.
	if packetType&3 != 0 || uint(packetType) > uint(p.payload) {
		return nil, p.packetTypeError(packetType)
	}
	// A done context takes nothing, even from a pool with free packets.
	// Background and TODO have a nil Done channel: one method call.
	if ctx != nil {
		if d := ctx.Done(); d != nil {
			select {
			case <-d:
				return nil, p.abortError(ctx)
			default:
			}
		}
	}
	// The fast path: no suspended allocators to serve first, not a Debug
	// pool (whose markers and sites the mutex guards). It is pop, written
	// out here to save a call.
	if p.suspended.Load() == 0 && !p.debug {
		for ; ; backoff() {
			h := p.head.Load()
			top := h & slotMask
			if top == 0 {
				break
			}
			pk := &p.packets[top-1]
			n := h>>countShift&slotMask - 1
			if p.head.CompareAndSwap(h, uint64(pk.freeNext.Load())|n<<countShift|(h>>tagShift+1)<<tagShift) {
				if int64(n) < p.lowWater.Load() {
					p.noteLow(int64(n))
				}
				pk.state = stateAllocated
				pk.reset(packetType)
				return pk, nil
			}
		}
	}
	if site == siteCaller {
		site = 0
		if p.debug {
			site = allocateCallerPC()
		}
	}
	return p.allocateSlow(ctx, packetType, wait, site)
}

// allocateCallerPC returns the program counter of the code that called
// Allocate, from within allocate.
func allocateCallerPC() uintptr {
	var pcs [1]uintptr
	// 0 = runtime.Callers, 1 = allocateCallerPC, 2 = allocate, 3 = Allocate
	// (a frame even when inlined), 4 = its caller.
	if runtime.Callers(4, pcs[:]) == 0 {
		return 0
	}
	return pcs[0]
}

// abortError wraps nx.Aborted(ctx) (NX_WAIT_ABORTED and ctx.Err()) with the
// pool name; the two standard causes are pre-built so it does not allocate.
func (p *Pool) abortError(ctx context.Context) error {
	switch ctx.Err() {
	case context.Canceled:
		return p.errAbortCanceled
	case context.DeadlineExceeded:
		return p.errAbortDeadline
	}
	return fmt.Errorf("packetpool: pool %q: allocate: %w", p.name, nx.Aborted(ctx))
}

func (p *Pool) packetTypeError(packetType int) error {
	if packetType%4 != 0 {
		return fmt.Errorf("packetpool: pool %q: allocate: packet type %d is not a multiple of 4: %w", p.name, packetType, nx.ErrOption)
	}
	return fmt.Errorf("packetpool: pool %q: allocate: packet type %d exceeds payload size %d: %w", p.name, packetType, p.payload, nx.ErrInvalidParameters)
}

// allocateSlow handles a deleted or empty pool, suspended allocators and
// Debug pools, under the mutex.
func (p *Pool) allocateSlow(ctx context.Context, packetType int, wait nx.Wait, site uintptr) (*Packet, error) {
	p.mu.Lock()
	if p.deleted.Load() {
		p.mu.Unlock()
		return nil, p.errDeleted
	}
	// Allocators already suspended come first (FIFO), then this one.
	p.drainLocked()
	if p.waitHead == nil {
		if pk := p.pop(); pk != nil {
			p.takeLocked(pk, packetType, site)
			p.mu.Unlock()
			return pk, nil
		}
	}
	p.emptyRequests++
	if wait == nx.NoWait {
		p.mu.Unlock()
		return nil, p.errNoPacket
	}
	p.emptySuspensions++
	w := &waiter{ready: make(chan struct{}), packetType: packetType, site: site}
	p.enqueue(w)
	// A Release that pushed its packet before it could see this waiter
	// left it on the free list: hand it over now (see give).
	p.drainLocked()
	p.mu.Unlock()

	err := nx.Await(ctx, p.clock, wait, w.ready, nx.ErrNoPacket)
	if testHookAwaitReturned != nil {
		testHookAwaitReturned(err)
	}

	p.mu.Lock()
	if w.done {
		// Resolved by a Release (hand-off) or Delete. A handed-off packet
		// wins over a simultaneous timeout or cancel: it is never lost.
		p.mu.Unlock()
		if w.pkt != nil {
			return w.pkt, nil
		}
		return nil, w.err
	}
	p.dequeue(w)
	p.mu.Unlock()
	if errors.Is(err, nx.ErrWaitAborted) {
		return nil, p.abortError(ctx)
	}
	return nil, p.errNoPacket
}

// testHookAwaitReturned, when set by a test, runs after a suspended
// allocation's wait ends and before it re-takes the pool mutex: the window in
// which a timeout can race a hand-off.
var testHookAwaitReturned func(err error)

func (p *Pool) enqueue(w *waiter) {
	w.prev = p.waitTail
	if p.waitTail != nil {
		p.waitTail.next = w
	} else {
		p.waitHead = w
	}
	p.waitTail = w
	p.suspended.Add(1)
}

func (p *Pool) dequeue(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		p.waitHead = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		p.waitTail = w.prev
	}
	w.prev, w.next = nil, nil
	p.suspended.Add(-1)
}

// give returns the run first..last of n released packets, linked through
// freeNext and marked free, to the free list, then hands packets to
// suspended allocators, if any. locked says whether the caller holds p.mu.
//
// A release never misses a suspended allocator: the allocator registers
// (suspended) before it looks at the free list under the mutex, and give
// pushes before it looks at suspended, so with sequentially consistent
// atomics one of the two sees the other.
func (p *Pool) give(first, last *Packet, n int, locked bool) {
	p.push(first, last, n)
	if p.suspended.Load() != 0 {
		p.handOffFree(locked)
	}
}

// handOffFree is give's slow half, kept apart so give stays inlinable.
func (p *Pool) handOffFree(locked bool) {
	if !locked {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	p.drainLocked()
}

// drainLocked hands free packets to suspended allocators, first in first
// out, while both remain. Called with p.mu held.
func (p *Pool) drainLocked() {
	for p.waitHead != nil {
		pk := p.pop()
		if pk == nil {
			return
		}
		w := p.waitHead
		p.dequeue(w)
		p.takeLocked(pk, w.packetType, w.site)
		w.pkt = pk
		w.done = true
		// On a sequencing clock the allocator wakes as an event of its
		// own, not beside the releaser (nx.Post); the packet is its
		// already.
		ready := w.ready
		nx.Post(p.clock, func() { close(ready) })
	}
}

// takeLocked marks a popped packet allocated and re-initialises it with its
// packet type, as nx_packet_allocate does. Called with p.mu held.
func (p *Pool) takeLocked(pk *Packet, packetType int, site uintptr) {
	pk.state = stateAllocated
	if p.debug {
		pk.site = site
	}
	pk.reset(packetType)
}

// Info mirrors nx_packet_pool_info_get: the pool's counters, each exact at
// the moment it is read (Free and LowWater change without the mutex, so with
// traffic in flight they may be a packet apart from each other). It does not
// block beyond the pool mutex and is safe for concurrent use. A nil pool
// returns the zero Info.
func (p *Pool) Info() Info {
	if p == nil {
		return Info{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return Info{
		Total:            len(p.packets),
		Free:             p.freeCount(),
		EmptyRequests:    p.emptyRequests,
		EmptySuspensions: p.emptySuspensions,
		InvalidReleases:  p.invalidReleases,
		LowWater:         int(p.lowWater.Load()),
	}
}

// SuspendedCount returns the number of allocators currently suspended on the
// empty pool (nx_packet_pool_suspended_count). Safe for concurrent use.
func (p *Pool) SuspendedCount() int {
	if p == nil {
		return 0
	}
	return int(p.suspended.Load())
}

// SetLowWatermark mirrors nx_packet_pool_low_watermark_set (a NetX build with
// NX_ENABLE_LOW_WATERMARK). The pool itself only stores n. In NetX the
// receive path consults it (TCP and UDP drop incoming data, and TCP
// advertises a zero window, while the pool has fewer than n packets free), so
// a pool shared by transmit and receive keeps n packets for transmission.
// simboard's netstack does not consult it yet: setting it changes nothing on
// the wire (netx_low_watermark_test and netx_low_watermark_zero_window_test
// are not ported for that reason). 0, the default, disables the check.
//
// Errors: nx.ErrPtr for a nil or deleted pool, nx.ErrInvalidParameters for a
// negative n. Safe for concurrent use.
func (p *Pool) SetLowWatermark(n int) error {
	if p == nil {
		return errNilPool
	}
	if n < 0 {
		return fmt.Errorf("packetpool: pool %q: low watermark %d: %w", p.name, n, nx.ErrInvalidParameters)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted.Load() {
		return p.errDeleted
	}
	p.lowWatermark = n
	return nil
}

// LowWatermark returns the value set by SetLowWatermark (0 by default).
// Safe for concurrent use.
func (p *Pool) LowWatermark() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lowWatermark
}

// Delete mirrors nx_packet_pool_delete: the pool becomes invalid (later
// Allocate, SetLowWatermark and Delete calls return nx.ErrPtr, as NetX's
// zeroed pool ID does), and every allocator suspended on it is resumed with
// nx.ErrPoolDeleted. Like NetX it does not check for outstanding packets:
// releasing one later returns nx.ErrPtr (the owner pool is invalid), so
// delete a pool only once Leaks is empty. Does not block; safe for concurrent
// use.
func (p *Pool) Delete() error {
	if p == nil {
		return errNilPool
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted.Load() {
		return p.errDeleted
	}
	p.deleted.Store(true)
	for w := p.waitHead; w != nil; w = p.waitHead {
		p.dequeue(w)
		w.err = p.errPoolDeleted
		w.done = true
		close(w.ready)
	}
	return nil
}

// Leak describes one packet that is outstanding (allocated, or held by a TCP
// queue) at the time of Pool.Leaks.
type Leak struct {
	Pool   string // owner pool name
	Index  int    // packet slot in the pool, 0-based
	Queued bool   // marked by MarkQueued (owned by a TCP queue)
	// Allocation site (the code that called Allocate, Append or Copy); empty
	// unless the pool was created with Options.Debug.
	Function string
	File     string
	Line     int
}

// String formats the leak as `pool "rx" packet 3 allocated at file.go:12 (pkg.Func)`.
func (l Leak) String() string {
	s := fmt.Sprintf("pool %q packet %d", l.Pool, l.Index)
	if l.Queued {
		s += " (queued)"
	}
	if l.File != "" {
		s += fmt.Sprintf(" allocated at %s:%d (%s)", l.File, l.Line, l.Function)
	}
	return s
}

// Leaks lists every packet that is not free, in slot order, with its
// allocation site when the pool was created with Options.Debug. A test that
// ends with a non-empty Leaks has leaked packets. On a Debug pool it is safe
// for concurrent use; on another pool, call it once traffic has stopped (it
// reads the markers that lock-free Allocate and Release write). A nil pool
// returns nil.
func (p *Pool) Leaks() []Leak {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	type raw struct {
		index  int
		queued bool
		site   uintptr
	}
	var out []raw
	for i := range p.packets {
		pk := &p.packets[i]
		st := pk.state
		if st == stateFree {
			continue
		}
		out = append(out, raw{index: i, queued: st == stateQueued, site: pk.site})
	}
	p.mu.Unlock()
	leaks := make([]Leak, 0, len(out))
	for _, r := range out {
		l := Leak{Pool: p.name, Index: r.index, Queued: r.queued}
		if r.site != 0 {
			f, _ := runtime.CallersFrames([]uintptr{r.site}).Next()
			l.Function, l.File, l.Line = f.Function, f.File, f.Line
		}
		leaks = append(leaks, l)
	}
	return leaks
}
