package driver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/simboard/simboard/nx"
)

func TestWireSwitching(t *testing.T) {
	foreign := net.HardwareAddr{0x02, 0xee, 0, 0, 0, 0x99}
	tests := []struct {
		name  string
		ports int
		from  int
		// dst: -1 broadcast, -2 unknown unicast, -3 multicast, else port index
		dst  int
		want []int // ports that receive the frame
	}{
		{"2 ports unicast a->b", 2, 0, 1, []int{1}},
		{"2 ports unicast b->a", 2, 1, 0, []int{0}},
		{"2 ports broadcast", 2, 0, -1, []int{1}},
		{"3 ports unicast a->c", 3, 0, 2, []int{2}},
		{"3 ports unicast c->b", 3, 2, 1, []int{1}},
		{"3 ports broadcast floods", 3, 1, -1, []int{0, 2}},
		{"3 ports multicast floods", 3, 0, -3, []int{1, 2}},
		{"3 ports unknown unicast floods", 3, 0, -2, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire(t, WireOptions{Seed: 1})
			var ports []*Port
			for range tt.ports {
				ports = append(ports, attach(t, w, PortOptions{}))
			}
			var dst net.HardwareAddr
			switch tt.dst {
			case -1:
				dst = Broadcast
			case -2:
				dst = foreign
			case -3:
				dst = net.HardwareAddr{0x01, 0x00, 0x5e, 0, 0, 0xfb}
			default:
				dst = ports[tt.dst].MAC()
			}
			f := mkFrame(dst, ports[tt.from].MAC(), 7, 100)
			mustWrite(t, ports[tt.from], f)
			for i, p := range ports {
				got := drain(t, p)
				want := 0
				if slices.Contains(tt.want, i) {
					want = 1
				}
				if len(got) != want {
					t.Errorf("port %d received %d frames, want %d", i, len(got), want)
					continue
				}
				if want == 1 && !bytes.Equal(got[0], f) {
					t.Errorf("port %d received % x, want % x", i, got[0][:18], f[:18])
				}
			}
		})
	}
}

// TestWireLearnsBridgedMAC: a station behind port b (a bridge) becomes
// reachable by unicast once it has sent a frame, and stops being flooded.
func TestWireLearnsBridgedMAC(t *testing.T) {
	w := newWire(t, WireOptions{})
	a, b, c := attach(t, w, PortOptions{}), attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
	x := net.HardwareAddr{0x02, 0xee, 0, 0, 0, 1}

	mustWrite(t, a, mkFrame(x, a.MAC(), 1, 60)) // unknown: flooded
	if nb, nc := len(drain(t, b)), len(drain(t, c)); nb != 1 || nc != 1 {
		t.Fatalf("before learning: b got %d, c got %d frames, want 1 and 1 (flood)", nb, nc)
	}
	mustWrite(t, b, mkFrame(a.MAC(), x, 2, 60)) // x speaks from b
	if got := drain(t, a); len(got) != 1 {
		t.Fatalf("a received %d frames from x, want 1", len(got))
	}
	mustWrite(t, a, mkFrame(x, a.MAC(), 3, 60))
	if nb, nc := len(drain(t, b)), len(drain(t, c)); nb != 1 || nc != 0 {
		t.Errorf("after learning: b got %d, c got %d frames, want 1 and 0", nb, nc)
	}
}

func TestWireAttachValidation(t *testing.T) {
	w := newWire(t, WireOptions{})
	a := attach(t, w, PortOptions{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}})
	tests := []struct {
		name string
		opts PortOptions
		want error
	}{
		{"mtu too small", PortOptions{MTU: 10}, nx.ErrInvalidParameters},
		{"mtu too large", PortOptions{MTU: 70000}, nx.ErrInvalidParameters},
		{"negative queue", PortOptions{QueueFrames: -1}, nx.ErrInvalidParameters},
		{"loss > 1", PortOptions{Loss: 1.5}, nx.ErrInvalidParameters},
		{"loss NaN", PortOptions{Loss: math.NaN()}, nx.ErrInvalidParameters},
		{"negative delay", PortOptions{Delay: -time.Second}, nx.ErrInvalidParameters},
		{"negative rate", PortOptions{RateBitsPerSecond: -1}, nx.ErrInvalidParameters},
		{"short mac", PortOptions{MAC: net.HardwareAddr{2, 0, 0}}, nx.ErrInvalidParameters},
		{"multicast mac", PortOptions{MAC: net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}}, nx.ErrInvalidParameters},
		{"duplicate mac", PortOptions{MAC: a.MAC()}, nx.ErrDuplicatedEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := w.Attach(tt.opts)
			if !errors.Is(err, tt.want) {
				if p != nil {
					p.Close()
				}
				t.Errorf("Attach(%+v) = %v, want %v", tt.opts, err, tt.want)
			}
		})
	}
	if err := a.SetImpairments(Impairments{Duplicate: 2}); !errors.Is(err, nx.ErrInvalidParameters) {
		t.Errorf("SetImpairments(Duplicate: 2) = %v, want %v", err, nx.ErrInvalidParameters)
	}
	w.Close()
	if _, err := w.Attach(PortOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close = %v, want ErrClosed", err)
	}
}

func TestWireGeneratedMACs(t *testing.T) {
	macs := func(seed int64) []string {
		w := newWire(t, WireOptions{Seed: seed})
		var out []string
		for range 4 {
			p := attach(t, w, PortOptions{})
			m := p.MAC()
			if m[0] != 0x02 {
				t.Errorf("generated MAC %v is not locally administered unicast (02:...)", m)
			}
			out = append(out, m.String())
		}
		w.Close()
		return out
	}
	a, b, c := macs(5), macs(5), macs(6)
	if !slices.Equal(a, b) {
		t.Errorf("same seed gave MACs %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 5 and 6 gave the same MACs %v", a)
	}
	s := slices.Clone(a)
	slices.Sort(s)
	if len(slices.Compact(s)) != len(a) {
		t.Errorf("generated MACs not unique: %v", a)
	}
}

func TestWireSizeLimits(t *testing.T) {
	w := newWire(t, WireOptions{})
	a := attach(t, w, PortOptions{})
	b := attach(t, w, PortOptions{MTU: 1000})
	if err := a.WriteFrame(make([]byte, 10)); !errors.Is(err, nx.ErrInvalidPacket) {
		t.Errorf("WriteFrame(10 bytes) = %v, want %v", err, nx.ErrInvalidPacket)
	}
	if err := a.WriteFrame(mkFrame(b.MAC(), a.MAC(), 1, 1515)); !errors.Is(err, nx.ErrSize) {
		t.Errorf("WriteFrame(1515 bytes) = %v, want %v", err, nx.ErrSize)
	}
	mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 2, 1514)) // fits a, not b
	if got := drain(t, b); len(got) != 0 {
		t.Errorf("b (MTU 1000) received a 1514-byte frame")
	}
	if got := a.Stats().Drops; got.Malformed != 1 || got.Oversize != 1 {
		t.Errorf("a drops = %+v, want Malformed 1, Oversize 1", got)
	}
	if got := b.Stats().Drops.Oversize; got != 1 {
		t.Errorf("b Drops.Oversize = %d, want 1", got)
	}
	// A frame longer than the read buffer is dropped and reported.
	mustWrite(t, b, mkFrame(a.MAC(), b.MAC(), 3, 500))
	n, err := a.ReadFrame(make([]byte, 100))
	if !errors.Is(err, io.ErrShortBuffer) || n != 0 {
		t.Errorf("ReadFrame(100-byte buf) for a 500-byte frame = %d, %v, want 0, io.ErrShortBuffer", n, err)
	}
}

// TestWireBackPressure: with no impairments a full receive queue blocks the
// writer instead of dropping, and flooding never blocks.
func TestWireBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{})
		b := attach(t, w, PortOptions{QueueFrames: 2})
		for i := range 2 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 64))
		}
		done := make(chan error, 1)
		go func() { done <- a.WriteFrame(mkFrame(b.MAC(), a.MAC(), 2, 64)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("WriteFrame to a full queue returned %v, want it to block", err)
		default:
		}
		if f, ok := tryRead(t, b); !ok || frameSeq(f) != 0 {
			t.Fatalf("first frame read = %v, want seq 0", ok)
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked WriteFrame = %v, want nil after the reader made room", err)
		}
		var seqs []uint32
		for _, f := range drain(t, b) {
			seqs = append(seqs, frameSeq(f))
		}
		if !slices.Equal(seqs, []uint32{1, 2}) {
			t.Errorf("remaining frames = %v, want [1 2]", seqs)
		}
		if d := b.Stats().Drops.Total(); d != 0 {
			t.Errorf("b drops = %d, want 0", d)
		}

		// Broadcast to a full port: no block, counted drop.
		for i := range 3 {
			mustWrite(t, a, mkFrame(Broadcast, a.MAC(), uint32(10+i), 64))
		}
		if got := b.Stats().Drops.QueueFull; got != 1 {
			t.Errorf("b Drops.QueueFull after 3 broadcasts into a 2-frame queue = %d, want 1", got)
		}

		// A writer blocked on back-pressure is released by closing its port.
		go func() { done <- a.WriteFrame(mkFrame(b.MAC(), a.MAC(), 99, 64)) }()
		synctest.Wait()
		a.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("blocked WriteFrame after Close = %v, want ErrClosed", err)
		}
	})
}

// TestWireImpairedBackPressure: a port with impairments (here a delay)
// still never drops on a full receive queue: its scheduler waits and then
// WriteFrame blocks. A DropWhenFull port drops and counts instead.
func TestWireImpairedBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{Delay: time.Millisecond, QueueFrames: 4})
		b := attach(t, w, PortOptions{QueueFrames: 4})
		const n = 30
		done := make(chan error, 1)
		go func() {
			for i := range n {
				if err := a.WriteFrame(mkFrame(b.MAC(), a.MAC(), uint32(i), 64)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("writer finished (%v) with 30 frames and room for at most 4+4+4", err)
		default:
		}
		var seqs []uint32
		buf := make([]byte, b.MaxFrame())
		for range n {
			m, err := b.ReadFrame(buf)
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, frameSeq(buf[:m]))
		}
		if err := <-done; err != nil {
			t.Fatalf("WriteFrame = %v", err)
		}
		if !slices.IsSorted(seqs) || len(seqs) != n || seqs[n-1] != n-1 {
			t.Errorf("received %v, want 0..%d in order", seqs, n-1)
		}
		if d := a.Stats().Drops.Total() + b.Stats().Drops.Total(); d != 0 {
			t.Errorf("drops = %d, want 0", d)
		}

		c := attach(t, w, PortOptions{QueueFrames: 2, DropWhenFull: true})
		for i := range 5 {
			mustWrite(t, b, mkFrame(c.MAC(), b.MAC(), uint32(i), 64))
		}
		if got := c.Stats().Drops.QueueFull; got != 3 {
			t.Errorf("DropWhenFull port: Drops.QueueFull = %d, want 3", got)
		}
		if got := len(drain(t, c)); got != 2 {
			t.Errorf("DropWhenFull port kept %d frames, want 2", got)
		}
	})
}

// sendSeq writes n frames a->b (sequence 0..n-1) and returns the sequence
// numbers b received, in order. It runs inside a synctest bubble.
func sendSeq(t *testing.T, a, b *Port, n, size int) []uint32 {
	t.Helper()
	got := make(chan []uint32)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		var seqs []uint32
		buf := make([]byte, b.MaxFrame())
		for {
			m, err := b.ReadFrameContext(ctx, buf)
			if err != nil {
				got <- seqs
				return
			}
			seqs = append(seqs, frameSeq(buf[:m]))
		}
	}()
	for i := range n {
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), size))
	}
	time.Sleep(time.Second) // fake time: lets every delay and hold expire
	synctest.Wait()
	cancel()
	return <-got
}

// within reports whether got is within k standard deviations of a binomial
// count with n trials and probability p.
func within(got, n int, p, k float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(got)-mean) <= k*sd
}

func TestWireImpairmentStatistics(t *testing.T) {
	const n = 10000
	t.Run("loss", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWire(t, WireOptions{Seed: 42})
			a := attach(t, w, PortOptions{Loss: 0.1})
			b := attach(t, w, PortOptions{})
			seqs := sendSeq(t, a, b, n, 64)
			lost := a.Stats().Drops.Loss
			if len(seqs)+int(lost) != n {
				t.Errorf("received %d + lost %d != sent %d", len(seqs), lost, n)
			}
			if !within(int(lost), n, 0.1, 5) {
				t.Errorf("lost %d of %d with Loss 0.1, want about %d", lost, n, n/10)
			}
			if !slices.IsSorted(seqs) {
				t.Errorf("loss alone reordered frames")
			}
		})
	})
	t.Run("duplicate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWire(t, WireOptions{Seed: 42})
			a := attach(t, w, PortOptions{Duplicate: 0.05})
			b := attach(t, w, PortOptions{QueueFrames: 2 * n})
			seqs := sendSeq(t, a, b, n, 64)
			dups := a.Stats().Duplicated
			if len(seqs) != n+int(dups) {
				t.Errorf("received %d, want sent %d + duplicated %d", len(seqs), n, dups)
			}
			if !within(int(dups), n, 0.05, 5) {
				t.Errorf("duplicated %d of %d with Duplicate 0.05, want about %d", dups, n, n/20)
			}
			twice := 0
			for i := 1; i < len(seqs); i++ {
				if seqs[i] == seqs[i-1] {
					twice++
				}
			}
			if twice != int(dups) {
				t.Errorf("%d back-to-back copies seen, want %d", twice, dups)
			}
		})
	})
	t.Run("reorder", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const p = 0.1
			w := newWire(t, WireOptions{Seed: 42})
			a := attach(t, w, PortOptions{Reorder: p})
			b := attach(t, w, PortOptions{QueueFrames: 2 * n})
			seqs := sendSeq(t, a, b, n, 64)
			if len(seqs) != n {
				t.Fatalf("received %d frames, want %d (reorder must not lose)", len(seqs), n)
			}
			late := 0
			var maxSeen uint32
			for i, s := range seqs {
				if i > 0 && s < maxSeen {
					late++
				}
				maxSeen = max(maxSeen, s)
			}
			sorted := slices.Clone(seqs)
			slices.Sort(sorted)
			for i, s := range sorted {
				if s != uint32(i) {
					t.Fatalf("sorted sequence[%d] = %d: frames lost or duplicated", i, s)
				}
			}
			if late != int(a.Stats().Reordered) {
				t.Errorf("%d frames arrived after a successor, Stats().Reordered = %d", late, a.Stats().Reordered)
			}
			// At most one frame is held at a time: fraction p/(1+p).
			if !within(late, n, p/(1+p), 5) {
				t.Errorf("%d of %d frames reordered with Reorder %v, want about %.0f", late, n, p, n*p/(1+p))
			}
		})
	})
}

// timedReader records each frame's sequence and fake-time arrival.
func timedReader(p *Port) (stop func() map[uint32]time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan map[uint32]time.Time)
	go func() {
		at := map[uint32]time.Time{}
		buf := make([]byte, p.MaxFrame())
		for {
			n, err := p.ReadFrameContext(ctx, buf)
			if err != nil {
				res <- at
				return
			}
			at[frameSeq(buf[:n])] = time.Now()
		}
	}()
	return func() map[uint32]time.Time { cancel(); return <-res }
}

func TestWireDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 25 * time.Millisecond
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{Delay: delay})
		b := attach(t, w, PortOptions{})
		stop := timedReader(b)
		sent := map[uint32]time.Time{}
		for i := range 50 {
			sent[uint32(i)] = time.Now()
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 200))
			time.Sleep(3 * time.Millisecond)
		}
		time.Sleep(time.Second)
		at := stop()
		if len(at) != 50 {
			t.Fatalf("received %d frames, want 50", len(at))
		}
		for s, t0 := range sent {
			if got := at[s].Sub(t0); got != delay {
				t.Errorf("frame %d latency = %v, want %v", s, got, delay)
			}
		}
	})
}

func TestWireJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			n      = 1000
			delay  = 20 * time.Millisecond
			jitter = 5 * time.Millisecond
		)
		w := newWire(t, WireOptions{Seed: 3})
		a := attach(t, w, PortOptions{Delay: delay, Jitter: jitter})
		b := attach(t, w, PortOptions{})
		stop := timedReader(b)
		sent := make([]time.Time, n)
		for i := range n {
			sent[i] = time.Now()
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 200))
			time.Sleep(2 * jitter) // spaced so the order-preserving clamp never applies
		}
		time.Sleep(time.Second)
		at := stop()
		if len(at) != n {
			t.Fatalf("received %d frames, want %d", len(at), n)
		}
		var sum, sumSq float64
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		for i := range n {
			l := at[uint32(i)].Sub(sent[i])
			lo, hi = min(lo, l), max(hi, l)
			x := float64(l - delay)
			sum += x
			sumSq += x * x
		}
		if lo < delay-jitter || hi > delay+jitter {
			t.Errorf("latency range [%v, %v], want within [%v, %v]", lo, hi, delay-jitter, delay+jitter)
		}
		mean := sum / n
		sd := math.Sqrt(sumSq/n - mean*mean)
		wantSD := float64(jitter) / math.Sqrt(3) // uniform on [-J, J]
		if math.Abs(mean) > 5*wantSD/math.Sqrt(n) {
			t.Errorf("mean latency offset %v, want about 0 (delay %v)", time.Duration(mean), delay)
		}
		if sd < 0.9*wantSD || sd > 1.1*wantSD {
			t.Errorf("latency standard deviation %v, want about %v", time.Duration(sd), time.Duration(wantSD))
		}
	})
}

func TestWireRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			n    = 100
			rate = 10_000_000 // 10 Mbit/s MCU PHY
		)
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{RateBitsPerSecond: rate})
		b := attach(t, w, PortOptions{})
		stop := timedReader(b)
		t0 := time.Now()
		for i := range n { // a burst: the PHY paces it
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 1514))
		}
		time.Sleep(time.Second)
		at := stop()
		// (1514 + 4 FCS + 8 preamble + 12 gap) * 8 bits at 10 Mbit/s.
		per := 1230400 * time.Nanosecond
		for i := range n {
			if got, want := at[uint32(i)].Sub(t0), time.Duration(i+1)*per; got != want {
				t.Errorf("frame %d arrived at +%v, want +%v", i, got, want)
			}
		}
		if got := at[n-1].Sub(t0); got != n*per {
			t.Errorf("burst of %d frames took %v at 10 Mbit/s, want %v", n, got, n*per)
		}
		// Minimum-size frames are padded to 64 bytes on the wire.
		if got, want := txTime(20, rate), time.Duration((64+20)*8*100)*time.Nanosecond; got != want {
			t.Errorf("txTime(20 bytes, 10 Mbit/s) = %v, want %v", got, want)
		}
		if got := a.SpeedBitsPerSecond(); got != rate {
			t.Errorf("SpeedBitsPerSecond() = %d, want %d", got, rate)
		}

		// With room for 4 frames in flight (+4 in the hand-off queue) the
		// PHY paces the writer: the 100th WriteFrame returns when frame 92
		// has left, at 92 frame times.
		c := attach(t, w, PortOptions{RateBitsPerSecond: rate, QueueFrames: 4})
		stop = timedReader(b)
		t0 = time.Now()
		for i := range n {
			mustWrite(t, c, mkFrame(b.MAC(), c.MAC(), uint32(i), 1514))
		}
		if got, want := time.Since(t0), time.Duration(n-8)*per; got != want {
			t.Errorf("writer of %d frames with QueueFrames 4 returned after %v, want %v", n, got, want)
		}
		time.Sleep(time.Second)
		at = stop()
		for i := range n {
			if got, want := at[uint32(i)].Sub(t0), time.Duration(i+1)*per; got != want {
				t.Errorf("paced frame %d arrived at +%v, want +%v", i, got, want)
			}
		}
		if d := c.Stats().Drops.Total() + b.Stats().Drops.Total(); d != 0 {
			t.Errorf("drops = %d, want 0", d)
		}
	})
}

func TestWireCablePull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{})
		b := attach(t, w, PortOptions{})

		b.SetLinkUp(false)
		if b.LinkUp() {
			t.Errorf("b.LinkUp() = true after SetLinkUp(false)")
		}
		for i := range 5 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 64))
		}
		if got := len(drain(t, b)); got != 0 {
			t.Errorf("b received %d frames with its cable out", got)
		}
		if got := b.Stats().Drops.LinkDown; got != 5 {
			t.Errorf("b Drops.LinkDown = %d, want 5", got)
		}
		b.SetLinkUp(true)
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 5, 64))
		if got := len(drain(t, b)); got != 1 {
			t.Errorf("b received %d frames after reconnecting, want 1", got)
		}

		// The sender's cable: counted at the sender, before the switch.
		a.SetLinkUp(false)
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 6, 64))
		if got := a.Stats().Drops.LinkDown; got != 1 {
			t.Errorf("a Drops.LinkDown = %d, want 1", got)
		}
		a.SetLinkUp(true)

		// Frames in flight on a delayed port die when its cable is pulled.
		if err := a.SetImpairments(Impairments{Delay: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(10+i), 64))
		}
		synctest.Wait()
		a.SetLinkUp(false)
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if got := len(drain(t, b)); got != 0 {
			t.Errorf("b received %d in-flight frames after a's cable was pulled", got)
		}
		if got := a.Stats().Drops.LinkDown; got != 4 {
			t.Errorf("a Drops.LinkDown = %d, want 4", got)
		}
	})
}

// TestWireSetImpairmentsKeepsOrder: removing a delay at runtime does not
// let new frames overtake the delayed ones still in flight.
func TestWireSetImpairmentsKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a := attach(t, w, PortOptions{Delay: 10 * time.Millisecond})
		b := attach(t, w, PortOptions{})
		stop := timedReader(b)
		t0 := time.Now()
		for i := range 3 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 64))
		}
		if err := a.SetImpairments(Impairments{}); err != nil {
			t.Fatal(err)
		}
		if got := a.Impairments(); !got.IsZero() {
			t.Errorf("Impairments() = %+v after clearing, want zero", got)
		}
		for i := 3; i < 6; i++ {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 64))
		}
		time.Sleep(time.Second)
		at := stop()
		for i := range 6 {
			if got := at[uint32(i)].Sub(t0); got != 10*time.Millisecond {
				t.Errorf("frame %d arrived at +%v, want +10ms (queued behind the delayed frames)", i, got)
			}
		}
		// Once drained, frames take the direct path again.
		t1 := time.Now()
		stop = timedReader(b)
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 6, 64))
		synctest.Wait()
		if got := stop()[6].Sub(t1); got != 0 {
			t.Errorf("frame after the drain arrived at +%v, want +0", got)
		}
	})
}

// TestWireRepeatable: the same seed drops, duplicates and reorders the same
// frames; another seed does not.
func TestWireRepeatable(t *testing.T) {
	run := func(seed int64) []uint32 {
		var seqs []uint32
		synctest.Test(t, func(t *testing.T) {
			w := newWire(t, WireOptions{Seed: seed})
			a := attach(t, w, PortOptions{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond})
			b := attach(t, w, PortOptions{})
			seqs = sendSeq(t, a, b, 2000, 64)
			w.Close()
		})
		return seqs
	}
	a, b, c := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 twice: received sequences differ (%d vs %d frames)", len(a), len(b))
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave identical sequences")
	}
}

// TestWireCloseJoins: Close unblocks readers and writers and joins every
// scheduler goroutine (synctest fails the test on any goroutine left).
func TestWireCloseJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := NewWire(WireOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := attach(t, w, PortOptions{Delay: time.Hour, QueueFrames: 1})
		b := attach(t, w, PortOptions{})
		c := attach(t, w, PortOptions{RateBitsPerSecond: 1})
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 1, 64)) // in the scheduler for an hour
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 2, 64)) // fills the egress queue
		mustWrite(t, c, mkFrame(b.MAC(), c.MAC(), 3, 64))
		readErr := make(chan error, 1)
		go func() {
			_, err := b.ReadFrame(make([]byte, b.MaxFrame()))
			readErr <- err
		}()
		writeErr := make(chan error, 1)
		go func() { writeErr <- a.WriteFrame(mkFrame(b.MAC(), a.MAC(), 4, 64)) }()
		synctest.Wait()
		if err := w.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := <-readErr; !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("pending ReadFrame after Close = %v, want ErrClosed wrapping net.ErrClosed", err)
		}
		if err := <-writeErr; !errors.Is(err, ErrClosed) {
			t.Errorf("pending WriteFrame after Close = %v, want ErrClosed", err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close() = %v", err)
		}
		if err := b.WriteFrame(mkFrame(a.MAC(), b.MAC(), 5, 64)); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteFrame after Close = %v, want ErrClosed", err)
		}
		if b.LinkUp() {
			t.Errorf("LinkUp() = true after Close")
		}
	})
}
