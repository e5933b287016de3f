package netsvc_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netsvc"
)

func TestPacketConnRoundTripDeadlineClose(t *testing.T) {
	boardtest.CheckGoroutines(t)
	a, b := boardtest.Pair(t, boardtest.Options{})
	pa, err := netsvc.ListenPacket(a.IP, "a", 0)
	if err != nil {
		t.Fatalf("ListenPacket(a) = %v", err)
	}
	defer pa.Close()
	pb, err := netsvc.ListenPacket(b.IP, "b", 4000)
	if err != nil {
		t.Fatalf("ListenPacket(b) = %v", err)
	}
	defer pb.Close()

	if _, err := pa.WriteTo([]byte("hello"), &net.UDPAddr{IP: b.Addr.AsSlice(), Port: 4000}); err != nil {
		t.Fatalf("WriteTo = %v", err)
	}
	buf := make([]byte, 3)
	_ = pb.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := pb.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hel" || from.(*net.UDPAddr).AddrPort().Addr() != a.Addr {
		t.Fatalf("ReadFrom = %d %q, %v, %v; want the truncated datagram from %v", n, buf[:n], from, err, a.Addr)
	}

	_ = pb.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := pb.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}

	// A new deadline in the past wakes a blocked reader (miekg/dns's
	// Shutdown relies on it); Close does too.
	_ = pb.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := pb.ReadFrom(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = pb.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom woken by a past deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	_ = pb.SetReadDeadline(time.Time{})
	go func() { _, _, err := pb.ReadFrom(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = pb.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrom woken by Close = %v, want net.ErrClosed", err)
	}
	if err := pb.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}
