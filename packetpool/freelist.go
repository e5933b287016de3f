package packetpool

import "runtime"

// The free list is a lock-free LIFO stack (a Treiber stack) of packet slots,
// held with the free count in one 64-bit word so that one compare-and-swap
// both moves the top and keeps Info().Free exact:
//
//	bits  0-19  top slot + 1 (0: the list is empty)
//	bits 20-39  free packets
//	bits 40-63  modification tag, bumped by every change (ABA guard)
//
// Each free packet links to the one below it through freeNext (slot + 1).
// Allocate pops with one CAS and Release pushes a whole run of a chain with
// one CAS, so the common path takes no mutex. An Allocate+Release pair costs
// little more than its two CASes: on these machines about 1.2x a sync.Pool
// Get/Put, and half a mutex free list (two lock round trips), measured in
// thread CPU time. Stores before each CAS are kept few (a free packet keeps
// next and last nil, so Allocate need not clear them), since a locked
// instruction waits for the store buffer to drain. Under contention it is
// slower than a mutex (see backoff).
const (
	slotBits   = 20
	slotMask   = 1<<slotBits - 1
	countShift = slotBits
	tagShift   = 2 * slotBits

	// MaxCount is the most packets one pool holds (the free list's slot
	// field). It is far above any MCU pool: a million 64-byte packets.
	MaxCount = slotMask
)

// freeCount returns the number of packets on the free list.
func (p *Pool) freeCount() int {
	return int(p.head.Load() >> countShift & slotMask)
}

// pop takes the top packet off the free list, or returns nil when the list
// is empty. It records a new low-water mark.
func (p *Pool) pop() *Packet {
	for ; ; backoff() {
		h := p.head.Load()
		top := h & slotMask
		if top == 0 {
			return nil
		}
		pk := &p.packets[top-1]
		next := uint64(pk.freeNext.Load())
		n := h>>countShift&slotMask - 1
		if p.head.CompareAndSwap(h, next|n<<countShift|(h>>tagShift+1)<<tagShift) {
			p.noteLow(int64(n))
			return pk
		}
	}
}

// push puts the run first..last of n packets, already linked through
// freeNext, on top of the free list.
func (p *Pool) push(first, last *Packet, n int) {
	for ; ; backoff() {
		h := p.head.Load()
		setLink(last, uint32(h&slotMask))
		c := h>>countShift&slotMask + uint64(n)
		if p.head.CompareAndSwap(h, uint64(first.index+1)|c<<countShift|(h>>tagShift+1)<<tagShift) {
			return
		}
	}
}

// setLink points pk's free-list link at slot+1 v. Only the goroutine
// releasing pk writes its link, so when the link already holds v (a packet
// popped and pushed back onto the same top, the common LIFO case) the store,
// an exchange on x86, is skipped.
func setLink(pk *Packet, v uint32) {
	if pk.freeNext.Load() != v {
		pk.freeNext.Store(v)
	}
}

// noteLow lowers the low-water mark to n if n is below it.
func (p *Pool) noteLow(n int64) {
	for {
		lw := p.lowWater.Load()
		if n >= lw || p.lowWater.CompareAndSwap(lw, n) {
			return
		}
	}
}

// backoff runs after a failed compare-and-swap: another core changed the
// free list under us. Spinning keeps the two cores bouncing the list's cache
// line on every attempt (about 90 ns per Allocate+Release pair with two
// goroutines at it); yielding lets the other finish a few operations from its
// own cache first (about 39 ns; a mutex free list measures 34 ns).
func backoff() {
	runtime.Gosched()
}
