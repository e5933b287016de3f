package nx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/simboard/simboard/nx"
)

// netxStatuses is the status table of common/inc/nx_api.h as transcribed in
// reference/netxduo.md §0, kept here independently of status_table.go.
var netxStatuses = []struct {
	value uint32
	name  string
}{
	{0x00, "NX_SUCCESS"},
	{0x01, "NX_NO_PACKET"},
	{0x02, "NX_UNDERFLOW"},
	{0x03, "NX_OVERFLOW"},
	{0x04, "NX_NO_MAPPING"},
	{0x05, "NX_DELETED"},
	{0x06, "NX_POOL_ERROR"},
	{0x07, "NX_PTR_ERROR"},
	{0x08, "NX_WAIT_ERROR"},
	{0x09, "NX_SIZE_ERROR"},
	{0x0A, "NX_OPTION_ERROR"},
	{0x10, "NX_DELETE_ERROR"},
	{0x11, "NX_CALLER_ERROR"},
	{0x12, "NX_INVALID_PACKET"},
	{0x13, "NX_INVALID_SOCKET"},
	{0x14, "NX_NOT_ENABLED"},
	{0x15, "NX_ALREADY_ENABLED"},
	{0x16, "NX_ENTRY_NOT_FOUND"},
	{0x17, "NX_NO_MORE_ENTRIES"},
	{0x18, "NX_ARP_TIMER_ERROR"},
	{0x19, "NX_RESERVED_CODE0"},
	{0x1A, "NX_WAIT_ABORTED"},
	{0x20, "NX_IP_INTERNAL_ERROR"},
	{0x21, "NX_IP_ADDRESS_ERROR"},
	{0x22, "NX_ALREADY_BOUND"},
	{0x23, "NX_PORT_UNAVAILABLE"},
	{0x24, "NX_NOT_BOUND"},
	{0x26, "NX_SOCKET_UNBOUND"},
	{0x27, "NX_NOT_CREATED"},
	{0x28, "NX_SOCKETS_BOUND"},
	{0x29, "NX_NO_RESPONSE"},
	{0x30, "NX_POOL_DELETED"},
	{0x31, "NX_ALREADY_RELEASED"},
	{0x33, "NX_MAX_LISTEN"},
	{0x34, "NX_DUPLICATE_LISTEN"},
	{0x35, "NX_NOT_CLOSED"},
	{0x36, "NX_NOT_LISTEN_STATE"},
	{0x37, "NX_IN_PROGRESS"},
	{0x38, "NX_NOT_CONNECTED"},
	{0x39, "NX_WINDOW_OVERFLOW"},
	{0x40, "NX_ALREADY_SUSPENDED"},
	{0x41, "NX_DISCONNECT_FAILED"},
	{0x42, "NX_STILL_BOUND"},
	{0x43, "NX_NOT_SUCCESSFUL"},
	{0x44, "NX_UNHANDLED_COMMAND"},
	{0x45, "NX_NO_FREE_PORTS"},
	{0x46, "NX_INVALID_PORT"},
	{0x47, "NX_INVALID_RELISTEN"},
	{0x48, "NX_CONNECTION_PENDING"},
	{0x49, "NX_TX_QUEUE_DEPTH"},
	{0x4A, "NX_NOT_IMPLEMENTED"},
	{0x4B, "NX_NOT_SUPPORTED"},
	{0x4C, "NX_INVALID_INTERFACE"},
	{0x4D, "NX_INVALID_PARAMETERS"},
	{0x4E, "NX_NOT_FOUND"},
	{0x4F, "NX_CANNOT_START"},
	{0x50, "NX_NO_INTERFACE_ADDRESS"},
	{0x51, "NX_INVALID_MTU_DATA"},
	{0x52, "NX_DUPLICATED_ENTRY"},
	{0x53, "NX_PACKET_OFFSET_ERROR"},
	{0x54, "NX_OPTION_HEADER_ERROR"},
	{0x55, "NX_CONTINUE"},
	{0x56, "NX_TCPIP_OFFLOAD_ERROR"},
}

func TestStatusNamesMatchNetX(t *testing.T) {
	for _, s := range netxStatuses {
		st := nx.Status(s.value)
		if got := st.Name(); got != s.name {
			t.Errorf("Status(0x%02X).Name() = %q, want %q", s.value, got, s.name)
		}
		want := fmt.Sprintf("nx: %s (0x%02X)", s.name, s.value)
		if got := st.Error(); got != want {
			t.Errorf("Status(0x%02X).Error() = %q, want %q", s.value, got, want)
		}
	}
}

func TestStatusConstants(t *testing.T) {
	tests := []struct {
		st    nx.Status
		value uint32
		text  string
	}{
		{nx.Success, 0x00, "nx: NX_SUCCESS (0x00)"},
		{nx.ErrNoPacket, 0x01, "nx: NX_NO_PACKET (0x01)"},
		{nx.ErrPtr, 0x07, "nx: NX_PTR_ERROR (0x07)"},
		{nx.ErrSize, 0x09, "nx: NX_SIZE_ERROR (0x09)"},
		{nx.ErrOption, 0x0A, "nx: NX_OPTION_ERROR (0x0A)"},
		{nx.ErrInvalidPacket, 0x12, "nx: NX_INVALID_PACKET (0x12)"},
		{nx.ErrWaitAborted, 0x1A, "nx: NX_WAIT_ABORTED (0x1A)"},
		{nx.ErrPoolDeleted, 0x30, "nx: NX_POOL_DELETED (0x30)"},
		{nx.ErrInProgress, 0x37, "nx: NX_IN_PROGRESS (0x37)"},
		{nx.ErrNotConnected, 0x38, "nx: NX_NOT_CONNECTED (0x38)"},
		{nx.ErrWindowOverflow, 0x39, "nx: NX_WINDOW_OVERFLOW (0x39)"},
		{nx.ErrNotSuccessful, 0x43, "nx: NX_NOT_SUCCESSFUL (0x43)"},
		{nx.ErrTXQueueDepth, 0x49, "nx: NX_TX_QUEUE_DEPTH (0x49)"},
		{nx.ErrInvalidParameters, 0x4D, "nx: NX_INVALID_PARAMETERS (0x4D)"},
		{nx.ErrPacketOffset, 0x53, "nx: NX_PACKET_OFFSET_ERROR (0x53)"},
		{nx.ErrTCPIPOffload, 0x56, "nx: NX_TCPIP_OFFLOAD_ERROR (0x56)"},
	}
	for _, tt := range tests {
		if uint32(tt.st) != tt.value {
			t.Errorf("%s = 0x%02X, want 0x%02X", tt.text, uint32(tt.st), tt.value)
		}
		if got := tt.st.Error(); got != tt.text {
			t.Errorf("Status(0x%02X).Error() = %q, want %q", tt.value, got, tt.text)
		}
	}
}

func TestStatusUnknown(t *testing.T) {
	st := nx.Status(0xEE)
	if got, want := st.Error(), "nx: status 0xEE"; got != want {
		t.Fatalf("Status(0xEE).Error() = %q, want %q", got, want)
	}
	if got := st.Name(); got != "" {
		t.Fatalf("Status(0xEE).Name() = %q, want \"\"", got)
	}
	if got, want := nx.Status(0x1234).String(), "status 0x1234"; got != want {
		t.Fatalf("Status(0x1234).String() = %q, want %q", got, want)
	}
}

func TestErrorsIsAsThroughWrapping(t *testing.T) {
	base := fmt.Errorf("packetpool: pool %q: allocate: %w", "rx", nx.ErrNoPacket)
	wrapped := fmt.Errorf("driver: receive: %w", base)
	joined := errors.Join(errors.New("unrelated"), wrapped)
	multi := fmt.Errorf("two: %w and %w", errors.New("plain"), nx.ErrPtr)

	for _, tc := range []struct {
		name string
		err  error
		want nx.Status
	}{
		{"direct", nx.ErrNoPacket, nx.ErrNoPacket},
		{"wrapped once", base, nx.ErrNoPacket},
		{"wrapped twice", wrapped, nx.ErrNoPacket},
		{"joined", joined, nx.ErrNoPacket},
		{"multi %w", multi, nx.ErrPtr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("errors.Is(%v, %v) = false, want true", tc.err, tc.want)
			}
			if errors.Is(tc.err, nx.ErrDeleted) {
				t.Fatalf("errors.Is(%v, ErrDeleted) = true, want false", tc.err)
			}
			var st nx.Status
			if !errors.As(tc.err, &st) || st != tc.want {
				t.Fatalf("errors.As(%v, &st) = %v (%v), want %v", tc.err, errors.As(tc.err, &st), st, tc.want)
			}
			if got := nx.Code(tc.err); got != tc.want {
				t.Fatalf("Code(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestCode(t *testing.T) {
	if got := nx.Code(nil); got != nx.Success {
		t.Fatalf("Code(nil) = %v, want %v", got, nx.Success)
	}
	if got := nx.Code(errors.New("boom")); got != nx.ErrNotSuccessful {
		t.Fatalf("Code(errors.New) = %v, want %v", got, nx.ErrNotSuccessful)
	}
	if got := nx.Code(fmt.Errorf("x: %w", context.Canceled)); got != nx.ErrNotSuccessful {
		t.Fatalf("Code(wrapped context.Canceled) = %v, want %v", got, nx.ErrNotSuccessful)
	}
	if got := nx.Code(errors.Join(errors.New("a"), errors.New("b"))); got != nx.ErrNotSuccessful {
		t.Fatalf("Code(join without status) = %v, want %v", got, nx.ErrNotSuccessful)
	}
}

func TestWaitConversions(t *testing.T) {
	tests := []struct {
		name string
		got  nx.Wait
		want nx.Wait
	}{
		{"Ticks(0)", nx.Ticks(0), nx.NoWait},
		{"Ticks(0xFFFFFFFF)", nx.Ticks(0xFFFFFFFF), nx.WaitForever},
		{"Ticks(10)", nx.Ticks(10), nx.Wait(10)},
		{"Seconds(0)", nx.Seconds(0), nx.NoWait},
		{"Seconds(2)", nx.Seconds(2), nx.Wait(2 * nx.TicksPerSecond)},
		{"Seconds(huge)", nx.Seconds(0xFFFFFFFF / nx.TicksPerSecond), nx.Wait(0xFFFFFFFF / nx.TicksPerSecond * nx.TicksPerSecond)},
		{"Seconds(overflow)", nx.Seconds(0xFFFFFFFF/nx.TicksPerSecond + 1), nx.WaitForever},
		{"FromDuration(0)", nx.FromDuration(0), nx.NoWait},
		{"FromDuration(-1s)", nx.FromDuration(-time.Second), nx.NoWait},
		{"FromDuration(1ns)", nx.FromDuration(time.Nanosecond), nx.Ticks(1)},
		{"FromDuration(10ms)", nx.FromDuration(10 * time.Millisecond), nx.Ticks(1)},
		{"FromDuration(15ms)", nx.FromDuration(15 * time.Millisecond), nx.Ticks(2)},
		{"FromDuration(1s)", nx.FromDuration(time.Second), nx.Ticks(100)},
		{"FromDuration(100 years)", nx.FromDuration(100 * 365 * 24 * time.Hour), nx.WaitForever},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if nx.TicksPerSecond != 100 || nx.TickDuration != 10*time.Millisecond {
		t.Fatalf("TicksPerSecond = %d, TickDuration = %v, want 100, 10ms", nx.TicksPerSecond, nx.TickDuration)
	}
	if got := nx.Ticks(7).Duration(); got != 70*time.Millisecond {
		t.Fatalf("Ticks(7).Duration() = %v, want 70ms", got)
	}
	if got := nx.WaitForever.Duration(); got >= 0 {
		t.Fatalf("WaitForever.Duration() = %v, want negative", got)
	}
	if !nx.WaitForever.Forever() || nx.Ticks(5).Forever() || nx.NoWait.Forever() {
		t.Fatalf("Forever() wrong for WaitForever/Ticks(5)/NoWait")
	}
	for w, want := range map[nx.Wait]string{nx.NoWait: "NX_NO_WAIT", nx.WaitForever: "NX_WAIT_FOREVER", nx.Ticks(250): "250 ticks", nx.Ticks(1): "1 ticks"} {
		if got := w.String(); got != want {
			t.Errorf("Wait(%d).String() = %q, want %q", uint32(w), got, want)
		}
	}
}

// fakeClock records the durations Await asks for; its timers fire only when
// the test fires them.
type fakeClock struct {
	asked      []time.Duration
	fire       chan time.Time
	onNewTimer func()
}

func (c *fakeClock) Now() time.Time { return time.Time{} }
func (c *fakeClock) NewTimer(d time.Duration) nx.Timer {
	c.asked = append(c.asked, d)
	if c.onNewTimer != nil {
		c.onNewTimer()
	}
	return fakeTimer{c.fire}
}

type fakeTimer struct{ c chan time.Time }

func (t fakeTimer) C() <-chan time.Time { return t.c }
func (t fakeTimer) Stop() bool          { return true }

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func TestAwaitImmediate(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		wait  nx.Wait
		ready chan struct{}
		want  error
	}{
		{"ready first, NoWait", ctx, nx.NoWait, closed(), nil},
		{"ready first, WaitForever", ctx, nx.WaitForever, closed(), nil},
		{"ready wins over a cancelled ctx", cancelled, nx.Ticks(5), closed(), nil},
		{"NoWait not ready", ctx, nx.NoWait, make(chan struct{}), nx.ErrNoPacket},
		{"NoWait not ready, cancelled ctx", cancelled, nx.NoWait, make(chan struct{}), nx.ErrNoPacket},
		{"cancelled ctx, Ticks", cancelled, nx.Ticks(5), make(chan struct{}), nx.ErrWaitAborted},
		{"cancelled ctx, WaitForever", cancelled, nx.WaitForever, make(chan struct{}), nx.ErrWaitAborted},
		{"nil ctx, ready", nil, nx.Ticks(1), closed(), nil},
		{"nil ready, NoWait", ctx, nx.NoWait, nil, nx.ErrWindowOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := nx.ErrNoPacket
			if tt.ready == nil {
				timeout = nx.ErrWindowOverflow
			}
			err := nx.Await(tt.ctx, nil, tt.wait, tt.ready, timeout)
			if tt.want == nx.ErrWaitAborted {
				// Aborted: the status and the context's own error.
				if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) || nx.Code(err) != nx.ErrWaitAborted {
					t.Fatalf("Await(ctx, nil, %v, ready, %v) = %v, want %v wrapping %v", tt.wait, timeout, err, tt.want, context.Canceled)
				}
				return
			}
			if err != tt.want {
				t.Fatalf("Await(ctx, nil, %v, ready, %v) = %v, want %v", tt.wait, timeout, err, tt.want)
			}
		})
	}
}

func TestAwaitTimeoutSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		err := nx.Await(context.Background(), nx.SystemClock, nx.Ticks(10), make(chan struct{}), nx.ErrNoPacket)
		if err != nx.ErrNoPacket {
			t.Fatalf("Await(ctx, SystemClock, Ticks(10), never ready, ErrNoPacket) = %v, want %v", err, nx.ErrNoPacket)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("Await(Ticks(10)) returned after %v, want 100ms", d)
		}
	})
}

func TestAwaitReadyLaterSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ready := make(chan struct{}, 1)
		go func() {
			time.Sleep(30 * time.Millisecond)
			ready <- struct{}{} // a send, not a close, also counts
		}()
		start := time.Now()
		if err := nx.Await(context.Background(), nil, nx.Ticks(10), ready, nx.ErrNoPacket); err != nil {
			t.Fatalf("Await(ctx, nil, Ticks(10), ready at 30ms, ErrNoPacket) = %v, want nil", err)
		}
		if d := time.Since(start); d != 30*time.Millisecond {
			t.Fatalf("Await returned after %v, want 30ms", d)
		}
	})
}

func TestAwaitForeverUntilCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() {
			errs <- nx.Await(ctx, nil, nx.WaitForever, make(chan struct{}), nx.ErrNoPacket)
		}()
		time.Sleep(time.Hour) // nothing fires
		synctest.Wait()
		select {
		case err := <-errs:
			t.Fatalf("Await(WaitForever) returned %v before cancel", err)
		default:
		}
		cancel()
		if err := <-errs; !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Await(cancelled ctx, WaitForever) = %v, want %v wrapping %v", err, nx.ErrWaitAborted, context.Canceled)
		}
	})
}

func TestAwaitInjectedClock(t *testing.T) {
	clk := &fakeClock{fire: make(chan time.Time, 1)}
	clk.fire <- time.Time{}
	if err := nx.Await(context.Background(), clk, nx.Ticks(7), make(chan struct{}), nx.ErrWindowOverflow); err != nx.ErrWindowOverflow {
		t.Fatalf("Await(ctx, fake, Ticks(7), never ready, ErrWindowOverflow) = %v, want %v", err, nx.ErrWindowOverflow)
	}
	if len(clk.asked) != 1 || clk.asked[0] != 70*time.Millisecond {
		t.Fatalf("Await asked the clock for timers %v, want [70ms]", clk.asked)
	}
	// A condition that becomes true at the instant the timer fires still
	// wins, whichever case select picks.
	for range 50 {
		ready := make(chan struct{})
		clk.onNewTimer = func() {
			close(ready)
			clk.fire <- time.Time{}
		}
		if err := nx.Await(context.Background(), clk, nx.Ticks(1), ready, nx.ErrNoPacket); err != nil {
			t.Fatalf("Await(ready as the timer fires) = %v, want nil", err)
		}
		select {
		case <-clk.fire:
		default:
		}
	}
	clk.onNewTimer = nil
	// WaitForever asks for no timer at all.
	clk.asked = nil
	if err := nx.Await(context.Background(), clk, nx.WaitForever, closed(), nx.ErrNoPacket); err != nil || len(clk.asked) != 0 {
		t.Fatalf("Await(WaitForever, ready) = %v with timers %v, want nil and none", err, clk.asked)
	}
}

// TestAbortedWrapsContextError: issue 9 §4 — ctx.Err() stays reachable next
// to NX_WAIT_ABORTED, through a service's own wrapping, without allocating.
func TestAbortedWrapsContextError(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	tests := []struct {
		name  string
		ctx   context.Context
		cause error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("pool %q: allocate: %w", "p", nx.Aborted(tt.ctx))
			if !errors.Is(err, nx.ErrWaitAborted) || !errors.Is(err, tt.cause) {
				t.Fatalf("Aborted(%s ctx) = %v, want errors.Is for %v and %v", tt.name, err, nx.ErrWaitAborted, tt.cause)
			}
			var st nx.Status
			if !errors.As(err, &st) || st != nx.ErrWaitAborted || nx.Code(err) != nx.ErrWaitAborted {
				t.Fatalf("errors.As(Aborted(%s ctx)) = %v, Code = %v, want %v", tt.name, st, nx.Code(err), nx.ErrWaitAborted)
			}
			if want := "nx: NX_WAIT_ABORTED (0x1A): " + tt.cause.Error(); nx.Aborted(tt.ctx).Error() != want {
				t.Fatalf("Aborted(%s ctx).Error() = %q, want %q", tt.name, nx.Aborted(tt.ctx).Error(), want)
			}
			if !nx.Done(tt.ctx) {
				t.Fatalf("Done(%s ctx) = false, want true", tt.name)
			}
			if n := testing.AllocsPerRun(100, func() { _ = nx.Aborted(tt.ctx) }); n != 0 {
				t.Fatalf("AllocsPerRun(Aborted) = %v, want 0", n)
			}
		})
	}
	live, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	for _, ctx := range []context.Context{nil, context.Background(), live} {
		if nx.Done(ctx) {
			t.Fatalf("Done(%v) = true, want false", ctx)
		}
		if err := nx.Aborted(ctx); err != nx.ErrWaitAborted {
			t.Fatalf("Aborted(%v) = %v, want %v alone", ctx, err, nx.ErrWaitAborted)
		}
	}
}
