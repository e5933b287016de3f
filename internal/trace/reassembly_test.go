package trace

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// recSink records a reassembled stream: data bytes, and "<gap N>" markers.
type recSink struct {
	out  bytes.Buffer
	gaps int64
}

func (s *recSink) data(b []byte, _ time.Time) { s.out.Write(b) }
func (s *recSink) gap(n int64, _ time.Time) {
	fmt.Fprintf(&s.out, "<gap %d>", n)
	s.gaps += n
}

type seg struct {
	off     int
	n       int
	missing int
}

func TestReassembler(t *testing.T) {
	stream := []byte("0123456789abcdefghij")
	tests := []struct {
		name      string
		isn       uint32
		segs      []seg
		want      string // after flush
		wantClass []segClass
	}{
		{"in order", 100, []seg{{0, 5, 0}, {5, 5, 0}, {10, 10, 0}}, string(stream),
			[]segClass{segNew, segNew, segNew}},
		{"swapped pair", 100, []seg{{5, 5, 0}, {0, 5, 0}, {10, 10, 0}}, string(stream),
			[]segClass{segNew, segOutOfOrder, segNew}},
		{"duplicate", 100, []seg{{0, 5, 0}, {0, 5, 0}, {5, 15, 0}}, string(stream),
			[]segClass{segNew, segRetransmit, segNew}},
		{"duplicate of pending", 100, []seg{{0, 1, 0}, {5, 5, 0}, {5, 5, 0}, {1, 4, 0}, {10, 10, 0}}, string(stream),
			[]segClass{segNew, segNew, segRetransmit, segOutOfOrder, segNew}},
		{"overlap, new boundaries", 100, []seg{{0, 6, 0}, {4, 8, 0}, {3, 17, 0}}, string(stream),
			[]segClass{segNew, segRetransmit, segRetransmit}},
		{"overlap spanning pending", 100, []seg{{0, 2, 0}, {4, 2, 0}, {8, 2, 0}, {1, 19, 0}}, string(stream),
			[]segClass{segNew, segNew, segNew, segRetransmit}},
		{"hole never filled", 100, []seg{{0, 5, 0}, {10, 10, 0}}, "01234<gap 5>abcdefghij",
			[]segClass{segNew, segNew}},
		{"cut by snap length", 100, []seg{{0, 5, 5}, {10, 10, 0}}, "01234<gap 5>abcdefghij",
			[]segClass{segNew, segNew}},
		{"cut segment resent", 100, []seg{{0, 5, 5}, {0, 10, 0}, {10, 10, 0}}, "01234<gap 5>abcdefghij",
			[]segClass{segNew, segRetransmit, segNew}},
		{"sequence wraps", 0xfffffffa, []seg{{0, 10, 0}, {15, 5, 0}, {10, 5, 0}}, string(stream),
			[]segClass{segNew, segNew, segOutOfOrder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reassembler
			var s recSink
			r.start(tt.isn)
			for i, g := range tt.segs {
				got := r.add(tt.isn+uint32(g.off), stream[g.off:g.off+g.n], g.missing, t0, &s)
				if got != tt.wantClass[i] {
					t.Errorf("add(segment %d %+v) = %v, want %v", i, g, got, tt.wantClass[i])
				}
			}
			r.flush(t0, &s)
			if got := s.out.String(); got != tt.want {
				t.Errorf("stream = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzReassemble checks that a stream cut into segments, delivered in any
// order with duplicates and re-cut overlapping copies, comes out exactly as
// it went in; that bytes never sent come out as gaps of the right size; and
// that each segment is classified from what was seen before it.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte("EHLO board\r\nMAIL FROM:<a@b>\r\n"), []byte{3, 1, 4, 1, 5, 9, 2, 6}, uint32(1000))
	f.Add([]byte("0123456789"), []byte{0x80, 0xff, 0, 7, 7}, uint32(0xfffffff0))
	f.Add(bytes.Repeat([]byte("x"), 300), []byte{200, 3, 17, 99, 250, 1, 1, 1, 1}, uint32(0))
	f.Fuzz(func(t *testing.T, stream, plan []byte, isn uint32) {
		if len(stream) == 0 || len(plan) == 0 {
			return
		}
		next := func() int { // cycles through plan
			v := int(plan[0])
			plan = append(plan[1:], plan[0])
			return v
		}
		dropSome := next()&1 == 1
		// A base cover of the stream...
		var segs []seg
		for off := 0; off < len(stream); {
			n := min(1+next()%40, len(stream)-off)
			segs = append(segs, seg{off: off, n: n})
			off += n
		}
		// ...minus some segments when dropping...
		if dropSome {
			kept := segs[:0]
			for _, s := range segs {
				if next()%5 != 0 {
					kept = append(kept, s)
				}
			}
			segs = kept
		}
		// ...plus copies with other boundaries...
		for k := next() % 8; k > 0; k-- {
			off := next() * len(stream) / 256
			segs = append(segs, seg{off: off, n: min(1+next()%60, len(stream)-off)})
		}
		// ...shuffled.
		for i := len(segs) - 1; i > 0; i-- {
			j := next() % (i + 1)
			segs[i], segs[j] = segs[j], segs[i]
		}

		var r reassembler
		var s recSink
		r.start(isn)
		seen := make([]bool, len(stream))
		maxEnd := 0
		for _, g := range segs {
			covered, fresh := 0, 0
			for i := g.off; i < g.off+g.n; i++ {
				if seen[i] {
					covered++
				} else {
					fresh++
				}
			}
			want := segNew
			switch {
			case covered > 0:
				want = segRetransmit
			case g.off < maxEnd:
				want = segOutOfOrder
			}
			if got := r.add(isn+uint32(g.off), stream[g.off:g.off+g.n], 0, t0, &s); got != want {
				t.Fatalf("add(%+v) = %v, want %v (%d bytes seen before, %d new)", g, got, want, covered, fresh)
			}
			for i := g.off; i < g.off+g.n; i++ {
				seen[i] = true
			}
			maxEnd = max(maxEnd, g.off+g.n)
		}
		r.flush(t0, &s)

		// Expected: covered runs as data, holes before the last covered
		// byte as gaps.
		var want bytes.Buffer
		for i := 0; i < maxEnd; {
			j := i
			for j < maxEnd && seen[j] == seen[i] {
				j++
			}
			if seen[i] {
				want.Write(stream[i:j])
			} else {
				fmt.Fprintf(&want, "<gap %d>", j-i)
			}
			i = j
		}
		if !bytes.Equal(s.out.Bytes(), want.Bytes()) {
			t.Fatalf("reassembled %q, want %q", s.out.Bytes(), want.Bytes())
		}
		if !dropSome && !bytes.Equal(s.out.Bytes(), stream) {
			t.Fatalf("reassembled %q from a full cover, want the original %q", s.out.Bytes(), stream)
		}
		if len(r.pending) != 0 || r.pendBuf != 0 {
			t.Fatalf("after flush: %d pieces, %d bytes still pending", len(r.pending), r.pendBuf)
		}
	})
}
