package packetpool_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// fuzzType maps a fuzz byte to a valid packet type for payload pay.
func fuzzType(sel uint8, pay int) int {
	return min(int(sel)*4, pay/4*4)
}

// buildChain allocates a packet of type typ from pool and appends data in
// chunks whose sizes cycle through splits (1..256 bytes each).
func buildChain(t *testing.T, pool *packetpool.Pool, typ int, data, splits []byte) *packetpool.Packet {
	t.Helper()
	ctx := context.Background()
	pk, err := pool.Allocate(ctx, typ, nx.NoWait)
	if err != nil {
		t.Fatalf("Allocate(ctx, %d, NoWait) = %v", typ, err)
	}
	for i := 0; len(data) > 0; i++ {
		n := len(data)
		if len(splits) > 0 {
			n = min(n, 1+int(splits[i%len(splits)]))
		}
		if err := pk.Append(ctx, data[:n], pool, nx.NoWait); err != nil {
			t.Fatalf("Append(ctx, %d bytes, pool, NoWait) = %v", n, err)
		}
		data = data[n:]
	}
	return pk
}

// packetsFor returns how many packets of payload pay a chain of n bytes
// needs when the head reserves typ bytes.
func packetsFor(n, pay, typ int) int {
	first := pay - typ
	if n <= first {
		return 1
	}
	return 1 + (n-first+pay-1)/pay
}

func FuzzAppend(f *testing.F) {
	f.Add([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), uint16(256), uint8(19), uint8(3), []byte{27})
	f.Add(bytes.Repeat([]byte{0x55}, 1000), uint16(100), uint8(0), uint8(5), []byte{39, 200, 0})
	f.Add([]byte{1, 2, 3}, uint16(0), uint8(1), uint8(0), []byte{})
	f.Add(bytes.Repeat([]byte("x"), 300), uint16(201), uint8(50), uint8(1), []byte{255})
	f.Fuzz(func(t *testing.T, data []byte, paySel uint16, typSel, countSel uint8, splits []byte) {
		ctx := context.Background()
		pay := 1 + int(paySel)%2048
		typ := fuzzType(typSel, pay)
		count := 1 + int(countSel)%32
		pool := newPool(t, "fuzz", pay, count)
		pk, err := pool.Allocate(ctx, typ, nx.NoWait)
		if err != nil {
			t.Fatalf("Allocate(ctx, %d, NoWait) = %v", typ, err)
		}
		var model []byte
		for i := 0; len(data) > 0; i++ {
			n := len(data)
			if len(splits) > 0 {
				n = min(n, 1+int(splits[i%len(splits)]))
			}
			freeBefore := pool.Info().Free
			err := pk.Append(ctx, data[:n], pool, nx.NoWait)
			switch {
			case err == nil:
				model = append(model, data[:n]...)
			case isStatus(err, nx.ErrNoPacket):
				// Rolled back: chain and pool exactly as before.
				if got := pool.Info().Free; got != freeBefore {
					t.Fatalf("failed Append left Info().Free = %d, want %d", got, freeBefore)
				}
			default:
				t.Fatalf("Append(ctx, %d bytes, pool, NoWait) = %v, want nil or %v", n, err, nx.ErrNoPacket)
			}
			if pk.Length() != len(model) || !bytes.Equal(chainBytes(pk), model) {
				t.Fatalf("after Append: Length() = %d, want %d; chain bytes equal = %v", pk.Length(), len(model), bytes.Equal(chainBytes(pk), model))
			}
			data = data[n:]
		}
		buf := make([]byte, pk.Length())
		if n, err := pk.Retrieve(buf); err != nil || !bytes.Equal(buf[:n], model) {
			t.Fatalf("Retrieve() = %d, %v, want %d bytes back", n, err, len(model))
		}
		buffers := 0
		for q := pk; q != nil; q = q.Next() {
			buffers++
		}
		if want := packetsFor(len(model), pay, typ); buffers != want {
			t.Fatalf("chain of %d bytes (payload %d, type %d) has %d packets, want %d", len(model), pay, typ, buffers, want)
		}
		if got := pool.Info().Free; got != count-buffers {
			t.Fatalf("Info().Free = %d, want %d", got, count-buffers)
		}
		mustRelease(t, pk)
	})
}

func FuzzCopy(f *testing.F) {
	f.Add([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ  "), uint16(256), uint16(256), uint8(16), uint16(0), []byte{40})
	f.Add(bytes.Repeat([]byte{7}, 700), uint16(256), uint16(64), uint8(19), uint16(10), []byte{39})
	f.Add(bytes.Repeat([]byte{9}, 700), uint16(64), uint16(1536), uint8(4), uint16(100), []byte{})
	f.Add([]byte{}, uint16(64), uint16(64), uint8(4), uint16(0), []byte{})
	// netx_packet_basic_test's case: header room 92 == the target payload.
	f.Add([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ  "), uint16(255), uint16(91), uint8(23), uint16(0), []byte{28})
	f.Add(bytes.Repeat([]byte{5}, 300), uint16(255), uint16(91), uint8(23), uint16(0), []byte{100})
	f.Fuzz(func(t *testing.T, data []byte, srcSel, dstSel uint16, typSel uint8, trimSel uint16, splits []byte) {
		ctx := context.Background()
		srcPay := 1 + int(srcSel)%2048
		dstPay := 1 + int(dstSel)%2048
		typ := fuzzType(typSel, srcPay)
		src := newPool(t, "src", srcPay, packetsFor(len(data), srcPay, typ))
		pk := buildChain(t, src, typ, data, splits)
		defer mustRelease(t, pk)
		trim := int(trimSel) % (len(data) + 1)
		if err := pk.TrimFront(trim); err != nil {
			t.Fatalf("TrimFront(%d) = %v", trim, err)
		}
		want := data[trim:]
		// nx_packet_copy keeps the header room, copying it from data_start,
		// also when it equals dst's payload; beyond that (NetX overruns) the
		// copy has none.
		headroom := pk.HeaderRoom()
		if headroom > dstPay {
			headroom = 0
		}
		// Room for the copy including the head's header room (which may now
		// include trimmed bytes), plus one spare packet.
		dst := newPool(t, "dst", dstPay, (headroom+len(pk.Bytes())+len(data))/dstPay+2)

		cp, err := pk.Copy(ctx, dst, nx.NoWait)
		if len(want) == 0 {
			if !isStatus(err, nx.ErrInvalidPacket) || cp != nil {
				t.Fatalf("Copy of an empty packet = %v, %v, want nil, %v", cp, err, nx.ErrInvalidPacket)
			}
			return
		}
		if err != nil {
			t.Fatalf("Copy(ctx, dst, NoWait) = %v", err)
		}
		defer mustRelease(t, cp)
		if cp.Length() != len(want) || !bytes.Equal(chainBytes(cp), want) {
			t.Fatalf("copy Length() = %d, want %d; bytes equal = %v", cp.Length(), len(want), bytes.Equal(chainBytes(cp), want))
		}
		if cp.HeaderRoom() != headroom {
			t.Fatalf("copy HeaderRoom() = %d, want %d", cp.HeaderRoom(), headroom)
		}
		// As many packets as NetX's appends of header room + data fill.
		n := 0
		for q := cp; q != nil; q = q.Next() {
			n++
		}
		if wantN := (headroom + len(want) + dstPay - 1) / dstPay; n != wantN {
			t.Fatalf("copy holds %d packets, want %d (header room %d + %d bytes in %d-byte packets)", n, wantN, headroom, len(want), dstPay)
		}
		for q := cp; q != nil; q = q.Next() {
			if q.Pool() != dst {
				t.Fatalf("copy buffer from pool %q, want dst", q.Pool().Name())
			}
		}
		// The source is untouched by the copy.
		if pk.Length() != len(want) || !bytes.Equal(chainBytes(pk), want) {
			t.Fatalf("source changed by Copy")
		}
	})
}

func FuzzExtractOffset(f *testing.F) {
	f.Add(bytes.Repeat([]byte("0123456789"), 20), uint16(64), uint8(4), 47, uint16(70), []byte{})
	f.Add([]byte{}, uint16(64), uint8(0), 0, uint16(10), []byte{})
	f.Add([]byte("abc"), uint16(1), uint8(0), 3, uint16(10), []byte{0})
	f.Add([]byte("abcdef"), uint16(8), uint8(1), -1, uint16(2), []byte{1})
	f.Fuzz(func(t *testing.T, data []byte, paySel uint16, typSel uint8, offset int, buflen uint16, splits []byte) {
		pay := 1 + int(paySel)%2048
		typ := fuzzType(typSel, pay)
		pool := newPool(t, "fuzz", pay, packetsFor(len(data), pay, typ))
		pk := buildChain(t, pool, typ, data, splits)
		defer mustRelease(t, pk)
		buf := make([]byte, int(buflen)%4096)
		n, err := pk.ExtractOffset(offset, buf)
		switch {
		case offset == 0 && len(data) == 0:
			if n != 0 || err != nil {
				t.Fatalf("ExtractOffset(0, buf) of an empty packet = %d, %v, want 0, nil", n, err)
			}
		case offset < 0 || offset >= len(data):
			if n != 0 || !isStatus(err, nx.ErrPacketOffset) {
				t.Fatalf("ExtractOffset(%d, buf) of %d bytes = %d, %v, want 0, %v", offset, len(data), n, err, nx.ErrPacketOffset)
			}
		default:
			want := data[offset:][:min(len(data)-offset, len(buf))]
			if err != nil || !bytes.Equal(buf[:n], want) {
				t.Fatalf("ExtractOffset(%d, [%d]) = %d, %v, want %d bytes %x", offset, len(buf), n, err, len(want), want)
			}
		}
	})
}

// FuzzRetrieve drives a chain through appends, prepends and front trims
// against a byte-slice model; Retrieve, Buffers and ExtractOffset must all
// return the model.
func FuzzRetrieve(f *testing.F) {
	f.Add(uint16(64), uint8(10), []byte{0, 50, 1, 4, 2, 10, 0, 200, 2, 70, 1, 8})
	f.Add(uint16(1), uint8(0), []byte{0, 3, 2, 1, 0, 9})
	f.Add(uint16(1536), uint8(19), []byte{1, 20, 1, 40, 0, 255, 0, 255, 0, 255})
	f.Fuzz(func(t *testing.T, paySel uint16, typSel uint8, ops []byte) {
		ctx := context.Background()
		pay := 1 + int(paySel)%2048
		typ := fuzzType(typSel, pay)
		total := 0
		for i := 0; i+1 < len(ops); i += 2 {
			if ops[i]%3 == 0 {
				total += 1 + int(ops[i+1])
			}
		}
		pool := newPool(t, "fuzz", pay, packetsFor(total, pay, typ))
		pk, err := pool.Allocate(ctx, typ, nx.NoWait)
		if err != nil {
			t.Fatalf("Allocate(ctx, %d, NoWait) = %v", typ, err)
		}
		defer mustRelease(t, pk)
		var model []byte
		seed := byte(0)
		for i := 0; i+1 < len(ops); i += 2 {
			arg := int(ops[i+1])
			seed++
			switch ops[i] % 3 {
			case 0: // append
				chunk := pattern(1+arg, seed)
				if err := pk.Append(ctx, chunk, pool, nx.NoWait); err != nil {
					t.Fatalf("Append(ctx, %d bytes, pool, NoWait) = %v", len(chunk), err)
				}
				model = append(model, chunk...)
			case 1: // prepend
				hdr := pattern(arg%64, seed)
				room := pk.HeaderRoom()
				err := pk.Prepend(hdr)
				if len(hdr) > room {
					if !isStatus(err, nx.ErrUnderflow) || pk.HeaderRoom() != room {
						t.Fatalf("Prepend(%d bytes) with %d of room = %v, want %v and no change", len(hdr), room, err, nx.ErrUnderflow)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Prepend(%d bytes) = %v", len(hdr), err)
				}
				model = append(append([]byte{}, hdr...), model...)
			case 2: // trim
				n := arg % (len(model) + 1)
				if err := pk.TrimFront(n); err != nil {
					t.Fatalf("TrimFront(%d) = %v", n, err)
				}
				model = model[n:]
			}
		}
		if pk.Length() != len(model) {
			t.Fatalf("Length() = %d, want %d", pk.Length(), len(model))
		}
		buf := make([]byte, len(model)+1)
		n, err := pk.Retrieve(buf)
		if err != nil || !bytes.Equal(buf[:n], model) {
			t.Fatalf("Retrieve() = %d, %v, want %d bytes", n, err, len(model))
		}
		if !bytes.Equal(chainBytes(pk), model) {
			t.Fatalf("Buffers() bytes differ from the model")
		}
		ext := make([]byte, len(model))
		if n, err := pk.ExtractOffset(0, ext); err != nil || !bytes.Equal(ext[:n], model) {
			t.Fatalf("ExtractOffset(0, buf) = %d, %v, want the model", n, err)
		}
		if len(model) > 0 {
			if _, err := pk.Retrieve(buf[:len(model)-1]); !isStatus(err, nx.ErrSize) {
				t.Fatalf("Retrieve(short buffer) = %v, want %v", err, nx.ErrSize)
			}
		}
	})
}

// FuzzDataAdjust: DataAdjust never changes the chain's bytes or length; on
// success the head has at least the asked header room, and at most one packet
// was added; its statuses follow nx_packet_data_adjust.c.
func FuzzDataAdjust(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 256), uint16(255), uint8(32), uint16(256), []byte{255})
	f.Add(bytes.Repeat([]byte{2}, 256), uint16(255), uint8(32), uint16(255), []byte{255})
	f.Add(bytes.Repeat([]byte{3}, 50), uint16(255), uint8(16), uint16(200), []byte{50})
	f.Add([]byte{4}, uint16(63), uint8(0), uint16(64), []byte{1})
	f.Fuzz(func(t *testing.T, data []byte, paySel uint16, typSel uint8, hdrSel uint16, splits []byte) {
		pay := 1 + int(paySel)%2048
		typ := fuzzType(typSel, pay)
		pool := newPool(t, "pool", pay, packetsFor(len(data), pay, typ)+1)
		pk := buildChain(t, pool, typ, data, splits)
		defer mustRelease(t, pk)
		hdr := int(hdrSel) % (2*pay + 2)
		room, tail := pk.HeaderRoom(), pay-pk.HeaderRoom()-len(pk.Bytes())
		before := 0
		for q := pk; q != nil; q = q.Next() {
			before++
		}
		err := pk.DataAdjust(hdr)
		after := 0
		for q := pk; q != nil; q = q.Next() {
			after++
		}
		if pk.Length() != len(data) || !bytes.Equal(chainBytes(pk), data) {
			t.Fatalf("DataAdjust(%d) changed the chain: %d bytes, want the %d given", hdr, pk.Length(), len(data))
		}
		switch {
		case hdr > pay:
			if !isStatus(err, nx.ErrUnderflow) {
				t.Fatalf("DataAdjust(%d) in a %d-byte payload = %v, want %v", hdr, pay, err, nx.ErrUnderflow)
			}
		case room >= hdr || room+tail >= hdr:
			if err != nil || after != before || pk.HeaderRoom() < hdr {
				t.Fatalf("DataAdjust(%d) with %d room and %d tail = %v, %d packets (was %d), HeaderRoom %d", hdr, room, tail, err, after, before, pk.HeaderRoom())
			}
		case hdr%2 == 1:
			if !isStatus(err, nx.ErrNotSupported) {
				t.Fatalf("DataAdjust(odd %d) needing a packet = %v, want %v", hdr, err, nx.ErrNotSupported)
			}
		default:
			if err != nil || after != before+1 || pk.HeaderRoom() != hdr {
				t.Fatalf("DataAdjust(%d) needing a packet = %v, %d packets (was %d), HeaderRoom %d", hdr, err, after, before, pk.HeaderRoom())
			}
		}
		if err != nil && after != before {
			t.Fatalf("failed DataAdjust(%d) changed the chain's packets: %d, was %d", hdr, after, before)
		}
	})
}
