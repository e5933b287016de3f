package packetpool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// pkt2k is the sync.Pool baseline's element: a packet-sized struct, as in
// reference/anchors.md §6.
type pkt2k struct {
	n int
	//lint:ignore U1000 the element's size, not its contents, is the baseline
	buf [2048]byte
}

func benchPool(b *testing.B, payload, count int) *packetpool.Pool {
	b.Helper()
	p, err := packetpool.New(packetpool.Options{Name: "bench", PayloadSize: payload, Count: count})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if info := p.Info(); info.Free != info.Total || info.InvalidReleases != 0 {
			b.Errorf("pool unbalanced after benchmark: %+v", info)
		}
	})
	return p
}

// BenchmarkSyncPoolGetPut is the baseline: sync.Pool Get/Put of a 2 KiB
// packet struct, measured in the same run as BenchmarkAllocateRelease.
func BenchmarkSyncPoolGetPut(b *testing.B) {
	sp := sync.Pool{New: func() any { return new(pkt2k) }}
	b.ReportAllocs()
	reportCPU(b)
	for b.Loop() {
		p := sp.Get().(*pkt2k)
		p.n++
		sp.Put(p)
	}
}

// BenchmarkSyncPoolGetPutParallel is the baseline for the parallel case.
func BenchmarkSyncPoolGetPutParallel(b *testing.B) {
	sp := sync.Pool{New: func() any { return new(pkt2k) }}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := sp.Get().(*pkt2k)
			p.n++
			sp.Put(p)
		}
	})
}

// mutexFreeList is the floor for any bounded pool with exact counts: one
// mutex round trip per Get and per Put over a LIFO list (the "mutex
// free-list" of reference/anchors.md §6). It shows how much of
// BenchmarkAllocateRelease is the two lock round trips themselves.
type mutexFreeList struct {
	mu   sync.Mutex
	head *listPkt
}

type listPkt struct {
	pkt2k
	next *listPkt
}

func (f *mutexFreeList) get() *listPkt {
	f.mu.Lock()
	p := f.head
	if p != nil {
		f.head = p.next
	}
	f.mu.Unlock()
	return p
}

func (f *mutexFreeList) put(p *listPkt) {
	f.mu.Lock()
	p.next = f.head
	f.head = p
	f.mu.Unlock()
}

// BenchmarkMutexFreeListGetPut is the second baseline (bounded, mutex).
func BenchmarkMutexFreeListGetPut(b *testing.B) {
	f := &mutexFreeList{}
	for range 64 {
		f.put(new(listPkt))
	}
	b.ReportAllocs()
	reportCPU(b)
	for b.Loop() {
		p := f.get()
		p.n++
		f.put(p)
	}
}

func BenchmarkAllocateRelease(b *testing.B) {
	ctx := context.Background()
	pool := benchPool(b, 2048, 64)
	b.ReportAllocs()
	reportCPU(b)
	for b.Loop() {
		pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
		if err != nil {
			b.Fatal(err)
		}
		if err := pk.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllocateReleaseParallel(b *testing.B) {
	ctx := context.Background()
	pool := benchPool(b, 2048, 1024)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
			if err != nil {
				b.Error(err)
				return
			}
			if err := pk.Release(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchAppend measures Allocate + Append(n bytes) + Release.
func benchAppend(b *testing.B, payload, packetType, n int) {
	ctx := context.Background()
	pool := benchPool(b, payload, 64)
	data := pattern(n, 1)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		pk, err := pool.Allocate(ctx, packetType, nx.NoWait)
		if err != nil {
			b.Fatal(err)
		}
		if err := pk.Append(ctx, data, pool, nx.NoWait); err != nil {
			b.Fatal(err)
		}
		if err := pk.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppend64: a 64-byte append within one TCP packet.
func BenchmarkAppend64(b *testing.B) { benchAppend(b, 1536, packetpool.TCPPacket, 64) }

// BenchmarkAppend1500: a full Ethernet frame into one receive packet.
func BenchmarkAppend1500(b *testing.B) { benchAppend(b, 1536, packetpool.ReceivePacket, 1500) }

// BenchmarkAppendChain9000: a jumbo payload chained over 6 packets of 1536.
func BenchmarkAppendChain9000(b *testing.B) { benchAppend(b, 1536, packetpool.ReceivePacket, 9000) }

// BenchmarkCopy: nx_packet_copy of a 1460-byte TCP segment into another pool.
func BenchmarkCopy(b *testing.B) {
	ctx := context.Background()
	src := benchPool(b, 1536, 4)
	dst := benchPool(b, 1536, 4)
	pk, err := src.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	if err != nil {
		b.Fatal(err)
	}
	if err := pk.Append(ctx, pattern(1460, 3), src, nx.NoWait); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pk.Release() })
	b.SetBytes(1460)
	b.ReportAllocs()
	for b.Loop() {
		cp, err := pk.Copy(ctx, dst, nx.NoWait)
		if err != nil {
			b.Fatal(err)
		}
		if err := cp.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestZeroAllocs gates the zero-allocation paths.
func TestZeroAllocs(t *testing.T) {
	ctx := context.Background()
	// newPool enables Debug; the gate is about the default fast path.
	plain, err := packetpool.New(packetpool.Options{Name: "plain", PayloadSize: 1536, Count: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer assertBalanced(t, plain)
	data64 := pattern(64, 1)
	data9000 := pattern(9000, 2)
	buf := make([]byte, 9000)
	src, _ := plain.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	_ = src.Append(ctx, data64, plain, nx.NoWait)
	defer mustRelease(t, src)

	tests := []struct {
		name string
		fn   func()
	}{
		{"Allocate+Release", func() {
			pk, _ := plain.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
			_ = pk.Release()
		}},
		{"Allocate+Append64+Release", func() {
			pk, _ := plain.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
			_ = pk.Append(ctx, data64, plain, nx.NoWait)
			_ = pk.Release()
		}},
		{"Append chain 9000+Retrieve+ExtractOffset", func() {
			pk, _ := plain.Allocate(ctx, 0, nx.NoWait)
			_ = pk.Append(ctx, data9000, plain, nx.NoWait)
			_, _ = pk.Retrieve(buf)
			_, _ = pk.ExtractOffset(4000, buf[:100])
			_ = pk.Release()
		}},
		{"Copy+Release", func() {
			cp, _ := src.Copy(ctx, plain, nx.NoWait)
			_ = cp.Release()
		}},
		{"empty pool NoWait", func() {
			var held [16]*packetpool.Packet
			for i := range held {
				held[i], _ = plain.Allocate(ctx, 0, nx.NoWait)
			}
			_, _ = plain.Allocate(ctx, 0, nx.NoWait)
			for _, pk := range held {
				if pk != nil {
					_ = pk.Release()
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(200, tt.fn); n != 0 {
				t.Fatalf("AllocsPerRun(%s) = %v, want 0", tt.name, n)
			}
		})
	}
}
