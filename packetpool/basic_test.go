package packetpool_test

import (
	"bytes"
	"context"
	"testing"
	"unsafe"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

func isStatus(err error, st nx.Status) bool { return nx.Code(err) == st }

// TestBasic ports netx_packet_basic_test.c: allocation until empty, append,
// copy into another pool, retrieve, info.
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
	if pk, err := pool.Allocate(ctx, packetpool.UDPPacket, nx.NoWait); !isStatus(err, nx.ErrNoPacket) || pk != nil {
		t.Fatalf("4th Allocate(ctx, UDPPacket, NoWait) = %v, %v, want nil, %v", pk, err, nx.ErrNoPacket)
	}
	for _, pk := range pks[1:] {
		mustRelease(t, pk)
	}
	pk := pks[0]
	if got := pk.HeaderRoom(); got != packetpool.UDPPacket {
		t.Fatalf("HeaderRoom() = %d, want %d", got, packetpool.UDPPacket)
	}
	abc := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ  ")
	wantErr(t, "Append(ctx, 28 bytes, pool, NoWait)", pk.Append(ctx, abc, pool, nx.NoWait), nil)
	if got := pk.Length(); got != 28 {
		t.Fatalf("Length() = %d, want 28", got)
	}
	if got := pk.Bytes(); !bytes.Equal(got, abc) {
		t.Fatalf("Bytes() = %q, want %q", got, abc)
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
	if got := cp.HeaderRoom(); got != packetpool.UDPPacket {
		t.Fatalf("copy HeaderRoom() = %d, want %d (headroom preserved)", got, packetpool.UDPPacket)
	}
	mustRelease(t, cp)
	mustRelease(t, pk)

	want := packetpool.Info{Total: 3, Free: 3, EmptyRequests: 1, EmptySuspensions: 0, InvalidReleases: 0, LowWater: 0}
	if got := pool.Info(); got != want {
		t.Fatalf("Info() = %+v, want %+v", got, want)
	}
}

// TestChainGrowthAndCopyAcrossPools ports the chain part of
// netx_packet_basic_test.c: 40-byte appends until the packet chains, then
// copies into pools with smaller and larger payloads, compared byte for byte.
func TestChainGrowthAndCopyAcrossPools(t *testing.T) {
	ctx := context.Background()
	src := newPool(t, "src", 256, 8)
	small := newPool(t, "small", 100, 16)
	large := newPool(t, "large", 1536, 2)

	pk, err := src.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	wantErr(t, "Allocate(ctx, TCPPacket, NoWait)", err, nil)
	defer mustRelease(t, pk)
	var want []byte
	for i := 0; pk.Next() == nil || len(want) < 600; i++ {
		chunk := pattern(40, byte(i))
		wantErr(t, "Append(ctx, 40 bytes, src, NoWait)", pk.Append(ctx, chunk, src, nx.NoWait), nil)
		want = append(want, chunk...)
	}
	if got := chainBytes(pk); !bytes.Equal(got, want) {
		t.Fatalf("chain bytes = %x, want %x", got, want)
	}
	// First buffer: 256-76 = 180 bytes; later buffers full 256.
	if got := len(pk.Bytes()); got != 256-packetpool.TCPPacket {
		t.Fatalf("len(head.Bytes()) = %d, want %d", got, 256-packetpool.TCPPacket)
	}

	for _, dst := range []*packetpool.Pool{small, large, src} {
		t.Run(dst.Name(), func(t *testing.T) {
			cp, err := pk.Copy(ctx, dst, nx.NoWait)
			wantErr(t, "Copy(ctx, dst, NoWait)", err, nil)
			defer mustRelease(t, cp)
			if cp.Length() != pk.Length() {
				t.Fatalf("copy Length() = %d, want %d", cp.Length(), pk.Length())
			}
			buf := make([]byte, cp.Length())
			if n, err := cp.Retrieve(buf); err != nil || !bytes.Equal(buf[:n], want) {
				t.Fatalf("copy Retrieve() = %d, %v; bytes equal = %v", n, err, bytes.Equal(buf[:n], want))
			}
			for q := cp; q != nil; q = q.Next() {
				if q.Pool() != dst {
					t.Fatalf("copy buffer from pool %q, want %q", q.Pool().Name(), dst.Name())
				}
			}
			wantRoom := packetpool.TCPPacket
			if packetpool.TCPPacket > dst.PayloadSize() {
				wantRoom = 0
			}
			if got := cp.HeaderRoom(); got != wantRoom {
				t.Fatalf("copy HeaderRoom() = %d, want %d", got, wantRoom)
			}
		})
	}
}

// TestAppendRollback ports "append larger than the pool can supply fails
// without invalid releases": the original packet is unchanged.
func TestAppendRollback(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 128, 3)
	pk, err := pool.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	first := pattern(100, 1)
	wantErr(t, "Append(ctx, 100 bytes, pool, NoWait)", pk.Append(ctx, first, pool, nx.NoWait), nil)

	// 28 bytes left + 2 free packets of 128 = 284 < 400.
	err = pk.Append(ctx, pattern(400, 2), pool, nx.NoWait)
	if !isStatus(err, nx.ErrNoPacket) {
		t.Fatalf("Append(ctx, 400 bytes, pool, NoWait) = %v, want %v", err, nx.ErrNoPacket)
	}
	if pk.Length() != 100 || pk.Next() != nil || !bytes.Equal(pk.Bytes(), first) {
		t.Fatalf("after failed Append: Length() = %d, Next() = %v, want 100, nil and the original bytes", pk.Length(), pk.Next())
	}
	if got := pool.Info(); got.Free != 2 || got.InvalidReleases != 0 {
		t.Fatalf("Info() = %+v, want Free 2 and InvalidReleases 0", got)
	}
	// The same append fits once the pool has room: 28 + 3*128 >= 400 needs
	// a third packet, so release nothing and append less.
	more := pattern(284, 3)
	wantErr(t, "Append(ctx, 284 bytes, pool, NoWait)", pk.Append(ctx, more, pool, nx.NoWait), nil)
	if got := chainBytes(pk); !bytes.Equal(got, append(append([]byte{}, first...), more...)) {
		t.Fatalf("chain bytes after Append differ")
	}
	if got := pool.Info().Free; got != 0 {
		t.Fatalf("Info().Free = %d, want 0", got)
	}
	mustRelease(t, pk)
}

// TestCopyTargetExhausted ports "copy fails when the target pool is exhausted
// and succeeds into another pool".
func TestCopyTargetExhausted(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 256, 2)
	full := newPool(t, "full", 256, 1)
	other := newPool(t, "other", 64, 8)

	pk, err := pool.Allocate(ctx, packetpool.IPPacket, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, pk)
	wantErr(t, "Append", pk.Append(ctx, pattern(150, 9), pool, nx.NoWait), nil)

	hold, err := full.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate(full)", err, nil)
	if cp, err := pk.Copy(ctx, full, nx.NoWait); !isStatus(err, nx.ErrNoPacket) || cp != nil {
		t.Fatalf("Copy(ctx, full, NoWait) = %v, %v, want nil, %v", cp, err, nx.ErrNoPacket)
	}
	mustRelease(t, hold)

	// other has 64-byte packets: 56 headroom + 150 bytes = 206 bytes need 4
	// packets; with only 3 free the partial copy is rolled back.
	var held []*packetpool.Packet
	for range 5 {
		h, err := other.Allocate(ctx, 0, nx.NoWait)
		wantErr(t, "Allocate(other)", err, nil)
		held = append(held, h)
	}
	if cp, err := pk.Copy(ctx, other, nx.NoWait); !isStatus(err, nx.ErrNoPacket) || cp != nil {
		t.Fatalf("Copy(ctx, other with 3 free, NoWait) = %v, %v, want nil, %v", cp, err, nx.ErrNoPacket)
	}
	if got := other.Info().Free; got != 3 {
		t.Fatalf("other Info().Free = %d after failed copy, want 3 (partial copy released)", got)
	}
	for _, h := range held {
		mustRelease(t, h)
	}
	cp, err := pk.Copy(ctx, other, nx.NoWait)
	wantErr(t, "Copy(ctx, other, NoWait)", err, nil)
	if got, want := chainBytes(cp), chainBytes(pk); !bytes.Equal(got, want) {
		t.Fatalf("copy bytes = %x, want %x", got, want)
	}
	mustRelease(t, cp)
}

// TestTransmitRelease: a packet that is not queued is released as by Release.
func TestTransmitRelease(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 256, 3)
	pk, err := pool.Allocate(ctx, packetpool.TCPPacket, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	wantErr(t, "Append", pk.Append(ctx, pattern(600, 1), pool, nx.NoWait), nil)
	if got := pool.Info().Free; got != 0 {
		t.Fatalf("Info().Free = %d, want 0", got)
	}
	wantErr(t, "TransmitRelease()", pk.TransmitRelease(), nil)
	if got := pool.Info().Free; got != 3 {
		t.Fatalf("Info().Free after TransmitRelease = %d, want 3", got)
	}
}

func TestExtractOffset(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 64, 8)
	data := pattern(200, 5) // head 64-16 = 48 bytes, then 64, 64, 24
	pk, err := pool.Allocate(ctx, packetpool.PhysicalHeader, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, pk)

	empty, err := pool.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, empty)
	if n, err := empty.ExtractOffset(0, make([]byte, 10)); n != 0 || err != nil {
		t.Fatalf("empty.ExtractOffset(0, buf) = %d, %v, want 0, nil", n, err)
	}
	if _, err := empty.ExtractOffset(1, make([]byte, 10)); !isStatus(err, nx.ErrPacketOffset) {
		t.Fatalf("empty.ExtractOffset(1, buf) = %v, want %v", err, nx.ErrPacketOffset)
	}

	wantErr(t, "Append", pk.Append(ctx, data, pool, nx.NoWait), nil)
	tests := []struct {
		name   string
		offset int
		buflen int
		want   []byte
		err    nx.Status
	}{
		{"start", 0, 10, data[:10], 0},
		{"whole", 0, 500, data, 0},
		{"truncated to buffer", 40, 30, data[40:70], 0},
		{"across two boundaries", 47, 70, data[47:117], 0},
		{"exact boundary", 48, 64, data[48:112], 0},
		{"last byte", 199, 10, data[199:], 0},
		{"zero-length buffer", 5, 0, []byte{}, 0},
		{"at end", 200, 10, nil, nx.ErrPacketOffset},
		{"past end", 250, 10, nil, nx.ErrPacketOffset},
		{"negative", -1, 10, nil, nx.ErrPacketOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.buflen)
			n, err := pk.ExtractOffset(tt.offset, buf)
			if tt.err != 0 {
				if !isStatus(err, tt.err) || n != 0 {
					t.Fatalf("ExtractOffset(%d, [%d]) = %d, %v, want 0, %v", tt.offset, tt.buflen, n, err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(buf[:n], tt.want) {
				t.Fatalf("ExtractOffset(%d, [%d]) = %d, %v (%x), want %d, nil (%x)", tt.offset, tt.buflen, n, err, buf[:n], len(tt.want), tt.want)
			}
		})
	}
}

func TestPrependAndTrimFront(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 128, 4)
	pk, err := pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	defer mustRelease(t, pk)
	payload := pattern(150, 3)
	wantErr(t, "Append", pk.Append(ctx, payload, pool, nx.NoWait), nil)

	tcp := pattern(20, 100)
	ip := pattern(20, 200)
	wantErr(t, "Prepend(tcp)", pk.Prepend(tcp), nil)
	wantErr(t, "Prepend(ip)", pk.Prepend(ip), nil)
	if got := pk.HeaderRoom(); got != packetpool.IPv4TCPPacket-40 {
		t.Fatalf("HeaderRoom() = %d, want %d", got, packetpool.IPv4TCPPacket-40)
	}
	if err := pk.Prepend(make([]byte, 17)); !isStatus(err, nx.ErrUnderflow) {
		t.Fatalf("Prepend(17 bytes with 16 of room) = %v, want %v", err, nx.ErrUnderflow)
	}
	want := append(append(append([]byte{}, ip...), tcp...), payload...)
	if got := chainBytes(pk); !bytes.Equal(got, want) || pk.Length() != len(want) {
		t.Fatalf("after Prepend: Length() = %d, bytes equal = %v, want %d, true", pk.Length(), bytes.Equal(got, want), len(want))
	}

	// Trim across the first buffer boundary (head holds 128-16 = 112 bytes).
	for _, n := range []int{0, 40, 100} {
		wantErr(t, "TrimFront", pk.TrimFront(n), nil)
		want = want[n:]
		buf := make([]byte, pk.Length())
		if k, err := pk.Retrieve(buf); err != nil || !bytes.Equal(buf[:k], want) {
			t.Fatalf("after TrimFront(%d): Retrieve() = %d, %v, want %d bytes", n, k, err, len(want))
		}
	}
	if err := pk.TrimFront(pk.Length() + 1); !isStatus(err, nx.ErrInvalidParameters) {
		t.Fatalf("TrimFront(Length()+1) = %v, want %v", err, nx.ErrInvalidParameters)
	}
	wantErr(t, "TrimFront(Length())", pk.TrimFront(pk.Length()), nil)
	if pk.Length() != 0 || len(chainBytes(pk)) != 0 {
		t.Fatalf("after trimming everything: Length() = %d, want 0", pk.Length())
	}
}

func TestLowWaterAndWatermark(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "pool", 64, 5)
	if got := pool.Info().LowWater; got != 5 {
		t.Fatalf("fresh Info().LowWater = %d, want 5", got)
	}
	a, _ := pool.Allocate(ctx, 0, nx.NoWait)
	b, _ := pool.Allocate(ctx, 0, nx.NoWait)
	mustRelease(t, a)
	c, _ := pool.Allocate(ctx, 0, nx.NoWait)
	if got := pool.Info().LowWater; got != 3 {
		t.Fatalf("Info().LowWater = %d, want 3", got)
	}
	mustRelease(t, b)
	mustRelease(t, c)
	if got := pool.Info().LowWater; got != 3 {
		t.Fatalf("Info().LowWater after releases = %d, want 3 (fewest ever)", got)
	}

	if got := pool.LowWatermark(); got != 0 {
		t.Fatalf("LowWatermark() = %d, want 0", got)
	}
	wantErr(t, "SetLowWatermark(2)", pool.SetLowWatermark(2), nil)
	if got := pool.LowWatermark(); got != 2 {
		t.Fatalf("LowWatermark() = %d, want 2", got)
	}
	if err := pool.SetLowWatermark(-1); !isStatus(err, nx.ErrInvalidParameters) {
		t.Fatalf("SetLowWatermark(-1) = %v, want %v", err, nx.ErrInvalidParameters)
	}
}

// TestDataAppend ports netx_packet_data_append_test.c: 4x the payload
// appended to a type-0 packet chains exactly four packets.
func TestDataAppend(t *testing.T) {
	ctx := context.Background()
	for _, payload := range []int{64, 202, 1536} {
		t.Run(itoa(payload), func(t *testing.T) {
			pool := newPool(t, "pool", payload, 8)
			pk, err := pool.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
			wantErr(t, "Allocate", err, nil)
			data := pattern(4*payload, 7)
			wantErr(t, "Append(ctx, 4*payload, pool, NoWait)", pk.Append(ctx, data, pool, nx.NoWait), nil)
			count := 0
			for q := pk; q != nil; q = q.Next() {
				count++
				if len(q.Bytes()) != payload {
					t.Fatalf("buffer %d holds %d bytes, want %d", count, len(q.Bytes()), payload)
				}
			}
			if count != 4 {
				t.Fatalf("chain has %d packets, want 4", count)
			}
			if got := pool.Info().Free; got != 4 {
				t.Fatalf("Info().Free = %d, want 4", got)
			}
			if !bytes.Equal(chainBytes(pk), data) {
				t.Fatalf("chain bytes differ from appended data")
			}
			mustRelease(t, pk)
		})
	}
}

// TestAppendFromOtherPool: continuation packets come from the pool argument
// and Release returns each to its own pool.
func TestAppendFromOtherPool(t *testing.T) {
	ctx := context.Background()
	a := newPool(t, "a", 100, 2)
	b := newPool(t, "b", 50, 10)
	pk, err := a.Allocate(ctx, 0, nx.NoWait)
	wantErr(t, "Allocate", err, nil)
	wantErr(t, "Append(ctx, 300 bytes, b, NoWait)", pk.Append(ctx, pattern(300, 1), b, nx.NoWait), nil)
	if got := a.Info().Free; got != 1 {
		t.Fatalf("a Info().Free = %d, want 1", got)
	}
	if got := b.Info().Free; got != 6 {
		t.Fatalf("b Info().Free = %d, want 6 (200 bytes in 4 packets of 50)", got)
	}
	for q := pk.Next(); q != nil; q = q.Next() {
		if q.Pool() != b {
			t.Fatalf("continuation packet from %q, want %q", q.Pool().Name(), b.Name())
		}
	}
	mustRelease(t, pk)
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestCreateDeleteRecreate ports the first part of netx_packet_basic_test.c:
// pools of various sizes are created, deleted and re-created, and every
// packet's data_start is ULONG aligned.
func TestCreateDeleteRecreate(t *testing.T) {
	ctx := context.Background()
	sizes := []int{1, 3, 202, 256, 1536}
	for round := range 2 {
		var pools []*packetpool.Pool
		for i, payload := range sizes {
			p, err := packetpool.New(packetpool.Options{Name: "pool " + itoa(i), PayloadSize: payload, Count: 3})
			wantErr(t, "New", err, nil)
			pools = append(pools, p)
		}
		for _, p := range pools {
			var held []*packetpool.Packet
			for range 3 {
				pk, err := p.Allocate(ctx, 0, nx.NoWait)
				wantErr(t, "Allocate(ctx, 0, NoWait)", err, nil)
				wantErr(t, "Append", pk.Append(ctx, []byte{byte(round)}, p, nx.NoWait), nil)
				if addr := uintptr(unsafe.Pointer(&pk.Bytes()[0])); addr%4 != 0 {
					t.Fatalf("pool %q payload %d: data_start %#x is not 4-byte aligned", p.Name(), p.PayloadSize(), addr)
				}
				held = append(held, pk)
			}
			for _, pk := range held {
				mustRelease(t, pk)
			}
			assertBalanced(t, p)
			wantErr(t, "Delete()", p.Delete(), nil)
		}
	}
}
