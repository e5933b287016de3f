package netstack_test

import (
	"context"
	"errors"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// streamPattern is n bytes whose value depends on the position (a period of
// 251, prime, so no packet or segment size lines up with it): a lost,
// repeated or reordered run shows at the first wrong offset.
func streamPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// chainBytes copies every buffer of a packet chain (Bytes is the head only).
func chainBytes(p *packetpool.Packet) []byte {
	var out []byte
	for b := range p.Buffers() {
		out = append(out, b...)
	}
	return out
}

// TestReceiveShortPool: the server's default pool is 16 packets of 256 bytes
// (C's pool_1 size) and before each Receive the test holds all but k of them
// (k = 1..7), so Receive's chain runs out of packets mid-segment. Receive
// must hand back what fits in the k packets (never NX_NO_PACKET while data is
// queued and a packet is free), keep the rest queued, and the stream must
// arrive whole and in order; every pool ends balanced.
func TestReceiveShortPool(t *testing.T) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	server := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{PayloadSize: 256, Count: 16, Debug: true})
	client := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Debug: true})
	ctx := context.Background()

	c, s := connectPairWindows(t, client, server, server.Addr, 12, 65535, 8192)

	const total = 48 << 10
	want := streamPattern(total)
	sent := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += 1000 {
			end := min(off+1000, total)
			pkt, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.Seconds(5))
			if err == nil {
				err = pkt.Append(ctx, want[off:end], client.Pool, nx.Seconds(5))
				if err == nil {
					err = c.Send(ctx, pkt, nx.Seconds(5))
				}
				if err != nil {
					_ = pkt.Release()
				}
			}
			if err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()

	info := server.Pool.Info()
	var got []byte
	noPacket := 0
	for round := 0; len(got) < total && round < 10000; round++ {
		k := 1 + round%7
		var held []*packetpool.Packet
		for len(held) < info.Total-k {
			p, err := server.Pool.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
			if err != nil {
				t.Fatalf("holding packets: %v (free %d)", err, server.Pool.Info().Free)
			}
			held = append(held, p)
		}
		p, err := s.Receive(ctx, nx.Seconds(5))
		for _, h := range held {
			_ = h.Release()
		}
		if errors.Is(err, nx.ErrNoPacket) {
			// Before the fix: the segment did not fit the k packets and
			// nothing was delivered although the head packet had room.
			noPacket++
			continue
		}
		if err != nil {
			t.Fatalf("receive after %d bytes (%d packets free): %v", len(got), k, err)
		}
		n := 0
		for range p.Buffers() {
			n++
		}
		if n > k {
			t.Errorf("receive with %d packets free returned a chain of %d", k, n)
		}
		got = append(got, chainBytes(p)...)
		if p.Length() != len(chainBytes(p)) {
			t.Errorf("packet length %d, chain holds %d bytes", p.Length(), len(chainBytes(p)))
		}
		_ = p.Release()
	}
	if err := <-sent; err != nil {
		t.Errorf("client send: %v", err)
	}
	if noPacket > 0 {
		t.Errorf("%d receives ended NX_NO_PACKET with data queued and a free packet (want what fits)", noPacket)
	}
	if len(got) != total {
		t.Errorf("received %d bytes, want %d", len(got), total)
	}
	for i := range min(len(got), total) {
		if got[i] != want[i] {
			t.Fatalf("stream differs at byte %d: got %d, want %d", i, got[i], want[i])
		}
	}
	closePair(t, server, c, s, 12)
	boardtest.CheckBalanced(t, server.Pool, client.Pool)
}
