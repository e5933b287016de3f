package packetpool_test

import (
	"context"
	"math"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestNXEPoolCreate ports the create checks of netx_packet_nxe_api_test.c
// that Go can express: sizes that NetX rejects with NX_SIZE_ERROR.
func TestNXEPoolCreate(t *testing.T) {
	tests := []struct {
		name           string
		payload, count int
		want           nx.Status
	}{
		{"zero payload", 0, 4, nx.ErrSize},
		{"negative payload", -1, 4, nx.ErrSize},
		{"zero count", 256, 0, nx.ErrSize},
		{"negative count", 256, -3, nx.ErrSize},
		{"beyond 32-bit memory", 1 << 20, 1 << 12, nx.ErrSize},
		{"payload beyond ULONG", math.MaxUint32 + 1, 1, nx.ErrSize},
		{"count beyond MaxCount", 4, packetpool.MaxCount + 1, nx.ErrSize},
		{"one byte, one packet", 1, 1, nx.Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := packetpool.New(packetpool.Options{Name: tt.name, PayloadSize: tt.payload, Count: tt.count})
			if got := nx.Code(err); got != tt.want {
				t.Fatalf("New(PayloadSize %d, Count %d) = %v, want %v", tt.payload, tt.count, err, tt.want)
			}
			if (p == nil) != (tt.want != nx.Success) {
				t.Fatalf("New(PayloadSize %d, Count %d) pool = %v with error %v", tt.payload, tt.count, p, err)
			}
		})
	}
}

// TestNXENilReceivers: a NULL pool or packet is NX_PTR_ERROR, never a panic.
func TestNXENilReceivers(t *testing.T) {
	ctx := context.Background()
	var p *packetpool.Pool
	var pk *packetpool.Packet
	good := newPool(t, "good", 64, 2)

	errCalls := []struct {
		name string
		call func() error
	}{
		{"nil pool Allocate", func() error { _, err := p.Allocate(ctx, 0, nx.NoWait); return err }},
		{"nil pool Delete", func() error { return p.Delete() }},
		{"nil pool SetLowWatermark", func() error { return p.SetLowWatermark(1) }},
		{"nil packet Release", func() error { return pk.Release() }},
		{"nil packet TransmitRelease", func() error { return pk.TransmitRelease() }},
		{"nil packet Append", func() error { return pk.Append(ctx, []byte("x"), good, nx.NoWait) }},
		{"nil packet Prepend", func() error { return pk.Prepend([]byte("x")) }},
		{"nil packet TrimFront", func() error { return pk.TrimFront(0) }},
		{"nil packet Retrieve", func() error { _, err := pk.Retrieve(make([]byte, 8)); return err }},
		{"nil packet ExtractOffset", func() error { _, err := pk.ExtractOffset(0, make([]byte, 8)); return err }},
		{"nil packet Copy", func() error { _, err := pk.Copy(ctx, good, nx.NoWait); return err }},
		{"nil packet MarkQueued", func() error { return pk.MarkQueued() }},
		{"nil packet UnmarkQueued", func() error { return pk.UnmarkQueued() }},
		{"nil packet ReleaseQueued", func() error { return pk.ReleaseQueued() }},
		{"zero Packet Release (NULL owner)", func() error { return new(packetpool.Packet).Release() }},
		{"zero Packet Append (NULL owner)", func() error { return new(packetpool.Packet).Append(ctx, []byte("x"), good, nx.NoWait) }},
	}
	for _, c := range errCalls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !isStatus(err, nx.ErrPtr) {
				t.Fatalf("%s = %v, want %v", c.name, err, nx.ErrPtr)
			}
		})
	}
	t.Run("nil accessors", func(t *testing.T) {
		if p.Info() != (packetpool.Info{}) || p.Leaks() != nil || p.Name() != "" || p.PayloadSize() != 0 ||
			p.NetXMemorySize() != 0 || p.LowWatermark() != 0 || p.SuspendedCount() != 0 {
			t.Fatalf("nil *Pool accessors returned non-zero values")
		}
		if pk.Length() != 0 || pk.Next() != nil || pk.Bytes() != nil || pk.Pool() != nil || pk.HeaderRoom() != 0 || pk.Queued() {
			t.Fatalf("nil *Packet accessors returned non-zero values")
		}
		for range pk.Buffers() {
			t.Fatalf("nil *Packet Buffers() yielded a buffer")
		}
	})
}

// TestNXEAllocate: packet type checks (nxe NX_OPTION_ERROR, core
// NX_INVALID_PARAMETERS) and a deleted pool (zeroed ID: NX_PTR_ERROR).
func TestNXEAllocate(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 100, 2)
	tests := []struct {
		typ  int
		want nx.Status
	}{
		{0, nx.Success},
		{4, nx.Success},
		{100, nx.Success}, // type == payload: no room left, still valid
		{2, nx.ErrOption},
		{3, nx.ErrOption},
		{77, nx.ErrOption},
		{104, nx.ErrInvalidParameters},
		{-4, nx.ErrInvalidParameters},
		{-3, nx.ErrOption},
	}
	for _, tt := range tests {
		pk, err := pool.Allocate(ctx, tt.typ, nx.NoWait)
		if got := nx.Code(err); got != tt.want {
			t.Fatalf("Allocate(ctx, %d, NoWait) = %v, want %v", tt.typ, err, tt.want)
		}
		if err == nil {
			if pk.HeaderRoom() != tt.typ {
				t.Fatalf("Allocate(ctx, %d, NoWait).HeaderRoom() = %d", tt.typ, pk.HeaderRoom())
			}
			mustRelease(t, pk)
		}
	}
	if got := pool.Info().EmptyRequests; got != 0 {
		t.Fatalf("Info().EmptyRequests = %d after argument errors, want 0", got)
	}

	deleted := newPoolUnchecked(t, "deleted", 64, 1)
	wantErr(t, "Delete()", deleted.Delete(), nil)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"Allocate", func() error { _, err := deleted.Allocate(ctx, 0, nx.NoWait); return err }()},
		{"SetLowWatermark", deleted.SetLowWatermark(1)},
		{"Delete", deleted.Delete()},
	} {
		if !isStatus(c.err, nx.ErrPtr) {
			t.Fatalf("deleted pool %s = %v, want %v", c.name, c.err, nx.ErrPtr)
		}
	}
	// _nxe_packet_allocate checks the pool before the packet type: a
	// deleted pool with a bad type is NX_PTR_ERROR, not NX_OPTION_ERROR.
	for _, typ := range []int{3, 1 << 20} {
		if _, err := deleted.Allocate(ctx, typ, nx.NoWait); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("deleted pool Allocate(ctx, %d, NoWait) = %v, want %v (pool checked first)", typ, err, nx.ErrPtr)
		}
	}
	pk, _ := pool.Allocate(ctx, 0, nx.NoWait)
	defer mustRelease(t, pk)
	if err := pk.Append(ctx, []byte("x"), deleted, nx.NoWait); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Append(ctx, data, deleted pool, NoWait) = %v, want %v", err, nx.ErrPtr)
	}
	wantErr(t, "Append", pk.Append(ctx, []byte("x"), pool, nx.NoWait), nil)
	if _, err := pk.Copy(ctx, deleted, nx.NoWait); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Copy(ctx, deleted pool, NoWait) = %v, want %v", err, nx.ErrPtr)
	}
}

// TestNXEPacketArguments: bad arguments to packet services.
func TestNXEPacketArguments(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 64, 4)
	pk, err := pool.Allocate(ctx, packetpool.PhysicalHeader, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, pk)

	// NULL data_start is NX_PTR_ERROR, before the size check.
	if err := pk.Append(ctx, nil, pool, nx.NoWait); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Append(ctx, nil, pool, NoWait) = %v, want %v", err, nx.ErrPtr)
	}
	if err := pk.Append(ctx, []byte{}, pool, nx.NoWait); !isStatus(err, nx.ErrSize) {
		t.Fatalf("Append(ctx, []byte{}, pool, NoWait) = %v, want %v", err, nx.ErrSize)
	}
	if err := pk.Append(ctx, []byte("x"), nil, nx.NoWait); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Append(ctx, data, nil, NoWait) = %v, want %v", err, nx.ErrPtr)
	}
	if _, err := pk.Copy(ctx, nil, nx.NoWait); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Copy(ctx, nil, NoWait) = %v, want %v", err, nx.ErrPtr)
	}
	if _, err := pk.Copy(ctx, pool, nx.NoWait); !isStatus(err, nx.ErrInvalidPacket) {
		t.Fatalf("Copy of an empty packet = %v, want %v", err, nx.ErrInvalidPacket)
	}
	wantErr(t, "Append", pk.Append(ctx, pattern(100, 1), pool, nx.NoWait), nil)
	if _, err := pk.Retrieve(make([]byte, 99)); !isStatus(err, nx.ErrSize) {
		t.Fatalf("Retrieve(99-byte buffer) of 100 bytes = %v, want %v", err, nx.ErrSize)
	}
	if err := pk.Prepend(make([]byte, packetpool.PhysicalHeader+4)); !isStatus(err, nx.ErrUnderflow) {
		t.Fatalf("Prepend(20 bytes) with 16 bytes of room = %v, want %v", err, nx.ErrUnderflow)
	}
	if err := pk.TrimFront(-1); !isStatus(err, nx.ErrInvalidParameters) {
		t.Fatalf("TrimFront(-1) = %v, want %v", err, nx.ErrInvalidParameters)
	}
	if err := pool.SetLowWatermark(-1); !isStatus(err, nx.ErrInvalidParameters) {
		t.Fatalf("SetLowWatermark(-1) = %v, want %v", err, nx.ErrInvalidParameters)
	}
	if got := pool.Info().InvalidReleases; got != 0 {
		t.Fatalf("Info().InvalidReleases = %d after argument errors, want 0", got)
	}
}

// TestNXEReleasedPacketUse: every service refuses a packet that is back in
// its pool (NX_PTR_ERROR); only releases count as invalid releases.
func TestNXEReleasedPacketUse(t *testing.T) {
	ctx := context.Background()
	pool := newPoolUnchecked(t, "pool", 64, 2)
	pk, _ := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Append", pk.Append(ctx, []byte("hello"), pool, nx.NoWait), nil)
	mustRelease(t, pk)

	calls := []struct {
		name    string
		call    func() error
		invalid int // invalid releases counted by this call
	}{
		{"Append", func() error { return pk.Append(ctx, []byte("x"), pool, nx.NoWait) }, 0},
		{"Prepend", func() error { return pk.Prepend([]byte("x")) }, 0},
		{"TrimFront", func() error { return pk.TrimFront(0) }, 0},
		{"Retrieve", func() error { _, err := pk.Retrieve(make([]byte, 64)); return err }, 0},
		{"ExtractOffset", func() error { _, err := pk.ExtractOffset(0, make([]byte, 8)); return err }, 0},
		{"Copy", func() error { _, err := pk.Copy(ctx, pool, nx.NoWait); return err }, 0},
		{"MarkQueued", func() error { return pk.MarkQueued() }, 0},
		{"Release", func() error { return pk.Release() }, 1},
		{"TransmitRelease", func() error { return pk.TransmitRelease() }, 1},
		{"ReleaseQueued", func() error { return pk.ReleaseQueued() }, 1},
	}
	for _, c := range calls {
		before := pool.Info().InvalidReleases
		if err := c.call(); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("%s on a released packet = %v, want %v", c.name, err, nx.ErrPtr)
		}
		if got := pool.Info().InvalidReleases - before; got != c.invalid {
			t.Fatalf("%s on a released packet counted %d invalid releases, want %d", c.name, got, c.invalid)
		}
	}
	if got := pool.Info(); got.Free != 2 || got.InvalidReleases != 3 {
		t.Fatalf("Info() = %+v, want Free 2 and InvalidReleases 3", got)
	}
}
