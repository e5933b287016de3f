package packetpool_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

type allocResult struct {
	pk  *packetpool.Packet
	err error
}

// TestSuspension ports netx_packet_suspension_test.c: thread 0 holds every
// packet; threads 1 and 2 each try a 10-tick allocate (NX_NO_PACKET) then
// wait forever; thread 0 releases two packets, handed straight to them.
func TestSuspension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pool := newPool(t, "pool 0", 256, 3)
		var held []*packetpool.Packet
		for range 3 {
			pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
			wantErr(t, "Allocate(ctx, TCPPacket, NoWait)", err, nil)
			held = append(held, pk)
		}

		types := []int{packetpool.TCPPacket, packetpool.UDPPacket}
		results := make([]chan allocResult, len(types))
		for i, typ := range types {
			results[i] = make(chan allocResult, 1)
			go func() {
				start := time.Now()
				pk, err := pool.Allocate(ctx, typ, nx.Ticks(10))
				if !isStatus(err, nx.ErrNoPacket) || pk != nil {
					t.Errorf("thread %d: Allocate(ctx, %d, Ticks(10)) = %v, %v, want nil, %v", i+1, typ, pk, err, nx.ErrNoPacket)
				}
				if d := time.Since(start); d != 10*nx.TickDuration {
					t.Errorf("thread %d: Allocate(ctx, %d, Ticks(10)) returned after %v, want %v", i+1, typ, d, 10*nx.TickDuration)
				}
				pk, err = pool.Allocate(ctx, typ, nx.WaitForever)
				results[i] <- allocResult{pk, err}
			}()
		}
		// Let both timed waits expire and both threads suspend forever.
		time.Sleep(time.Second)
		synctest.Wait()
		if got := pool.SuspendedCount(); got != 2 {
			t.Fatalf("SuspendedCount() = %d, want 2", got)
		}
		mustRelease(t, held[0])
		mustRelease(t, held[1])
		got := make([]*packetpool.Packet, len(types))
		for i := range types {
			r := <-results[i]
			if r.err != nil {
				t.Fatalf("thread %d: Allocate(ctx, %d, WaitForever) = %v, want nil", i+1, types[i], r.err)
			}
			if r.pk.HeaderRoom() != types[i] || r.pk.Length() != 0 || r.pk.Next() != nil {
				t.Fatalf("thread %d: handed-off packet HeaderRoom() = %d, Length() = %d, want %d, 0 (re-initialised for the waiter)", i+1, r.pk.HeaderRoom(), r.pk.Length(), types[i])
			}
			got[i] = r.pk
		}
		want := packetpool.Info{Total: 3, Free: 0, EmptyRequests: 4, EmptySuspensions: 4, InvalidReleases: 0, LowWater: 0}
		if info := pool.Info(); info != want {
			t.Fatalf("Info() = %+v, want %+v", info, want)
		}
		mustRelease(t, held[2])
		for _, pk := range got {
			mustRelease(t, pk)
		}
	})
}

// TestFIFOHandOff: waiters are served in arrival order, each release hands
// one packet to the first waiter without it ever becoming free.
func TestFIFOHandOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pool := newPool(t, "fifo", 128, 2)
		a, _ := pool.Allocate(ctx, 0, nx.NoWait)
		b, _ := pool.Allocate(ctx, 0, nx.NoWait)

		const n = 4
		results := make([]chan allocResult, n)
		for i := range n {
			results[i] = make(chan allocResult, 1)
			typ := 4 * i
			go func() {
				pk, err := pool.Allocate(ctx, typ, nx.Seconds(60))
				results[i] <- allocResult{pk, err}
			}()
			synctest.Wait() // waiter i is suspended before waiter i+1 starts
		}
		if got := pool.SuspendedCount(); got != n {
			t.Fatalf("SuspendedCount() = %d, want %d", got, n)
		}
		release := []*packetpool.Packet{a, b}
		for i := range n {
			mustRelease(t, release[0])
			release = release[1:]
			synctest.Wait()
			if info := pool.Info(); info.Free != 0 {
				t.Fatalf("after release %d: Info().Free = %d, want 0 (handed off)", i, info.Free)
			}
			for j := range n {
				select {
				case r := <-results[j]:
					if j != i {
						t.Fatalf("release %d served waiter %d, want waiter %d (FIFO)", i, j, i)
					}
					wantErr(t, "Allocate(ctx, type, Seconds(60))", r.err, nil)
					if r.pk.HeaderRoom() != 4*i {
						t.Fatalf("waiter %d got HeaderRoom() = %d, want %d", i, r.pk.HeaderRoom(), 4*i)
					}
					release = append(release, r.pk)
				default:
					if j == i {
						t.Fatalf("release %d did not serve waiter %d", i, i)
					}
				}
			}
		}
		for _, pk := range release {
			mustRelease(t, pk)
		}
		if got := pool.Info(); got.EmptySuspensions != n || got.Free != 2 {
			t.Fatalf("Info() = %+v, want EmptySuspensions %d and Free 2", got, n)
		}
	})
}

func TestDeleteWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		pool := newPoolUnchecked(t, "doomed", 64, 1)
		held, _ := pool.Allocate(ctx, 0, nx.NoWait)
		errs := make(chan error, 2)
		for _, w := range []nx.Wait{nx.WaitForever, nx.Seconds(5)} {
			go func() {
				pk, err := pool.Allocate(ctx, 0, w)
				if pk != nil {
					t.Errorf("Allocate(ctx, 0, %v) on a deleted pool returned a packet", w)
				}
				errs <- err
			}()
		}
		synctest.Wait()
		wantErr(t, "Delete()", pool.Delete(), nil)
		for range 2 {
			if err := <-errs; !isStatus(err, nx.ErrPoolDeleted) {
				t.Fatalf("suspended Allocate after Delete() = %v, want %v", err, nx.ErrPoolDeleted)
			}
		}
		if got := pool.SuspendedCount(); got != 0 {
			t.Fatalf("SuspendedCount() = %d, want 0", got)
		}
		if err := pool.Delete(); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("second Delete() = %v, want %v", err, nx.ErrPtr)
		}
		if _, err := pool.Allocate(ctx, 0, nx.NoWait); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("Allocate on a deleted pool = %v, want %v", err, nx.ErrPtr)
		}
		// As NetX: the owner pool is invalid, so the release is refused
		// without counting an invalid release.
		if err := held.Release(); !isStatus(err, nx.ErrPtr) {
			t.Fatalf("Release() of a deleted pool's packet = %v, want %v", err, nx.ErrPtr)
		}
		if got := pool.Info().InvalidReleases; got != 0 {
			t.Fatalf("Info().InvalidReleases = %d, want 0", got)
		}
	})
}

func TestCancelAborts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := newPool(t, "pool", 64, 1)
		held, _ := pool.Allocate(context.Background(), 0, nx.NoWait)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() {
			_, err := pool.Allocate(ctx, 0, nx.WaitForever)
			errs <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errs; !isStatus(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Allocate(cancelled ctx, 0, WaitForever) = %v, want %v wrapping %v", err, nx.ErrWaitAborted, context.Canceled)
		}
		if got := pool.SuspendedCount(); got != 0 {
			t.Fatalf("SuspendedCount() = %d after abort, want 0", got)
		}
		// An already-cancelled context aborts at once too, before it looks
		// at the pool: no empty request, no suspension.
		if _, err := pool.Allocate(ctx, 0, nx.Ticks(5)); !isStatus(err, nx.ErrWaitAborted) {
			t.Fatalf("Allocate(cancelled ctx, 0, Ticks(5)) = %v, want %v", err, nx.ErrWaitAborted)
		}
		// The aborted waiter is gone: a release frees the packet.
		mustRelease(t, held)
		if got := pool.Info(); got.Free != 1 || got.EmptyRequests != 1 || got.EmptySuspensions != 1 {
			t.Fatalf("Info() = %+v, want Free 1, EmptyRequests 1 and EmptySuspensions 1", got)
		}
	})
}

// TestTimeoutRacesHandOff releases at the instant a waiter's timeout fires.
// Whichever wins, the packet is never lost: the waiter either owns it or it
// is back on the free list.
func TestTimeoutRacesHandOff(t *testing.T) {
	outcomes := map[bool]int{}
	defer func() { t.Logf("hand-off won %d times, timeout won %d times", outcomes[true], outcomes[false]) }()
	for i := range 60 {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			pool := newPool(t, "race", 64, 1)
			held, _ := pool.Allocate(ctx, 0, nx.NoWait)
			res := make(chan allocResult, 1)
			go func() {
				pk, err := pool.Allocate(ctx, 0, nx.Ticks(10))
				res <- allocResult{pk, err}
			}()
			synctest.Wait()
			time.Sleep(10*nx.TickDuration - time.Duration(i%3)) // same instant, or just before
			mustRelease(t, held)
			r := <-res
			outcomes[r.err == nil]++
			switch {
			case r.err == nil:
				if got := pool.Info().Free; got != 0 {
					t.Fatalf("waiter got the packet but Info().Free = %d, want 0", got)
				}
				mustRelease(t, r.pk)
			case isStatus(r.err, nx.ErrNoPacket):
				if got := pool.Info().Free; got != 1 {
					t.Fatalf("waiter timed out but Info().Free = %d, want 1", got)
				}
			default:
				t.Fatalf("Allocate(ctx, 0, Ticks(10)) = %v, want nil or %v", r.err, nx.ErrNoPacket)
			}
		})
	}
}

// TestConcurrentStress: goroutines allocating with short waits, appending
// across pools and releasing, on the real clock. Run with -race; the
// property is conservation: every pool ends balanced.
func TestConcurrentStress(t *testing.T) {
	for _, debug := range []bool{false, true} {
		t.Run(fmt.Sprintf("Debug=%v", debug), func(t *testing.T) { concurrentStress(t, debug) })
	}
}

// concurrentStress mixes pools, chains, waits and timeouts from 8 goroutines:
// the Debug pool takes the mutex path, the other the lock-free one.
func concurrentStress(t *testing.T, debug bool) {
	ctx := context.Background()
	a := newPoolOpts(t, packetpool.Options{Name: "a", PayloadSize: 64, Count: 6, Debug: debug})
	b := newPoolOpts(t, packetpool.Options{Name: "b", PayloadSize: 128, Count: 4, Debug: debug})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				p, other := a, b
				if (g+i)%2 == 0 {
					p, other = b, a
				}
				wait := nx.Wait(i % 3) // NoWait, 1 tick, 2 ticks
				pk, err := p.Allocate(ctx, 4*(i%4), wait)
				if err != nil {
					if !isStatus(err, nx.ErrNoPacket) {
						t.Errorf("Allocate = %v, want nil or %v", err, nx.ErrNoPacket)
					}
					continue
				}
				data := pattern(1+(i*37)%300, byte(i))
				if err := pk.Append(ctx, data, other, wait); err != nil && !isStatus(err, nx.ErrNoPacket) {
					t.Errorf("Append = %v", err)
				} else if err == nil {
					buf := make([]byte, pk.Length())
					if n, err := pk.Retrieve(buf); err != nil || n != len(data) || string(buf) != string(data) {
						t.Errorf("Retrieve = %d, %v, want %d bytes back", n, err, len(data))
					}
				}
				if err := pk.Release(); err != nil {
					t.Errorf("Release = %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// TestNoLostHandOff stresses the window the lock-free free list leaves open:
// 8 goroutines share 2 packets, each allocation waiting up to 30 s. A release
// that misses a suspended allocator (pushing after the allocator looked at
// the free list, and not seeing it suspended) leaves a packet free while the
// allocator waits; if nobody allocates after it, the wait times out with
// NX_NO_PACKET. (TestTimeoutThenHandOff and TestLeaksHandOffSite cover the
// hand-off itself deterministically.)
func TestNoLostHandOff(t *testing.T) {
	ctx := context.Background()
	p := newPoolOpts(t, packetpool.Options{Name: "tiny", PayloadSize: 64, Count: 2})
	const goroutines, rounds = 8, 2000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				pk, err := p.Allocate(ctx, 0, nx.Seconds(30))
				if err != nil {
					t.Errorf("Allocate = %v, want a packet (a hand-off was lost)", err)
					return
				}
				runtime.Gosched() // hold it while others find the pool empty
				if err := pk.Release(); err != nil {
					t.Errorf("Release = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	info := p.Info()
	if info.Free != 2 || info.InvalidReleases != 0 || info.LowWater != 0 || p.SuspendedCount() != 0 {
		t.Errorf("Info() = %+v, SuspendedCount() = %d; want 2 free, low water 0, none suspended", info, p.SuspendedCount())
	}
	if info.EmptySuspensions == 0 {
		t.Errorf("Info() = %+v: no allocation ever suspended, so no hand-off was tested", info)
	}
}
