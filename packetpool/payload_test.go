package packetpool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestPayloadSize ports netx_packet_payload_size_test.c: an odd payload
// (202) keeps its exact data_end (not rounded) while the NetX stride is
// rounded to 4, and the "one packet fits" boundary of nx_packet_pool_create.
func TestPayloadSize(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "odd", 202, 4)
	if got := pool.PayloadSize(); got != 202 {
		t.Fatalf("PayloadSize() = %d, want 202", got)
	}
	// stride = round_up(60 + 202, 4) = 264.
	if got := pool.NetXMemorySize(); got != 4*264 {
		t.Fatalf("NetXMemorySize() = %d, want %d", got, 4*264)
	}

	pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	wantErr(t, "Allocate(ctx, TCPPacket, NoWait)", err, nil)
	room := 202 - packetpool.TCPPacket // 126
	wantErr(t, "Append(126 bytes)", pk.Append(ctx, pattern(room, 1), pool, nx.NoWait), nil)
	if pk.Next() != nil {
		t.Fatalf("%d bytes into a 202-byte TCP packet chained; want it to fill exactly", room)
	}
	wantErr(t, "Append(1 byte)", pk.Append(ctx, []byte{0xEE}, pool, nx.NoWait), nil)
	if pk.Next() == nil || len(pk.Next().Bytes()) != 1 {
		t.Fatalf("byte %d did not chain into a second packet", room+1)
	}
	wantErr(t, "Append(202 bytes)", pk.Append(ctx, pattern(202, 2), pool, nx.NoWait), nil)
	lens := []int{}
	for b := range pk.Buffers() {
		lens = append(lens, len(b))
	}
	if want := []int{126, 202, 1}; !equalInts(lens, want) {
		t.Fatalf("buffer lengths = %v, want %v", lens, want)
	}
	mustRelease(t, pk)

	// packet_type boundaries against an odd payload.
	if _, err := pool.Allocate(ctx, 204, nx.NoWait); !isStatus(err, nx.ErrInvalidParameters) {
		t.Fatalf("Allocate(ctx, 204, NoWait) = %v, want %v", err, nx.ErrInvalidParameters)
	}
	pk, err = pool.Allocate(ctx, 200, nx.NoWait)
	wantErr(t, "Allocate(ctx, 200, NoWait)", err, nil)
	wantErr(t, "Append(3 bytes)", pk.Append(ctx, []byte("abc"), pool, nx.NoWait), nil)
	if got := chainBytes(pk); !bytes.Equal(got, []byte("abc")) || len(pk.Bytes()) != 2 {
		t.Fatalf("chain = %q with head %q, want \"abc\" split 2+1", got, pk.Bytes())
	}
	mustRelease(t, pk)
}

// TestNetXPacketCount: the exact "one packet fits" boundary from
// netx_packet_payload_size_test.c: memory starting one byte before an
// aligned address needs 516 + header bytes for one 512-byte packet.
func TestNetXPacketCount(t *testing.T) {
	const hdr = packetpool.NetXPacketHeaderSize
	tests := []struct {
		name    string
		payload int
		start   uintptr
		size    int
		want    int
	}{
		{"aligned exact", 512, 0x1000, 512 + hdr, 1},
		{"aligned one short", 512, 0x1000, 512 + hdr - 1, 0},
		{"start-1, 512+header fails", 512, 0x1000 - 1, 512 + hdr, 0},
		{"start-1, 516+header fits", 512, 0x1000 - 1, 516 + hdr, 1},
		{"odd payload 202", 202, 0x2000, 3 * 264, 3},
		{"odd payload 202, one byte short", 202, 0x2000, 3*264 - 1, 2},
		{"2-byte aligned start", 202, 0x2002, 3 * 264, 2},
		{"memory <= alignment", 1, 0x1000, 4, 0},
		{"zero payload", 0, 0x1000, 4096, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := packetpool.NetXPacketCount(tt.payload, tt.start, tt.size); got != tt.want {
				t.Fatalf("NetXPacketCount(%d, %#x, %d) = %d, want %d", tt.payload, tt.start, tt.size, got, tt.want)
			}
		})
	}
	// NetXMemorySize is exactly what NetX needs for the same pool.
	for _, payload := range []int{1, 64, 202, 512, 1536} {
		for _, count := range []int{1, 3, 16} {
			p, err := packetpool.New(packetpool.Options{PayloadSize: payload, Count: count})
			if err != nil {
				t.Fatal(err)
			}
			size := p.NetXMemorySize()
			if got := packetpool.NetXPacketCount(payload, 0x1000, size); got != count {
				t.Fatalf("NetXPacketCount(%d, aligned, NetXMemorySize() = %d) = %d, want %d", payload, size, got, count)
			}
			if got := packetpool.NetXPacketCount(payload, 0x1000, size-1); got != count-1 {
				t.Fatalf("NetXPacketCount(%d, aligned, %d) = %d, want %d", payload, size-1, got, count-1)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
