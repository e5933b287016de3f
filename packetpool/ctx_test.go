package packetpool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestAllocateDoneContextTakesNothing is issue 9 §2's root cause: an Allocate
// with free packets looked at the context only when it had to wait, so a
// cancelled caller still got a packet (and sent it). A done context now
// returns NX_WAIT_ABORTED, wrapping ctx.Err(), whatever the wait option, and
// the pool is untouched: no packet taken, no counter changed.
func TestAllocateDoneContextTakesNothing(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		cause error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	} {
		for _, wait := range []nx.Wait{nx.NoWait, nx.Ticks(5), nx.WaitForever} {
			t.Run(c.name+"/"+wait.String(), func(t *testing.T) {
				pool := newPool(t, "pool", 256, 4)
				pk, err := pool.Allocate(c.ctx, packetpool.TCPPacket, wait)
				if pk != nil || !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, c.cause) || nx.Code(err) != nx.ErrWaitAborted {
					t.Fatalf("Allocate(%s ctx, TCPPacket, %v) = %v, %v, want nil, %v wrapping %v", c.name, wait, pk, err, nx.ErrWaitAborted, c.cause)
				}
				want := packetpool.Info{Total: 4, Free: 4, LowWater: 4}
				if got := pool.Info(); got != want {
					t.Fatalf("Info() after aborted Allocate = %+v, want %+v (nothing taken)", got, want)
				}
			})
		}
	}

	// The services that allocate for the caller abort the same way and
	// leave what the caller holds unchanged.
	pool := newPool(t, "pool", 64, 4)
	ctx := context.Background()
	pk, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate(ctx, 0, NoWait)", err, nil)
	defer mustRelease(t, pk)
	wantErr(t, "Append(ctx, 60 bytes)", pk.Append(ctx, pattern(60, 1), pool, nx.NoWait), nil)
	if err := pk.Append(cancelled, pattern(10, 2), pool, nx.WaitForever); !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Append(cancelled ctx, 10 bytes past the packet) = %v, want %v wrapping %v", err, nx.ErrWaitAborted, context.Canceled)
	}
	if pk.Length() != 60 || pk.Next() != nil || pool.Info().Free != 3 {
		t.Fatalf("after aborted Append: Length() = %d, Next() = %v, Free = %d, want 60, nil, 3", pk.Length(), pk.Next(), pool.Info().Free)
	}
	if cp, err := pk.Copy(expired, pool, nx.WaitForever); cp != nil || !errors.Is(err, context.DeadlineExceeded) || nx.Code(err) != nx.ErrWaitAborted {
		t.Fatalf("Copy(expired ctx) = %v, %v, want nil, %v wrapping %v", cp, err, nx.ErrWaitAborted, context.DeadlineExceeded)
	}
	if got := pool.Info(); got.Free != 3 || got.EmptyRequests != 0 {
		t.Fatalf("Info() after aborted Copy = %+v, want Free 3 and no empty request", got)
	}

	// The aborted path does not allocate either.
	if n := testing.AllocsPerRun(100, func() { _, _ = pool.Allocate(cancelled, 0, nx.NoWait) }); n != 0 {
		t.Fatalf("AllocsPerRun(Allocate(cancelled ctx)) = %v, want 0", n)
	}
}

// TestAllocateLiveContext: a context that is not done costs nothing and
// changes nothing (it is checked without blocking).
func TestAllocateLiveContext(t *testing.T) {
	pool := newPool(t, "pool", 64, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pk, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate(live ctx, 0, NoWait)", err, nil)
	mustRelease(t, pk)
	plain, err := packetpool.New(packetpool.Options{Name: "plain", PayloadSize: 64, Count: 1})
	wantErr(t, "New", err, nil)
	if n := testing.AllocsPerRun(100, func() {
		pk, _ := plain.Allocate(ctx, 0, nx.NoWait)
		_ = pk.Release()
	}); n != 0 {
		t.Fatalf("AllocsPerRun(Allocate(live ctx)+Release) = %v, want 0", n)
	}
	assertBalanced(t, plain)
}
