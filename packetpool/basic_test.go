package packetpool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestBasic ports the core of netx_packet_basic_test.c.
func TestBasic(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool 0", 256, 3)
	pool2 := newPool(t, "pool 1", 256, 3)

	var pks [3]*packetpool.Packet
	for i := range pks {
		pk, err := pool.Allocate(ctx, packetpool.UDPPacket, nx.NoWait)
		wantErr(t, "Allocate(ctx, UDPPacket, NoWait)", err, nil)
		pks[i] = pk
	}
	if _, err := pool.Allocate(ctx, packetpool.UDPPacket, nx.NoWait); !isStatus(err, nx.ErrNoPacket) {
		t.Fatalf("4th Allocate(ctx, UDPPacket, NoWait) = %v, want %v", err, nx.ErrNoPacket)
	}
	for _, pk := range pks[1:] {
		mustRelease(t, pk)
	}
	pk := pks[0]
	abc := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ  ")
	wantErr(t, "Append(ctx, 28 bytes, pool, NoWait)", pk.Append(ctx, abc, pool, nx.NoWait), nil)
	if got := pk.Length(); got != 28 {
		t.Fatalf("Length() = %d, want 28", got)
	}
	cp, err := pk.Copy(ctx, pool2, nx.NoWait)
	wantErr(t, "Copy(ctx, pool2, NoWait)", err, nil)
	buf := make([]byte, 64)
	n, err := cp.Retrieve(buf)
	wantErr(t, "Retrieve(buf)", err, nil)
	if !bytes.Equal(buf[:n], abc) {
		t.Fatalf("Retrieve(buf) = %q, want %q", buf[:n], abc)
	}
	if cp.Pool() != pool2 {
		t.Fatalf("copy Pool() = %q, want %q", cp.Pool().Name(), pool2.Name())
	}
	mustRelease(t, cp)
	mustRelease(t, pk)

	info := pool.Info()
	want := packetpool.Info{Total: 3, Free: 3, EmptyRequests: 1, EmptySuspensions: 0, InvalidReleases: 0, LowWater: 0}
	if info != want {
		t.Fatalf("Info() = %+v, want %+v", info, want)
	}
}

func isStatus(err error, st nx.Status) bool { return nx.Code(err) == st }
