package driver

import (
	"context"
	"io"
	"sync"
	"testing"
)

func reportFPS(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkWireFrame measures 1514-byte frames port to port on a Wire with
// no impairments (writer and reader goroutines), against a baseline that
// does the same two copies through a bare buffered channel.
func BenchmarkWireFrame(b *testing.B) {
	const size = 1514
	b.Run("baseline-chan", func(b *testing.B) {
		ch := make(chan *fbuf, DefaultQueueFrames)
		var wg sync.WaitGroup
		wg.Go(func() {
			buf := make([]byte, size)
			for fb := range ch {
				copy(buf, fb.b)
				putBuf(fb)
			}
		})
		f := make([]byte, size)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			ch <- getBuf(f)
		}
		close(ch)
		wg.Wait()
		reportFPS(b)
	})
	for _, tc := range []struct {
		name string
		imp  Impairments
		cap  bool
	}{
		{"wire", Impairments{}, false},
		{"wire-capture", Impairments{}, true},
		// The scheduler path with an impairment that never fires.
		{"wire-scheduled", Impairments{Duplicate: 1e-12}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w, _ := NewWire(WireOptions{})
			defer w.Close()
			src, _ := w.Attach(PortOptions{Duplicate: tc.imp.Duplicate})
			dst, _ := w.Attach(PortOptions{})
			var l Link = src
			if tc.cap {
				c, err := NewCapture(src, io.Discard, CaptureOptions{})
				if err != nil {
					b.Fatal(err)
				}
				l = c
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				buf := make([]byte, dst.MaxFrame())
				for {
					if _, err := dst.ReadFrame(buf); err != nil {
						return
					}
				}
			})
			f := mkFrame(dst.MAC(), src.MAC(), 1, size)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := l.WriteFrame(f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportFPS(b)
			w.Close()
			wg.Wait()
			if d := src.Stats().Drops.Total() + dst.Stats().Drops.Total(); d != 0 {
				b.Fatalf("%d drops on a perfect wire", d)
			}
		})
	}
}

// BenchmarkCaptureWriteFrame measures what recording costs per frame: the
// same link with and without a Capture (to io.Discard, 64 KiB buffer).
func BenchmarkCaptureWriteFrame(b *testing.B) {
	for _, size := range []int{64, 1514} {
		f := mkFrame(Broadcast, newNullLink().MAC(), 1, size)
		for _, capture := range []bool{false, true} {
			name := "null-link"
			if capture {
				name += "+capture"
			}
			b.Run(name+"/"+itoa(size), func(b *testing.B) {
				var l Link = newNullLink()
				if capture {
					c, err := NewCapture(l, io.Discard, CaptureOptions{})
					if err != nil {
						b.Fatal(err)
					}
					l = c
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := l.WriteFrame(f); err != nil {
						b.Fatal(err)
					}
				}
				reportFPS(b)
			})
		}
	}
}

// BenchmarkDriverReceive measures the receive path of the Driver: a frame
// from the Wire copied into a pool chain and released, for a pool whose
// packets hold a whole frame and for 256-byte packets (6-packet chains).
func BenchmarkDriverReceive(b *testing.B) {
	for _, payload := range []int{1536, 256} {
		b.Run("payload-"+itoa(payload), func(b *testing.B) {
			w, _ := NewWire(WireOptions{})
			defer w.Close()
			src, _ := w.Attach(PortOptions{})
			dst, _ := w.Attach(PortOptions{})
			pool := newPool(b, "rx", payload, 64)
			d, err := New(Options{Link: dst, RxPool: pool})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			f := mkFrame(dst.MAC(), src.MAC(), 1, 1514)
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					if src.WriteFrame(f) != nil {
						return
					}
				}
			})
			ctx := context.Background()
			b.SetBytes(1514)
			b.ReportAllocs()
			for b.Loop() {
				pkt, err := d.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				pkt.Release()
			}
			b.StopTimer()
			reportFPS(b)
			src.Close()
			d.Close()
			wg.Wait()
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
