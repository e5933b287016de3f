package packetpool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestCopyKeepsHeaderRoom is issue 10 §3 "Copy keeps header room as NetX
// does": nx_packet_copy appends the source head from data_start, header room
// included, then sets the copy's prepend pointer to the same offset. With
// header room equal to the target payload the copy takes one packet more
// than the data needs and its head holds no data.
func TestCopyKeepsHeaderRoom(t *testing.T) {
	ctx := context.Background()
	src := newPool(t, "src", 256, 2)
	tests := []struct {
		name       string
		payload    int // target pool payload
		headerRoom int // source packet type
		data       int
		packets    int // packets in the copy
	}{
		{"room below payload, fits", 200, 64, 100, 1},
		{"room below payload, spills", 100, 64, 100, 2},        // 164 bytes from data_start
		{"room equal to payload", 92, 92, 28, 2},               // the basic test's case
		{"room equal to payload, data spills", 92, 92, 100, 3}, // 92 + 92 + 8
		{"room above payload", 64, 92, 28, 1},                  // NetX overruns; here no room
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newPool(t, "dst", tt.payload, 8)
			pk, err := src.Allocate(ctx, tt.headerRoom, nx.NoWait)
			wantErr(t, "Allocate", err, nil)
			defer mustRelease(t, pk)
			data := pattern(tt.data, 3)
			wantErr(t, "Append", pk.Append(ctx, data, src, nx.NoWait), nil)
			cp, err := pk.Copy(ctx, dst, nx.NoWait)
			wantErr(t, "Copy(ctx, dst, NoWait)", err, nil)
			defer mustRelease(t, cp)
			n := 0
			for q := cp; q != nil; q = q.Next() {
				n++
			}
			wantRoom := tt.headerRoom
			if wantRoom > tt.payload {
				wantRoom = 0
			}
			if n != tt.packets || cp.HeaderRoom() != wantRoom || cp.Length() != tt.data || !bytes.Equal(chainBytes(cp), data) {
				t.Fatalf("Copy: %d packets, HeaderRoom() %d, Length() %d, bytes equal %v; want %d, %d, %d, true",
					n, cp.HeaderRoom(), cp.Length(), bytes.Equal(chainBytes(cp), data), tt.packets, wantRoom, tt.data)
			}
			if wantRoom == tt.payload && len(cp.Bytes()) != 0 {
				t.Fatalf("copy head holds %d bytes, want 0 (prepend at data_end)", len(cp.Bytes()))
			}
		})
	}
}

// TestNilBufferIsPtrError: _nxe_packet_data_retrieve and
// _nxe_packet_data_extract_offset return NX_PTR_ERROR for a NULL buffer.
func TestNilBufferIsPtrError(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 64, 1)
	pk, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, pk)
	wantErr(t, "Append", pk.Append(ctx, []byte("abc"), pool, nx.NoWait), nil)
	if _, err := pk.Retrieve(nil); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Retrieve(nil) = %v, want %v", err, nx.ErrPtr)
	}
	if _, err := pk.ExtractOffset(0, nil); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("ExtractOffset(0, nil) = %v, want %v", err, nx.ErrPtr)
	}
	if n, err := pk.ExtractOffset(1, []byte{}); n != 0 || err != nil {
		t.Fatalf("ExtractOffset(1, empty non-nil buffer) = %d, %v, want 0, nil", n, err)
	}
}

// TestDataAdjust ports the _nx_packet_data_adjust part of
// netx_packet_branch_test.c (a 256-byte pool): a header larger than the
// payload fails; an odd header that needs a new packet fails; an even one
// chains a packet. The cases between (room already there, room made by
// moving the data) follow nx_packet_data_adjust.c.
func TestDataAdjust(t *testing.T) {
	ctx := context.Background()
	buffer := pattern(256, 9)
	pool := newPool(t, "pool_0", 256, 8)

	// Branch test lines 82-87: header 512 > payload 256.
	pk, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	if err := pk.DataAdjust(512); !isStatus(err, nx.ErrUnderflow) {
		t.Fatalf("DataAdjust(512) = %v, want %v", err, nx.ErrUnderflow)
	}
	mustRelease(t, pk)

	// Lines 90-96: type 128, 256 bytes appended (128 in the head, 128
	// chained): an odd 255 needs a new packet and is not supported.
	pk, _ = pool.Allocate(ctx, 128, nx.NoWait)
	wantErr(t, "Append", pk.Append(ctx, buffer, pool, nx.NoWait), nil)
	if err := pk.DataAdjust(255); !isStatus(err, nx.ErrNotSupported) {
		t.Fatalf("DataAdjust(255) = %v, want %v", err, nx.ErrNotSupported)
	}
	if pk.HeaderRoom() != 128 || !bytes.Equal(chainBytes(pk), buffer) || pool.Info().Free != 6 {
		t.Fatalf("after a failed DataAdjust: HeaderRoom() %d, Free %d, want 128, 6 and the bytes unchanged", pk.HeaderRoom(), pool.Info().Free)
	}
	mustRelease(t, pk)

	// Lines 98-104: the same with 256 succeeds: the head's 128 bytes move
	// to a new packet linked after it, the head keeps 256 bytes of room.
	pk, _ = pool.Allocate(ctx, 128, nx.NoWait)
	wantErr(t, "Append", pk.Append(ctx, buffer, pool, nx.NoWait), nil)
	wantErr(t, "DataAdjust(256)", pk.DataAdjust(256), nil)
	n := 0
	for q := pk; q != nil; q = q.Next() {
		n++
	}
	if n != 3 || pk.HeaderRoom() != 256 || len(pk.Bytes()) != 0 || pk.Length() != 256 || !bytes.Equal(chainBytes(pk), buffer) {
		t.Fatalf("DataAdjust(256): %d packets, HeaderRoom() %d, head bytes %d, Length() %d; want 3, 256, 0, 256 and the same bytes",
			n, pk.HeaderRoom(), len(pk.Bytes()), pk.Length())
	}
	// The chain still appends at its end and releases whole.
	wantErr(t, "Append after DataAdjust", pk.Append(ctx, []byte("xyz"), pool, nx.NoWait), nil)
	if got := chainBytes(pk); !bytes.Equal(got, append(append([]byte{}, buffer...), "xyz"...)) {
		t.Fatalf("chain after append = %d bytes, want the 256 then xyz", len(got))
	}
	mustRelease(t, pk)

	// Room already there: nothing moves.
	pk, _ = pool.Allocate(ctx, 64, nx.NoWait)
	wantErr(t, "Append", pk.Append(ctx, buffer[:50], pool, nx.NoWait), nil)
	wantErr(t, "DataAdjust(40)", pk.DataAdjust(40), nil)
	if pk.HeaderRoom() != 64 {
		t.Fatalf("DataAdjust(40) with 64 of room: HeaderRoom() = %d, want 64", pk.HeaderRoom())
	}
	// Room made by moving the data back within the packet (64 + 142 free).
	wantErr(t, "DataAdjust(200)", pk.DataAdjust(200), nil)
	if pk.HeaderRoom() != 200 || !bytes.Equal(pk.Bytes(), buffer[:50]) || pk.Next() != nil {
		t.Fatalf("DataAdjust(200): HeaderRoom() %d, bytes equal %v, Next %v; want 200, true, nil", pk.HeaderRoom(), bytes.Equal(pk.Bytes(), buffer[:50]), pk.Next())
	}
	if err := pk.DataAdjust(-1); !isStatus(err, nx.ErrUnderflow) {
		t.Fatalf("DataAdjust(-1) = %v, want %v", err, nx.ErrUnderflow)
	}
	mustRelease(t, pk)

	// The new packet comes from the head's pool with NX_NO_WAIT.
	one := newPool(t, "one", 64, 1)
	pk, _ = one.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Append", pk.Append(ctx, buffer[:64], one, nx.NoWait), nil)
	if err := pk.DataAdjust(16); !isStatus(err, nx.ErrNoPacket) {
		t.Fatalf("DataAdjust(16) on an empty pool = %v, want %v", err, nx.ErrNoPacket)
	}
	if got := one.Info().EmptyRequests; got != 1 {
		t.Fatalf("Info().EmptyRequests = %d, want 1", got)
	}
	mustRelease(t, pk)
}

// TestCarveFromMemory is issue 10 §3's constructor: Options.MemorySize
// carves exactly the packets _nx_packet_pool_create carves on a 32-bit
// build. Each want is worked out by hand: stride = round_up(60 + payload, 4),
// packets = floor(round_down(memory, 4) / stride).
func TestCarveFromMemory(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		payload, memory        int
		stride, packets, waste int
	}{
		{1536, 15360, 1596, 9, 996},   // 9*1596 = 14364, not 10 packets
		{1536, 1596, 1596, 1, 0},      // exactly one
		{1536, 1599, 1596, 1, 3},      // round_down(1599, 4) = 1596
		{92, 456, 152, 3, 0},          // the basic test's pool_0
		{92, 1000, 152, 6, 88},        // its pool_1
		{256, 8192, 316, 25, 292},     // its pool_2, the branch test's pool
		{252, 8192, 312, 26, 80},      // its pool_4
		{202, 1000, 264, 3, 208},      // odd payload: 262 rounds to 264
		{1, 100, 64, 1, 36},           // 61 rounds to 64
		{512, 512 * 16, 572, 14, 184}, // the TCP RFC tests' pool: 14*572 = 8008
	}
	for _, tt := range tests {
		t.Run(itoa(tt.payload)+"/"+itoa(tt.memory), func(t *testing.T) {
			p := newPoolOpts(t, packetpool.Options{Name: "carved", PayloadSize: tt.payload, MemorySize: tt.memory})
			want := packetpool.Carve{MemorySize: tt.memory, HeaderSize: 60, PayloadSize: tt.payload, PacketSize: tt.stride,
				Packets: tt.packets, Wasted: tt.waste, FromMemory: true}
			if got := p.Carve(); got != want {
				t.Fatalf("Carve() = %+v, want %+v", got, want)
			}
			if got := packetpool.NetXPacketCount(tt.payload, 0x1000, tt.memory); got != tt.packets {
				t.Fatalf("NetXPacketCount(%d, aligned, %d) = %d, want %d", tt.payload, tt.memory, got, tt.packets)
			}
			// The pool really holds that many packets.
			var held []*packetpool.Packet
			for {
				pk, err := p.Allocate(ctx, 0, nx.NoWait)
				if err != nil {
					if !isStatus(err, nx.ErrNoPacket) {
						t.Fatalf("Allocate = %v, want %v once empty", err, nx.ErrNoPacket)
					}
					break
				}
				held = append(held, pk)
			}
			if len(held) != tt.packets || p.Info().Total != tt.packets {
				t.Fatalf("allocated %d packets (Total %d), want %d", len(held), p.Info().Total, tt.packets)
			}
			for _, pk := range held {
				mustRelease(t, pk)
			}
		})
	}
	if got, want := mustNew(t, packetpool.Options{PayloadSize: 1536, MemorySize: 15360}).Carve().String(),
		"15360 bytes carve 9 packets of 1596 (60 header + 1536 payload, 4-byte aligned), 996 bytes unused"; got != want {
		t.Fatalf("Carve().String() = %q, want %q", got, want)
	}
	// A pool sized by Count reports the memory that carves it, nothing wasted.
	if got := mustNew(t, packetpool.Options{PayloadSize: 1536, Count: 10}).Carve(); got.MemorySize != 15960 || got.Packets != 10 || got.Wasted != 0 || got.FromMemory {
		t.Fatalf("Carve() of a Count pool = %+v, want 15960 bytes, 10 packets, none wasted", got)
	}
	// _nxe_packet_pool_create's NX_SIZE_ERROR cases.
	for _, o := range []packetpool.Options{
		{PayloadSize: 1536, MemorySize: 1595}, // one stride does not fit
		{PayloadSize: 1, MemorySize: 4},       // pool_size <= NX_PACKET_ALIGNMENT
		{PayloadSize: 1, MemorySize: -64},
		{PayloadSize: 0, MemorySize: 4096},
		{PayloadSize: 64, MemorySize: 4096, Count: 3}, // both
	} {
		if _, err := packetpool.New(o); !isStatus(err, nx.ErrSize) {
			t.Fatalf("New(%+v) = %v, want %v", o, err, nx.ErrSize)
		}
	}
}

func mustNew(t *testing.T, o packetpool.Options) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(o)
	if err != nil {
		t.Fatalf("New(%+v) = %v", o, err)
	}
	return p
}

// TestNetXPacketDataAppend ports
// test/regression/netxduo_test/netx_packet_data_append_test.c as written: a
// pool of TEST_SIZE (92-byte) packets carved from (92 + sizeof(NX_PACKET)) *
// 10 bytes, a type-0 packet, and two appends of 4*TEST_SIZE bytes that must
// both succeed (8 packets, every one exactly full), then a release.
func TestNetXPacketDataAppend(t *testing.T) {
	const testSize = packetpool.UDPPacket + 28
	ctx := context.Background()
	pool := newPoolOpts(t, packetpool.Options{Name: "pool_0", PayloadSize: testSize, MemorySize: (testSize + packetpool.NetXPacketHeaderSize) * 10})
	if got := pool.Info().Total; got != 10 {
		t.Fatalf("pool_0 carved %d packets, want 10", got)
	}
	pk, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "nx_packet_allocate(&pool_0, 0, NX_NO_WAIT)", err, nil)
	buffer := pattern(4*testSize, 1)
	wantErr(t, "nx_packet_data_append(4*TEST_SIZE)", pk.Append(ctx, buffer, pool, nx.NoWait), nil)
	wantErr(t, "nx_packet_data_append(4*TEST_SIZE) again", pk.Append(ctx, buffer, pool, nx.NoWait), nil)
	n := 0
	for q := pk; q != nil; q = q.Next() {
		n++
		if len(q.Bytes()) != testSize {
			t.Fatalf("packet %d holds %d bytes, want %d", n, len(q.Bytes()), testSize)
		}
	}
	if n != 8 || pk.Length() != 8*testSize || !bytes.Equal(chainBytes(pk), append(append([]byte{}, buffer...), buffer...)) {
		t.Fatalf("chain: %d packets, Length() %d; want 8 packets of %d bytes holding both appends", n, pk.Length(), testSize)
	}
	wantErr(t, "nx_packet_release", pk.Release(), nil)
}
