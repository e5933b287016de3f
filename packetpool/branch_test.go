package packetpool_test

import (
	"context"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestBranchDoubleRelease ports netx_packet_branch_test.c's double release:
// NX_PTR_ERROR and one invalid release on the owner pool.
func TestBranchDoubleRelease(t *testing.T) {
	ctx := context.Background()
	pool := newPoolUnchecked(t, "pool", 256, 3)
	pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	mustRelease(t, pk)
	if err := pk.Release(); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("second Release() = %v, want %v", err, nx.ErrPtr)
	}
	want := packetpool.Info{Total: 3, Free: 3, InvalidReleases: 1, LowWater: 2}
	if got := pool.Info(); got != want {
		t.Fatalf("Info() = %+v, want %+v", got, want)
	}
	if leaks := pool.Leaks(); len(leaks) != 0 {
		t.Fatalf("Leaks() = %v, want none", leaks)
	}
}

// TestBranchChainStopsAtInvalid: the release walk stops at the first packet
// that is not allocated, counting it on that packet's own pool; packets
// before it are already released (NetX behaviour).
func TestBranchChainStopsAtInvalid(t *testing.T) {
	ctx := context.Background()
	a := newPoolUnchecked(t, "a", 32, 4)
	b := newPoolUnchecked(t, "b", 32, 4)
	head, _ := a.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Append", head.Append(ctx, pattern(100, 1), b, nx.NoWait), nil) // a:1, b:3 (32+32+32+4)
	second := head.Next()
	// Release the chain's tail part on its own (a misuse NetX also allows):
	// second, third and fourth go back to b.
	mustRelease(t, second)
	if got := b.Info().Free; got != 4 {
		t.Fatalf("b Info().Free = %d, want 4", got)
	}
	if err := head.Release(); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Release() of a chain whose tail is free = %v, want %v", err, nx.ErrPtr)
	}
	if got, want := a.Info(), (packetpool.Info{Total: 4, Free: 4, LowWater: 3}); got != want {
		t.Fatalf("a Info() = %+v, want %+v (head released before the walk stopped)", got, want)
	}
	if got := b.Info(); got.InvalidReleases != 1 || got.Free != 4 {
		t.Fatalf("b Info() = %+v, want InvalidReleases 1 and Free 4", got)
	}
}

// TestBranchTransmitReleaseQueued ports the transmit_release-on-a-queued-TCP-
// packet branch: the driver's release does not free a packet still on a TCP
// queue; the queue frees it once acknowledged, in either order.
func TestBranchTransmitReleaseQueued(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 256, 2)

	t.Run("driver first", func(t *testing.T) {
		pk, _ := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
		wantErr(t, "Append", pk.Append(ctx, pattern(300, 1), pool, nx.NoWait), nil)
		wantErr(t, "MarkQueued()", pk.MarkQueued(), nil)
		if !pk.Queued() {
			t.Fatalf("Queued() = false after MarkQueued()")
		}
		wantErr(t, "TransmitRelease()", pk.TransmitRelease(), nil)
		if got := pool.Info().Free; got != 0 {
			t.Fatalf("Info().Free = %d after TransmitRelease of a queued packet, want 0", got)
		}
		wantErr(t, "ReleaseQueued()", pk.ReleaseQueued(), nil) // ACK after TX done: freed now
		if got := pool.Info().Free; got != 2 {
			t.Fatalf("Info().Free = %d after ReleaseQueued, want 2", got)
		}
	})
	t.Run("ack first", func(t *testing.T) {
		pk, _ := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
		wantErr(t, "MarkQueued()", pk.MarkQueued(), nil)
		wantErr(t, "ReleaseQueued()", pk.ReleaseQueued(), nil) // driver still has it
		if got := pool.Info().Free; got != 1 || pk.Queued() {
			t.Fatalf("Info().Free = %d, Queued() = %v after ReleaseQueued before TX done, want 1, false", got, pk.Queued())
		}
		wantErr(t, "TransmitRelease()", pk.TransmitRelease(), nil) // driver frees it
		if got := pool.Info().Free; got != 2 {
			t.Fatalf("Info().Free = %d, want 2", got)
		}
	})
	t.Run("unmark", func(t *testing.T) {
		pk, _ := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
		wantErr(t, "MarkQueued()", pk.MarkQueued(), nil)
		if err := pk.MarkQueued(); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("second MarkQueued() = %v, want %v", err, nx.ErrPtr)
		}
		wantErr(t, "UnmarkQueued()", pk.UnmarkQueued(), nil)
		if err := pk.UnmarkQueued(); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("second UnmarkQueued() = %v, want %v", err, nx.ErrPtr)
		}
		mustRelease(t, pk)
	})
}

// TestBranchReleaseWhileQueued: a user Release of a packet a TCP queue holds
// is NX_PTR_ERROR with an invalid release, as NetX.
func TestBranchReleaseWhileQueued(t *testing.T) {
	ctx := context.Background()
	pool := newPoolUnchecked(t, "pool", 64, 1)
	pk, _ := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "MarkQueued()", pk.MarkQueued(), nil)
	if err := pk.Release(); !isStatus(err, nx.ErrPtr) {
		t.Fatalf("Release() of a queued packet = %v, want %v", err, nx.ErrPtr)
	}
	if leaks := pool.Leaks(); len(leaks) != 1 || !leaks[0].Queued {
		t.Fatalf("Leaks() = %v, want one queued packet", leaks)
	}
	wantErr(t, "UnmarkQueued()", pk.UnmarkQueued(), nil)
	mustRelease(t, pk)
	if got := pool.Info(); got.Free != 1 || got.InvalidReleases != 1 {
		t.Fatalf("Info() = %+v, want Free 1 and InvalidReleases 1", got)
	}
}

// TestQueuedTransmitAndAckRace: the driver's TransmitRelease and the TCP
// queue's ReleaseQueued run concurrently; in either order the packet is
// freed exactly once.
func TestQueuedTransmitAndAckRace(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 128, 2)
	for i := range 300 {
		pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
		wantErr(t, "Allocate", err, nil)
		wantErr(t, "Append", pk.Append(ctx, pattern(100, byte(i)), pool, nx.NoWait), nil)
		wantErr(t, "MarkQueued()", pk.MarkQueued(), nil)
		errs := make(chan error, 2)
		go func() { errs <- pk.TransmitRelease() }()
		go func() { errs <- pk.ReleaseQueued() }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("iteration %d: TransmitRelease/ReleaseQueued = %v, want nil", i, err)
			}
		}
		if got := pool.Info(); got.Free != 2 || got.InvalidReleases != 0 {
			t.Fatalf("iteration %d: Info() = %+v, want Free 2 and no invalid releases", i, got)
		}
	}
}
