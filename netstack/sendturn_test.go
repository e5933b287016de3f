package netstack_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// TestSendTwoGoroutinesNoInterleave: two goroutines Send 6000-byte packets
// (each its own byte value) on one socket whose send buffer (4096) is smaller
// than a packet, so every Send is written in parts and waits for the window
// in between. As NetX serialises sends on a socket, the other goroutine must
// not slip its bytes in between the parts: the stream must be whole
// 6000-byte runs of one value. Pools end balanced.
func TestSendTwoGoroutinesNoInterleave(t *testing.T) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{TCP: netstack.TCPOptions{SendBufferSize: 4096}, Debug: true})
	ctx := context.Background()

	c, s := connectPairWindows(t, client, server, server.Addr, 12, 65535, 65535)

	const size, perSender = 6000, 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*perSender)
	for _, fill := range []byte{'0', '1'} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := bytes.Repeat([]byte{fill}, size)
			for range perSender {
				pkt, err := client.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.Seconds(5))
				if err != nil {
					errs <- err
					return
				}
				if err := pkt.Append(ctx, buf, client.Pool, nx.Seconds(5)); err != nil {
					_ = pkt.Release()
					errs <- err
					return
				}
				if err := c.Send(ctx, pkt, nx.Seconds(10)); err != nil {
					_ = pkt.Release()
					errs <- err
					return
				}
			}
		}()
	}

	const total = 2 * perSender * size
	var got []byte
	for len(got) < total {
		p, err := s.Receive(ctx, nx.Seconds(10))
		if err != nil {
			t.Errorf("receive after %d of %d bytes: %v", len(got), total, err)
			break
		}
		got = append(got, chainBytes(p)...)
		_ = p.Release()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client: %v", err)
	}
	if len(got) != total {
		t.Errorf("received %d bytes, want %d", len(got), total)
	}
	for off := 0; off+size <= len(got); off += size {
		run := got[off : off+size]
		if bytes.Count(run, run[:1]) != size {
			i := bytes.IndexFunc(run, func(r rune) bool { return byte(r) != run[0] })
			t.Fatalf("bytes %d..%d are not one sender's packet: byte %d is %q after %q", off, off+size, off+i, run[i], run[0])
		}
	}
	closePair(t, server, c, s, 12)
	boardtest.CheckBalanced(t, server.Pool, client.Pool)
}
