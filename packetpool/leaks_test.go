package packetpool_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// leakyAllocate allocates a packet and returns the line of the Allocate call.
func leakyAllocate(t *testing.T, p *packetpool.Pool) (*packetpool.Packet, int) {
	_, _, line, _ := runtime.Caller(0)
	pk, err := p.Allocate(context.Background(), packetpool.TCPPacket, nx.NoWait) // line+1
	if err != nil {
		t.Fatal(err)
	}
	return pk, line + 1
}

func TestLeaksNameAllocationSite(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "debug", 128, 4)
	kept, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	leaked, line := leakyAllocate(t, pool)

	leaks := pool.Leaks()
	if len(leaks) != 2 {
		t.Fatalf("Leaks() = %v, want 2 outstanding packets", leaks)
	}
	var found bool
	for _, l := range leaks {
		if !strings.HasSuffix(l.Function, ".leakyAllocate") {
			continue
		}
		found = true
		if !strings.HasSuffix(l.File, "leaks_test.go") || l.Line != line || l.Pool != "debug" {
			t.Fatalf("leak = %+v, want leaks_test.go:%d in pool \"debug\"", l, line)
		}
		if s := l.String(); !strings.Contains(s, "leaks_test.go:") || !strings.Contains(s, "leakyAllocate") {
			t.Fatalf("Leak.String() = %q, want file:line and function", s)
		}
	}
	if !found {
		t.Fatalf("Leaks() = %v, want one allocated by leakyAllocate", leaks)
	}

	// Packets chained by Append are attributed to Append's caller.
	_, _, appendLine, _ := runtime.Caller(0)
	wantErr(t, "Append", kept.Append(ctx, pattern(200, 1), pool, nx.NoWait), nil) // appendLine+1
	var appended int
	for _, l := range pool.Leaks() {
		if strings.HasSuffix(l.Function, ".TestLeaksNameAllocationSite") && l.Line == appendLine+1 {
			appended++
		}
	}
	if appended != 1 {
		t.Fatalf("Leaks() = %v, want the chained packet attributed to line %d", pool.Leaks(), appendLine+1)
	}

	mustRelease(t, leaked)
	mustRelease(t, kept)
	if leaks := pool.Leaks(); len(leaks) != 0 {
		t.Fatalf("Leaks() after releases = %v, want none", leaks)
	}
}

func TestLeaksWithoutDebug(t *testing.T) {
	pool, err := packetpool.New(packetpool.Options{Name: "plain", PayloadSize: 64, Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := pool.Allocate(context.Background(), 0, nx.NoWait)
	leaks := pool.Leaks()
	if len(leaks) != 1 || leaks[0].File != "" || leaks[0].Pool != "plain" {
		t.Fatalf("Leaks() = %+v, want one leak without a site", leaks)
	}
	mustRelease(t, pk)
	assertBalanced(t, pool)
}

// TestLeaksHandOffSite: a packet handed to a suspended allocator is
// attributed to that allocator's call site, not to the releaser's.
func TestLeaksHandOffSite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := newPool(t, "handoff", 64, 1)
		held, _ := pool.Allocate(context.Background(), 0, nx.NoWait)
		type got struct {
			pk   *packetpool.Packet
			line int
		}
		res := make(chan got, 1)
		go func() {
			_, _, line, _ := runtime.Caller(0)
			pk, err := pool.Allocate(context.Background(), 8, nx.WaitForever) // line+1
			if err != nil {
				t.Errorf("Allocate(ctx, 8, WaitForever) = %v", err)
			}
			res <- got{pk, line + 1}
		}()
		synctest.Wait()
		mustRelease(t, held)
		r := <-res
		leaks := pool.Leaks()
		if len(leaks) != 1 || leaks[0].Line != r.line || !strings.HasSuffix(leaks[0].File, "leaks_test.go") {
			t.Fatalf("Leaks() = %v, want one packet allocated at leaks_test.go:%d", leaks, r.line)
		}
		mustRelease(t, r.pk)
	})
}
