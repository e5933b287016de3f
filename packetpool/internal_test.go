package packetpool

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/simboard/simboard/nx"
)

// TestTimeoutThenHandOff forces the exact race: the wait has already
// expired (Await returned NX_NO_PACKET) when a Release hands the packet to
// the still-queued waiter. The waiter must return the packet, not the
// timeout, or the packet would be lost.
func TestTimeoutThenHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p, err := New(Options{Name: "race", PayloadSize: 64, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		held, _ := p.Allocate(ctx, 0, nx.NoWait)
		var awaitErr error
		testHookAwaitReturned = func(err error) {
			awaitErr = err
			if err := held.Release(); err != nil {
				t.Errorf("Release() inside the race window = %v", err)
			}
		}
		defer func() { testHookAwaitReturned = nil }()
		pk, err := p.Allocate(ctx, 8, nx.Ticks(3))
		if !isStatus(awaitErr, nx.ErrNoPacket) {
			t.Fatalf("Await returned %v, want the timeout %v (race window not reached)", awaitErr, nx.ErrNoPacket)
		}
		if err != nil || pk == nil {
			t.Fatalf("Allocate(ctx, 8, Ticks(3)) = %v, %v, want the handed-off packet", pk, err)
		}
		if pk.HeaderRoom() != 8 {
			t.Fatalf("HeaderRoom() = %d, want 8", pk.HeaderRoom())
		}
		if got := p.Info(); got.Free != 0 || p.SuspendedCount() != 0 {
			t.Fatalf("Info() = %+v, SuspendedCount() = %d, want Free 0 and no waiter", got, p.SuspendedCount())
		}
		if err := pk.Release(); err != nil {
			t.Fatal(err)
		}
		if got := p.Info(); got.Free != 1 || got.InvalidReleases != 0 {
			t.Fatalf("Info() = %+v, want balanced", got)
		}
	})
}

// TestLengthExceedsBytes ports the basic test's corrupted packet: its
// nx_packet_length (30) exceeds the bytes it holds (28), so Retrieve and Copy
// fail with NX_INVALID_PACKET.
func TestLengthExceedsBytes(t *testing.T) {
	ctx := context.Background()
	p, _ := New(Options{Name: "p", PayloadSize: 256, Count: 3})
	pk, _ := p.Allocate(ctx, 0, nx.NoWait)
	if err := pk.Append(ctx, []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ  "), p, nx.NoWait); err != nil {
		t.Fatal(err)
	}
	pk.length = 30
	buf := make([]byte, 64)
	if n, err := pk.Retrieve(buf); !isStatus(err, nx.ErrInvalidPacket) || n != 28 {
		t.Fatalf("Retrieve(buf) = %d, %v, want 28, %v", n, err, nx.ErrInvalidPacket)
	}
	if cp, err := pk.Copy(ctx, p, nx.NoWait); !isStatus(err, nx.ErrInvalidPacket) || cp != nil {
		t.Fatalf("Copy(ctx, p, NoWait) = %v, %v, want nil, %v", cp, err, nx.ErrInvalidPacket)
	}
	pk.length = 28
	if err := pk.Release(); err != nil {
		t.Fatal(err)
	}
	if got := p.Info(); got.Free != 3 || got.InvalidReleases != 0 {
		t.Fatalf("Info() = %+v, want Free 3 (failed copy released) and no invalid releases", got)
	}
}

func TestNetXHeaderLayout(t *testing.T) {
	// Field sizes of NX_PACKET on a 32-bit build, see NetXPacketHeaderSize.
	fields := []struct {
		name string
		size int
	}{
		{"nx_packet_pool_owner", 4}, {"nx_packet_next", 4}, {"nx_packet_prepend_ptr", 4},
		{"nx_packet_append_ptr", 4}, {"nx_packet_data_start", 4}, {"nx_packet_data_end", 4},
		{"nx_packet_last", 4}, {"nx_packet_queue_next", 4}, {"nx_packet_union_next", 4},
		{"nx_packet_length", 4}, {"nx_packet_reassembly_time", 4},
		{"nx_packet_option_state", 1}, {"nx_packet_destination_header", 1}, {"nx_packet_option_offset", 2},
		{"nx_packet_ip_version", 1}, {"nx_packet_identical_copy", 1}, {"nx_packet_ip_header_length", 1}, {"nx_packet_reserved", 1},
		{"nx_packet_address", 4}, {"nx_packet_ip_header", 4},
	}
	sum := 0
	for _, f := range fields {
		sum += f.size
	}
	if sum != NetXPacketHeaderSize || sum%netxAlignment != 0 {
		t.Fatalf("sum of NX_PACKET fields = %d, NetXPacketHeaderSize = %d (alignment %d)", sum, NetXPacketHeaderSize, netxAlignment)
	}
}

func isStatus(err error, st nx.Status) bool { return nx.Code(err) == st }

// TestFreePacketsHaveNoLinks guards the invariant Allocate relies on to skip
// clearing next and last: every packet on the free list has both nil, after
// releases of single packets, chains, hand-edited chains, failed appends and
// copies, and DataAdjust.
func TestFreePacketsHaveNoLinks(t *testing.T) {
	ctx := context.Background()
	p, _ := New(Options{Name: "p", PayloadSize: 64, Count: 8})
	small, _ := New(Options{Name: "small", PayloadSize: 16, Count: 2})
	for round := range 3 {
		a, _ := p.Allocate(ctx, 0, nx.NoWait)
		_ = a.Append(ctx, make([]byte, 150), p, nx.NoWait) // 3 packets
		b, _ := p.Allocate(ctx, 16, nx.NoWait)
		_ = b.Append(ctx, make([]byte, 10), p, nx.NoWait)
		b.last = b // as netx_packet_basic_test does by hand
		c, _ := p.Allocate(ctx, 32, nx.NoWait)
		_ = c.Append(ctx, make([]byte, 32), p, nx.NoWait)
		_ = c.DataAdjust(48) // chains one packet
		if err := a.Append(ctx, make([]byte, 1000), p, nx.NoWait); err == nil {
			t.Fatal("Append beyond the pool succeeded")
		}
		if cp, err := a.Copy(ctx, small, nx.NoWait); err == nil {
			_ = cp.Release()
			t.Fatal("Copy into a too small pool succeeded")
		}
		for _, pk := range []*Packet{a, b, c} {
			if err := pk.Release(); err != nil {
				t.Fatal(err)
			}
		}
		for _, pool := range []*Pool{p, small} {
			for i := range pool.packets {
				pk := &pool.packets[i]
				if pk.state != stateFree || pk.next != nil || pk.last != nil {
					t.Fatalf("round %d: pool %s packet %d: state %#x, next %v, last %v; want free with no links", round, pool.name, i, pk.state, pk.next, pk.last)
				}
			}
		}
	}
}
