package driver

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// FuzzDirectARP: any frame a port sends on a DirectARP Wire is parsed
// consistently (parseARP accepts exactly the Ethernet/IPv4 ARP frames of at
// least 42 bytes and returns their fields) and reaches the other port
// unchanged: directed or flooded, the Wire never alters, drops or
// duplicates a frame between two ports, whatever it learns.
func FuzzDirectARP(f *testing.F) {
	arp := func(op byte, spa, tpa [4]byte) []byte {
		fr := make([]byte, 42)
		copy(fr, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, op, 2, 0, 0, 0, 0, 1})
		copy(fr[28:32], spa[:])
		copy(fr[38:42], tpa[:])
		return fr
	}
	f.Add(arp(1, [4]byte{198, 51, 100, 2}, [4]byte{198, 51, 100, 1}))
	f.Add(arp(2, [4]byte{198, 51, 100, 1}, [4]byte{198, 51, 100, 2}))
	f.Add(arp(1, [4]byte{}, [4]byte{198, 51, 100, 1}))
	f.Add(make([]byte, 14))
	f.Add(arp(1, [4]byte{198, 51, 100, 2}, [4]byte{198, 51, 100, 1})[:41])
	f.Fuzz(func(t *testing.T, frame []byte) {
		op, spa, tpa, ok := parseARP(frame)
		isARP := len(frame) >= 42 && bytes.Equal(frame[12:20], []byte{8, 6, 0, 1, 8, 0, 6, 4})
		if ok != isARP {
			t.Fatalf("parseARP(%x) ok = %v, want %v", frame, ok, isARP)
		}
		if ok && (op != uint16(frame[20])<<8|uint16(frame[21]) || spa != [4]byte(frame[28:32]) || tpa != [4]byte(frame[38:42])) {
			t.Fatalf("parseARP(%x) = %d %v %v: fields differ from the frame", frame, op, spa, tpa)
		}
		if len(frame) < EthernetHeaderLen || len(frame) > 1514 || frame[6]&1 != 0 {
			return // refused by WriteFrame, or a group source MAC (never learned): not this property
		}
		w, _ := NewWire(WireOptions{DirectARP: true})
		defer w.Close()
		a, _ := w.Attach(PortOptions{})
		b, _ := w.Attach(PortOptions{})
		// Send it twice: the second time the Wire has learned from the first.
		for range 2 {
			if err := a.WriteFrame(frame); err != nil {
				t.Fatalf("WriteFrame = %v", err)
			}
			if frame[0]&1 == 0 && [6]byte(frame[0:6]) != [6]byte(b.MAC()) {
				// unicast to a station the Wire may have learned behind a:
				// delivered to b (flooded) or to nobody, never altered
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				buf := make([]byte, 1600)
				n, err := b.ReadFrameContext(ctx, buf)
				cancel()
				if err == nil && !bytes.Equal(buf[:n], frame) {
					t.Fatalf("b received %x, want %x", buf[:n], frame)
				}
				continue
			}
			buf := make([]byte, 1600)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n, err := b.ReadFrameContext(ctx, buf)
			cancel()
			if err != nil || !bytes.Equal(buf[:n], frame) {
				t.Fatalf("b received %x, %v; want the frame %x", buf[:n], err, frame)
			}
		}
	})
}
