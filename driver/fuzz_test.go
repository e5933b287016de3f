package driver

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

// FuzzDriverIntake: any frame the link delivers is either copied into a
// chain holding exactly its bytes (split into payload-sized packets) or
// dropped with a counter; the pool always ends balanced.
func FuzzDriverIntake(f *testing.F) {
	f.Add([]byte{}, uint16(64))
	f.Add(make([]byte, 13), uint16(64))
	f.Add(mkFrame(Broadcast, Broadcast, 1, 60), uint16(16))
	f.Add(mkFrame(Broadcast, Broadcast, 2, 1514), uint16(256))
	f.Add(mkFrame(Broadcast, Broadcast, 3, 300), uint16(100))
	f.Fuzz(func(t *testing.T, frame []byte, payload uint16) {
		size := 16 + int(payload)%1600
		pool := newPool(t, "fuzz", size, 1600/16+2)
		d, err := New(Options{Link: newNullLink(), RxPool: pool, Promiscuous: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if len(frame) > d.maxFrame {
			frame = frame[:d.maxFrame]
		}
		pkt, ok := d.intake(frame)
		st := d.Stats()
		if len(frame) < EthernetHeaderLen {
			if ok || st.Errors != 1 {
				t.Fatalf("intake(%d bytes) = %v, Errors %d; want a counted rejection", len(frame), ok, st.Errors)
			}
			checkBalanced(t, pool)
			return
		}
		if !ok {
			t.Fatalf("intake(%d bytes) with payload %d dropped the frame: %+v", len(frame), size, st)
		}
		got, bufs := chainBytes(t, pkt)
		if !bytes.Equal(got, frame) || pkt.Length() != len(frame) {
			t.Fatalf("chain holds %d bytes (Length %d), want the %d-byte frame", len(got), pkt.Length(), len(frame))
		}
		if want := (len(frame) + size - 1) / size; bufs != want {
			t.Fatalf("chain of %d packets for %d bytes in %d-byte packets, want %d", bufs, len(frame), size, want)
		}
		if st.RxFrames != 1 || st.RxBytes != uint64(len(frame)) {
			t.Fatalf("Stats() = %+v, want 1 frame of %d bytes", st, len(frame))
		}
		if err := pkt.Release(); err != nil {
			t.Fatalf("Release() = %v", err)
		}
		checkBalanced(t, pool)
	})
}

// FuzzCaptureRoundTrip: every frame written through a Capture reads back
// from the pcap with the same bytes (up to the snaplen), original length
// and timestamp (to the microsecond).
func FuzzCaptureRoundTrip(f *testing.F) {
	f.Add(mkFrame(Broadcast, Broadcast, 1, 60), int64(1_700_000_000_123_456_789), uint16(0))
	f.Add(mkFrame(Broadcast, Broadcast, 2, 1514), int64(0), uint16(100))
	f.Add(make([]byte, 14), int64(-5), uint16(14))
	f.Fuzz(func(t *testing.T, frame []byte, ns int64, snap uint16) {
		if ns < 0 || ns > 1<<32*int64(time.Second)-1 {
			t.Skip("pcap stores 32-bit unsigned seconds")
		}
		if len(frame) > DefaultSnaplen {
			frame = frame[:DefaultSnaplen]
		}
		snaplen := int(snap)
		if snaplen != 0 && snaplen < EthernetHeaderLen {
			snaplen = EthernetHeaderLen
		}
		ts := time.Unix(0, ns)
		var out bytes.Buffer
		c, err := NewCapture(newNullLink(), &out, CaptureOptions{Clock: &fakeClock{t: ts}, Snaplen: snaplen})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("ReadPacketData() = %v", err)
		}
		want := frame
		if snaplen == 0 {
			snaplen = DefaultSnaplen
		}
		if len(want) > snaplen {
			want = want[:snaplen]
		}
		if !bytes.Equal(data, want) || ci.Length != len(frame) || ci.CaptureLength != len(want) {
			t.Fatalf("record %d/%d bytes, want %d/%d", ci.CaptureLength, ci.Length, len(want), len(frame))
		}
		if !ci.Timestamp.Equal(ts.Truncate(time.Microsecond)) {
			t.Fatalf("timestamp %v, want %v", ci.Timestamp, ts.Truncate(time.Microsecond))
		}
		if _, _, err := r.ReadPacketData(); err != io.EOF {
			t.Fatalf("second ReadPacketData() = %v, want io.EOF", err)
		}
	})
}
