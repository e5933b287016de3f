package driver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

func newPool(t testing.TB, name string, payload, count int) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(packetpool.Options{Name: name, PayloadSize: payload, Count: count})
	if err != nil {
		t.Fatalf("packetpool.New(%s, %d, %d) = %v", name, payload, count, err)
	}
	return p
}

// checkBalanced fails unless every packet of p is back and none was
// released twice.
func checkBalanced(t testing.TB, p *packetpool.Pool) {
	t.Helper()
	info := p.Info()
	if info.Free != info.Total || info.InvalidReleases != 0 {
		t.Errorf("pool %s: Info() = %+v, want Free == Total and 0 invalid releases (leaks: %v)", p.Name(), info, p.Leaks())
	}
}

func newDriver(t testing.TB, opts Options) *Driver {
	t.Helper()
	d, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func chainBytes(t testing.TB, pkt *packetpool.Packet) ([]byte, int) {
	t.Helper()
	var b []byte
	n := 0
	for buf := range pkt.Buffers() {
		b = append(b, buf...)
		n++
	}
	return b, n
}

func TestNewValidation(t *testing.T) {
	w := newWire(t, WireOptions{})
	p := attach(t, w, PortOptions{})
	pool := newPool(t, "rx", 1536, 4)
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"nil link", Options{RxPool: pool}},
		{"nil pool", Options{Link: p}},
	} {
		if _, err := New(tt.opts); !errors.Is(err, nx.ErrPtr) {
			t.Errorf("New(%s) = %v, want %v", tt.name, err, nx.ErrPtr)
		}
	}
}

// TestReceiveChains: a frame larger than one packet arrives as a chain
// holding exactly the frame's bytes.
func TestReceiveChains(t *testing.T) {
	tests := []struct {
		name      string
		payload   int
		size      int
		wantChain int
	}{
		{"one packet", 1536, 1514, 1},
		{"256-byte packets", 256, 1514, 6},
		{"exact fit", 100, 300, 3},
		{"minimum frame", 64, 60, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire(t, WireOptions{})
			a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
			pool := newPool(t, "rx", tt.payload, 16)
			d := newDriver(t, Options{Name: "b", Link: b, RxPool: pool})
			f := mkFrame(b.MAC(), a.MAC(), 1, tt.size)
			mustWrite(t, a, f)
			pkt, err := d.Receive(context.Background())
			if err != nil {
				t.Fatalf("Receive() = %v", err)
			}
			got, bufs := chainBytes(t, pkt)
			if !bytes.Equal(got, f) || pkt.Length() != len(f) {
				t.Errorf("Receive() chain = %d bytes (Length %d), want the %d-byte frame", len(got), pkt.Length(), len(f))
			}
			if bufs != tt.wantChain {
				t.Errorf("chain has %d packets, want %d", bufs, tt.wantChain)
			}
			if err := pkt.Release(); err != nil {
				t.Errorf("Release() = %v", err)
			}
			st := d.Stats()
			if st.RxFrames != 1 || st.RxBytes != uint64(len(f)) || st.AllocErrors != 0 {
				t.Errorf("Stats() = %+v, want 1 frame, %d bytes, 0 alloc errors", st, len(f))
			}
			checkBalanced(t, pool)
		})
	}
}

// TestReceiveStarvation: with the pool empty, frames are dropped and
// counted, Receive keeps waiting, a rate-limited warning is logged, and the
// pool ends balanced.
func TestReceiveStarvation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
		pool := newPool(t, "tiny", 1536, 2)
		var logBuf syncBuffer
		log := slog.New(slog.NewTextHandler(&logBuf, nil))
		d := newDriver(t, Options{Link: b, RxPool: pool, Logger: log})
		ctx := context.Background()

		var held []*packetpool.Packet
		for i := range 2 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(i), 200))
			pkt, err := d.Receive(ctx)
			if err != nil {
				t.Fatalf("Receive() #%d = %v", i, err)
			}
			held = append(held, pkt)
		}
		// Pool empty: the next 5 frames are dropped.
		for i := range 5 {
			mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), uint32(10+i), 1514))
		}
		got := make(chan *packetpool.Packet, 1)
		go func() {
			pkt, err := d.Receive(ctx)
			if err != nil {
				t.Errorf("Receive() = %v", err)
			}
			got <- pkt
		}()
		synctest.Wait()
		if st := d.Stats(); st.AllocErrors != 5 || st.RxFrames != 2 {
			t.Fatalf("Stats() = %+v, want AllocErrors 5, RxFrames 2", st)
		}
		select {
		case <-got:
			t.Fatalf("Receive returned with the pool empty and no frame queued")
		default:
		}
		if n := strings.Count(logBuf.String(), "level=WARN"); n != 1 {
			t.Errorf("%d warnings for 5 drops within a second, want 1 (rate-limited):\n%s", n, logBuf.String())
		}
		if v, err := d.DirectCommand(LinkGetAllocErrors, 0); v != 5 || err != nil {
			t.Errorf("DirectCommand(LinkGetAllocErrors) = %d, %v, want 5, nil", v, err)
		}

		// A second later another drop logs again, reporting the suppressed ones.
		time.Sleep(1500 * time.Millisecond)
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 20, 64))
		synctest.Wait()
		if n := strings.Count(logBuf.String(), "level=WARN"); n != 2 || !strings.Contains(logBuf.String(), "suppressed=4") {
			t.Errorf("after 1.5 s: %d warnings, want 2 with suppressed=4:\n%s", n, logBuf.String())
		}

		// Free a packet: the next frame is received.
		held[0].Release()
		f := mkFrame(b.MAC(), a.MAC(), 30, 64)
		mustWrite(t, a, f)
		pkt := <-got
		if b, _ := chainBytes(t, pkt); !bytes.Equal(b, f) {
			t.Errorf("Receive after a release returned seq %d, want the next frame (30)", frameSeq(b))
		}
		pkt.Release()
		held[1].Release()
		checkBalanced(t, pool)
		if info := pool.Info(); info.EmptyRequests < 6 {
			t.Errorf("pool EmptyRequests = %d, want >= 6", info.EmptyRequests)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReceiveCancelAndClose covers both receive paths: a link that reads
// with a context (Port) and one that needs the pump goroutine (like a TAP).
func TestReceiveCancelAndClose(t *testing.T) {
	for _, pump := range []bool{false, true} {
		name := "context reader"
		if pump {
			name = "pump"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWire(t, WireOptions{})
				a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
				var link Link = b
				if pump {
					link = plainLink{b}
				}
				pool := newPool(t, "rx", 1536, 4)
				d, err := New(Options{Link: link, RxPool: pool})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() {
					_, err := d.Receive(ctx)
					errc <- err
				}()
				synctest.Wait()
				cancel()
				if err := <-errc; !errors.Is(err, nx.ErrWaitAborted) {
					t.Errorf("Receive(cancelled ctx) = %v, want %v", err, nx.ErrWaitAborted)
				}
				// A frame arriving after the cancel is not lost.
				f := mkFrame(b.MAC(), a.MAC(), 5, 300)
				mustWrite(t, a, f)
				pkt, err := d.Receive(context.Background())
				if err != nil {
					t.Fatalf("Receive() = %v", err)
				}
				if got, _ := chainBytes(t, pkt); !bytes.Equal(got, f) {
					t.Errorf("Receive() after a cancelled Receive returned another frame")
				}
				pkt.Release()

				go func() {
					_, err := d.Receive(context.Background())
					errc <- err
				}()
				synctest.Wait()
				if err := d.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
				if err := <-errc; !errors.Is(err, ErrClosed) {
					t.Errorf("pending Receive after Close = %v, want ErrClosed", err)
				}
				if _, err := d.Receive(context.Background()); !errors.Is(err, ErrClosed) {
					t.Errorf("Receive after Close = %v, want ErrClosed", err)
				}
				if err := d.Close(); err != nil {
					t.Errorf("second Close() = %v", err)
				}
				checkBalanced(t, pool)
			})
		})
	}
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	w := newWire(t, WireOptions{})
	a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
	rx := newPool(t, "rx", 1536, 4)
	tx := newPool(t, "tx", 200, 16)
	d := newDriver(t, Options{Name: "a", Link: a, RxPool: rx})

	for _, size := range []int{60, 200, 1514} {
		f := mkFrame(b.MAC(), a.MAC(), uint32(size), size)
		pkt, err := tx.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
		if err != nil {
			t.Fatal(err)
		}
		if err := pkt.Append(ctx, f, tx, nx.NoWait); err != nil {
			t.Fatalf("Append(%d bytes) = %v", size, err)
		}
		if err := d.Send(pkt); err != nil {
			t.Fatalf("Send(%d-byte chain) = %v", size, err)
		}
		got, ok := tryRead(t, b)
		if !ok || !bytes.Equal(got, f) {
			t.Errorf("b received %d bytes for a %d-byte chain, want the frame", len(got), size)
		}
	}
	checkBalanced(t, tx)

	f := mkFrame(b.MAC(), a.MAC(), 9, 100)
	if err := d.SendFrame(f); err != nil {
		t.Errorf("SendFrame() = %v", err)
	}
	if got, ok := tryRead(t, b); !ok || !bytes.Equal(got, f) {
		t.Errorf("SendFrame: b did not receive the frame")
	}
	if err := d.SendFrame(make([]byte, 1515)); !errors.Is(err, nx.ErrSize) {
		t.Errorf("SendFrame(1515 bytes) = %v, want %v", err, nx.ErrSize)
	}
	if err := d.Send(nil); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("Send(nil) = %v, want %v", err, nx.ErrPtr)
	}
	st := d.Stats()
	if st.TxFrames != 4 || st.TxBytes != 60+200+1514+100 || st.Errors != 1 {
		t.Errorf("Stats() = %+v, want 4 frames, %d bytes, 1 error", st, 60+200+1514+100)
	}

	// Disabled: the packet is still released, the frame dropped and counted.
	d.DirectCommand(LinkDisable, 0)
	pkt, _ := tx.Allocate(ctx, packetpool.ReceivePacket, nx.NoWait)
	pkt.Append(ctx, f, tx, nx.NoWait)
	if err := d.Send(pkt); !errors.Is(err, nx.ErrNotEnabled) {
		t.Errorf("Send while disabled = %v, want %v", err, nx.ErrNotEnabled)
	}
	if err := d.SendFrame(f); !errors.Is(err, nx.ErrNotEnabled) {
		t.Errorf("SendFrame while disabled = %v, want %v", err, nx.ErrNotEnabled)
	}
	if got := d.Stats().TxDropped; got != 2 {
		t.Errorf("TxDropped = %d, want 2", got)
	}
	if _, ok := tryRead(t, b); ok {
		t.Errorf("b received a frame sent while disabled")
	}
	checkBalanced(t, tx)
	checkBalanced(t, rx)
}

func TestReceiveFilterAndDisable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire(t, WireOptions{})
		a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
		pool := newPool(t, "rx", 1536, 8)
		d := newDriver(t, Options{Link: b, RxPool: pool})
		group := net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
		other := net.HardwareAddr{0x02, 0xee, 0, 0, 0, 1}

		// Unknown unicast floods to b, which must filter it like a real MAC.
		frames := []struct {
			dst  net.HardwareAddr
			want bool
		}{
			{b.MAC(), true},
			{Broadcast, true},
			{net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, true},
			{other, false},
			{group, false},
		}
		for i, f := range frames {
			mustWrite(t, a, mkFrame(f.dst, a.MAC(), uint32(i), 64))
		}
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 99, 64))
		recv := func() uint32 {
			t.Helper()
			pkt, err := d.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got, _ := chainBytes(t, pkt)
			pkt.Release()
			return frameSeq(got)
		}
		var seqs []uint32
		for range 4 {
			seqs = append(seqs, recv())
		}
		if want := []uint32{0, 1, 2, 99}; !equalU32(seqs, want) {
			t.Errorf("received %v, want %v", seqs, want)
		}
		if got := d.Stats().RxFiltered; got != 2 {
			t.Errorf("RxFiltered = %d, want 2", got)
		}
		if err := d.MulticastJoin(group); err != nil {
			t.Fatalf("MulticastJoin(%v) = %v", group, err)
		}
		mustWrite(t, a, mkFrame(group, a.MAC(), 100, 64))
		if got := recv(); got != 100 {
			t.Errorf("after joining %v received seq %d, want 100", group, got)
		}
		if err := d.MulticastLeave(group); err != nil {
			t.Errorf("MulticastLeave(%v) = %v", group, err)
		}

		// Disabled: frames dropped and counted, link status down.
		d.DirectCommand(LinkDisable, 0)
		if v, _ := d.DirectCommand(LinkGetStatus, 0); v != 0 {
			t.Errorf("LinkGetStatus while disabled = %d, want 0", v)
		}
		mustWrite(t, a, mkFrame(b.MAC(), a.MAC(), 200, 64))
		errc := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { _, err := d.Receive(ctx); errc <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, nx.ErrWaitAborted) {
			t.Errorf("Receive while disabled = %v, want the frame dropped and the wait aborted", err)
		}
		if got := d.Stats().RxDropped; got != 1 {
			t.Errorf("RxDropped = %d, want 1", got)
		}
		d.DirectCommand(LinkEnable, 0)
		if v, _ := d.DirectCommand(LinkGetStatus, 0); v != 1 {
			t.Errorf("LinkGetStatus after enable = %d, want 1", v)
		}
		checkBalanced(t, pool)
	})
}

func equalU32(a, b []uint32) bool {
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

func TestDirectCommand(t *testing.T) {
	ctx := context.Background()
	w := newWire(t, WireOptions{})
	a := attach(t, w, PortOptions{RateBitsPerSecond: 100_000_000})
	b := attach(t, w, PortOptions{})
	pool := newPool(t, "rx", 1536, 4)
	var userCalls []string
	d := newDriver(t, Options{Link: a, RxPool: pool, UserCommand: func(cmd Command, arg uint32) (uint32, error) {
		userCalls = append(userCalls, cmd.String())
		if cmd == LinkUserCommand+1 {
			return 0, nx.ErrNotSupported
		}
		return arg * 2, nil
	}})
	d.SendFrame(mkFrame(b.MAC(), a.MAC(), 1, 100))
	d.SendFrame(mkFrame(b.MAC(), a.MAC(), 2, 100))
	mustWrite(t, b, mkFrame(a.MAC(), b.MAC(), 3, 100))
	pkt, err := d.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pkt.Release()
	d.SendFrame(make([]byte, 2000)) // one error

	group := uint32(0x5e0000fb) // 224.0.0.251 -> 01:00:5e:00:00:fb
	tests := []struct {
		cmd     Command
		arg     uint32
		want    uint32
		wantErr error
	}{
		{LinkInitialize, 0, 0, nil},
		{LinkEnable, 0, 0, nil},
		{LinkGetStatus, 0, 1, nil},
		{LinkGetSpeed, 0, 100, nil},
		{LinkGetDuplexType, 0, DuplexFull, nil},
		{LinkGetErrorCount, 0, 1, nil},
		{LinkGetRxCount, 0, 1, nil},
		{LinkGetTxCount, 0, 2, nil},
		{LinkGetAllocErrors, 0, 0, nil},
		{LinkGetInterfaceType, 0, InterfaceTypeEthernet, nil},
		{LinkDeferredProcessing, 0, 0, nil},
		{LinkMulticastLeave, group, 0, nx.ErrEntryNotFound},
		{LinkMulticastJoin, group, 0, nil},
		{LinkMulticastJoin, group, 0, nil}, // NetX: every join takes an entry
		{LinkMulticastJoin, group + 1, 0, nil},
		{LinkMulticastJoin, group + 2, 0, nx.ErrNoMoreEntries},
		{LinkMulticastLeave, group, 0, nil},
		{LinkMulticastJoin, group + 2, 0, nil},
		{LinkMulticastLeave, group + 3, 0, nx.ErrEntryNotFound},
		{LinkPacketSend, 0, 0, nx.ErrUnhandledCommand},
		{LinkARPSend, 0, 0, nx.ErrUnhandledCommand},
		{LinkSetPhysicalAddress, 0, 0, nx.ErrUnhandledCommand},
		{LinkRawPacketSend, 0, 0, nx.ErrUnhandledCommand},
		{Command(49), 0, 0, nx.ErrUnhandledCommand},
		{LinkUserCommand, 21, 42, nil},
		{LinkUserCommand + 1, 0, 0, nx.ErrNotSupported},
		{LinkDisable, 0, 0, nil},
		{LinkGetStatus, 0, 0, nil},
		{LinkEnable, 0, 0, nil},
		{LinkGetStatus, 0, 1, nil},
	}
	for i, tt := range tests {
		got, err := d.DirectCommand(tt.cmd, tt.arg)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("#%d DirectCommand(%v, %#x) = %d, %v, want %d, %v", i, tt.cmd, tt.arg, got, err, tt.want, tt.wantErr)
		}
	}
	if want := "NX_LINK_USER_COMMAND+0,NX_LINK_USER_COMMAND+1"; strings.Join(userCalls, ",") != want {
		t.Errorf("UserCommand calls = %v, want %s", userCalls, want)
	}

	// Without a UserCommand handler user commands are unhandled too.
	d2 := newDriver(t, Options{Link: b, RxPool: pool})
	if _, err := d2.DirectCommand(LinkUserCommand, 0); !errors.Is(err, nx.ErrUnhandledCommand) {
		t.Errorf("DirectCommand(NX_LINK_USER_COMMAND) without handler = %v, want %v", err, nx.ErrUnhandledCommand)
	}
	// A cable pull shows in NX_LINK_GET_STATUS.
	b.SetLinkUp(false)
	if v, _ := d2.DirectCommand(LinkGetStatus, 0); v != 0 {
		t.Errorf("LinkGetStatus with the cable out = %d, want 0", v)
	}
	checkBalanced(t, pool)
}

func TestCommandString(t *testing.T) {
	for _, tt := range []struct {
		c    Command
		want string
	}{
		{LinkGetAllocErrors, "NX_LINK_GET_ALLOC_ERRORS"},
		{LinkUserCommand + 3, "NX_LINK_USER_COMMAND+3"},
		{Command(40), "command 40"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Command(%d).String() = %q, want %q", uint32(tt.c), got, tt.want)
		}
	}
}
