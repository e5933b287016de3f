//go:build linux

package driver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/simboard/simboard/internal/boardtest/leak"
	"github.com/simboard/simboard/internal/netns"
	"github.com/simboard/simboard/nx"
)

// tapNS creates a namespace with tap0 = 198.51.100.1/24 on the kernel side.
// It first arms the goroutine-leak check, whose cleanup then runs after the
// TAP and the namespace are closed, also when the test fails midway.
func tapNS(t *testing.T) *netns.NS {
	t.Helper()
	leak.Check(t)
	ns := netns.ForTest(t, "drvtap")
	if err := ns.AddTAP(context.Background(), "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatalf("AddTAP(tap0) = %v", err)
	}
	return ns
}

func openTAP(t *testing.T, ns *netns.NS, opts TAPOptions) *TAP {
	t.Helper()
	var tap *TAP
	err := ns.Do(func() error {
		var err error
		tap, err = OpenTAP(opts)
		return err
	})
	if err != nil {
		t.Fatalf("OpenTAP(%+v) in %s = %v", opts, ns.Name(), err)
	}
	t.Cleanup(func() { tap.Close() })
	return tap
}

// watchdog closes l if the test has not finished within d, so a kernel
// that never answers fails the test instead of hanging it. It is a safety
// net, not a timing assertion.
func watchdog(t *testing.T, l Link, d time.Duration) {
	timer := time.AfterFunc(d, func() { l.Close() })
	t.Cleanup(func() { timer.Stop() })
}

// readUntil reads frames until match accepts one, skipping others (at most 50).
func readUntil(t *testing.T, l Link, what string, match func(gopacket.Packet) bool) gopacket.Packet {
	t.Helper()
	buf := make([]byte, l.MTU()+EthernetHeaderLen)
	for range 50 {
		n, err := l.ReadFrame(buf)
		if err != nil {
			t.Fatalf("waiting for %s: ReadFrame() = %v", what, err)
		}
		pkt := gopacket.NewPacket(append([]byte(nil), buf[:n]...), layers.LayerTypeEthernet, gopacket.Default)
		if match(pkt) {
			return pkt
		}
	}
	t.Fatalf("no %s among 50 frames", what)
	return nil
}

// TestTAPKernelExchange: inside a private namespace the kernel answers an
// ARP request and an ICMP echo request built by hand, addressed to the
// board's own MAC (not the TAP's kernel MAC).
func TestTAPKernelExchange(t *testing.T) {
	ns := tapNS(t)
	tap := openTAP(t, ns, TAPOptions{Name: "tap0"})
	watchdog(t, tap, 10*time.Second)
	board := tap.MAC()
	if board[0] != 0x02 || tap.MTU() != 1500 {
		t.Errorf("MAC() = %v, MTU() = %d, want a locally administered MAC and 1500", board, tap.MTU())
	}
	var kernelMAC net.HardwareAddr
	ns.Do(func() error {
		ifc, err := net.InterfaceByName("tap0")
		if err == nil {
			kernelMAC = ifc.HardwareAddr
		}
		return err
	})
	if bytes.Equal(board, kernelMAC) {
		t.Fatalf("board MAC %v equals the TAP's kernel MAC", board)
	}
	if !tap.LinkUp() {
		t.Errorf("LinkUp() = false for an up TAP")
	}

	// ARP: who has 198.51.100.1? tell 198.51.100.2.
	if err := tap.WriteFrame(arpFrame(t, layers.ARPRequest, board, Broadcast, boardIP, hostIP)); err != nil {
		t.Fatalf("WriteFrame(ARP request) = %v", err)
	}
	pkt := readUntil(t, tap, "ARP reply", func(p gopacket.Packet) bool {
		arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		return ok && arp.Operation == layers.ARPReply
	})
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !bytes.Equal(eth.DstMAC, board) || !bytes.Equal(arp.DstHwAddress, board) {
		t.Errorf("ARP reply to %v (target %v), want our board MAC %v", eth.DstMAC, net.HardwareAddr(arp.DstHwAddress), board)
	}
	if !net.IP(arp.SourceProtAddress).Equal(hostIP) || !bytes.Equal(arp.SourceHwAddress, kernelMAC) {
		t.Errorf("ARP reply says %v is at %v, want %v at %v", net.IP(arp.SourceProtAddress), net.HardwareAddr(arp.SourceHwAddress), hostIP, kernelMAC)
	}

	// ICMP echo to the kernel, which now knows the board's MAC.
	payload := []byte("simboard tap echo")
	echo := buildEcho(t, board, kernelMAC, 0x5b, 1, payload)
	if err := tap.WriteFrame(echo); err != nil {
		t.Fatalf("WriteFrame(ICMP echo) = %v", err)
	}
	pkt = readUntil(t, tap, "ICMP echo reply", func(p gopacket.Packet) bool {
		icmp, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		return ok && icmp.TypeCode.Type() == layers.ICMPv4TypeEchoReply
	})
	icmp := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	ip4 := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if icmp.Id != 0x5b || icmp.Seq != 1 || !bytes.Equal(icmp.Payload, payload) || !ip4.SrcIP.Equal(hostIP) || !ip4.DstIP.Equal(boardIP) {
		t.Errorf("echo reply id %#x seq %d payload %q %v->%v, want id 0x5b seq 1 %q %v->%v",
			icmp.Id, icmp.Seq, icmp.Payload, ip4.SrcIP, ip4.DstIP, payload, hostIP, boardIP)
	}
	if err := tap.WriteFrame(make([]byte, 1515)); !errors.Is(err, nx.ErrSize) {
		t.Errorf("WriteFrame(1515 bytes) = %v, want %v", err, nx.ErrSize)
	}
}

func buildEcho(t *testing.T, src, dst net.HardwareAddr, id, seq uint16, payload []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: boardIP.To4(), DstIP: hostIP.To4()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: seq}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, icmp, gopacket.Payload(payload)); err != nil {
		t.Fatalf("serialize echo: %v", err)
	}
	return buf.Bytes()
}

// TestTAPCloseUnblocksRead: with the pinned water version the TAP fd is
// non-blocking and parked in Go's poller, so Close wakes a blocked read.
func TestTAPCloseUnblocksRead(t *testing.T) {
	ns := tapNS(t)
	tap := openTAP(t, ns, TAPOptions{Name: "tap0"})
	errc := make(chan error, 1)
	go func() {
		_, err := tap.ReadFrame(make([]byte, 1514))
		errc <- err
	}()
	// Wait until the reader is parked in the poller ("IO wait"), so Close
	// really races a blocked read and not one that has not started.
	if !waitGoroutineState("IO wait", "(*TAP).ReadFrame", 5*time.Second) {
		t.Fatalf("reader never blocked in IO wait")
	}
	if err := tap.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked ReadFrame after Close = %v, want ErrClosed wrapping net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Close did not unblock a pending ReadFrame")
	}
	if err := tap.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if tap.LinkUp() {
		t.Errorf("LinkUp() = true after Close")
	}
	if err := tap.WriteFrame(make([]byte, 60)); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteFrame after Close = %v, want ErrClosed", err)
	}
	// The device created beforehand (persistent) survives our Close.
	if err := ns.Run(context.Background(), "ip", "link", "show", "tap0"); err != nil {
		t.Errorf("tap0 gone after Close: %v (water must not clear the persist flag of an existing device)", err)
	}
}

// waitGoroutineState polls the goroutine dump until a goroutine whose stack
// contains fn is in state.
func waitGoroutineState(state, fn string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "["+state) && strings.Contains(g, fn) {
				return true
			}
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestTAPDriverPump: a Driver over a TAP (no context reads) receives the
// kernel's ARP reply through its pump, and Close joins the pump.
func TestTAPDriverPump(t *testing.T) {
	ns := tapNS(t)
	tap := openTAP(t, ns, TAPOptions{Name: "tap0", MAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}})
	watchdog(t, tap, 10*time.Second)
	pool := newPool(t, "rx", 256, 16)
	d := newDriver(t, Options{Link: tap, RxPool: pool})
	if err := d.SendFrame(arpFrame(t, layers.ARPRequest, tap.MAC(), Broadcast, boardIP, hostIP)); err != nil {
		t.Fatalf("SendFrame(ARP) = %v", err)
	}
	pkt, err := d.Receive(context.Background())
	if err != nil {
		t.Fatalf("Receive() = %v", err)
	}
	b, _ := chainBytes(t, pkt)
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); !ok || arp.Operation != layers.ARPReply {
		t.Errorf("Receive() = %v, want the kernel's ARP reply", p)
	}
	pkt.Release()
	errc := make(chan error, 1)
	go func() { _, err := d.Receive(context.Background()); errc <- err }()
	if err := d.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close = %v, want ErrClosed", err)
	}
	// Close joined the pump: it has closed pumpDone on its way out, so it
	// is gone as soon as its deferred close returns (a goroutine that has
	// just run its defers can still show in a stack dump for a moment).
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "(*Driver).pump") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("receive pump still running 2 s after Close:\n%s", buf[:n])
			break
		}
	}
	checkBalanced(t, pool)
}

func TestTAPCreate(t *testing.T) {
	leak.Check(t)
	ns := netns.ForTest(t, "drvtapc")
	ctx := context.Background()
	tap := openTAP(t, ns, TAPOptions{Name: "tapsb1", Create: true, MTU: 1400})
	if tap.MTU() != 1400 || tap.Name() != "tapsb1" {
		t.Errorf("MTU(), Name() = %d, %q, want 1400, tapsb1", tap.MTU(), tap.Name())
	}
	if err := ns.Run(ctx, "ip", "link", "show", "tapsb1"); err != nil {
		t.Fatalf("created device not visible in the namespace: %v", err)
	}
	if _, err := net.InterfaceByName("tapsb1"); err == nil {
		t.Errorf("tapsb1 visible in the host namespace")
	}
	tap.Close()
	if err := ns.Run(ctx, "ip", "link", "show", "tapsb1"); err == nil {
		t.Errorf("device created by OpenTAP without Persist still exists after Close")
	}
}

func TestTAPOpenErrors(t *testing.T) {
	leak.Check(t)
	ns := netns.ForTest(t, "drvtape")
	err := ns.Do(func() error {
		tap, err := OpenTAP(TAPOptions{Name: "nosuch0"})
		if err == nil {
			tap.Close()
			return errors.New("OpenTAP(nosuch0) = nil error, want not found")
		}
		if !errors.Is(err, nx.ErrNotFound) || !strings.Contains(err.Error(), "ip tuntap add dev nosuch0 mode tap user $USER") {
			return fmt.Errorf("OpenTAP(nosuch0) = %q, want nx.ErrNotFound and the ip tuntap command", err)
		}
		for _, opts := range []TAPOptions{{}, {Name: "tap0", MTU: 20}, {Name: "tap0", MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}}} {
			if _, err := OpenTAP(opts); !errors.Is(err, nx.ErrInvalidParameters) {
				return fmt.Errorf("OpenTAP(%+v) = %v, want %v", opts, err, nx.ErrInvalidParameters)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// What the user sees for each kernel refusal.
	for _, tt := range []struct {
		ioctl bool
		errno syscall.Errno
		want  string
	}{
		{false, syscall.ENOENT, "sudo modprobe tun"},
		{false, syscall.EACCES, "sudo ip tuntap add dev tap0 mode tap user $USER && sudo ip link set tap0 up"},
		{true, syscall.EPERM, "sudo ip tuntap add dev tap0 mode tap user $USER"},
		{true, syscall.EBUSY, "already attached"},
		{true, syscall.EINVAL, "not a single-queue TAP"},
	} {
		var in error = tt.errno // water returns open(2) errors bare
		if tt.ioctl {
			in = os.NewSyscallError("ioctl", tt.errno)
		}
		err := tapOpenError("tap0", in)
		if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.errno) {
			t.Errorf("tapOpenError(%v) = %q, want it to mention %q and wrap %v", in, err, tt.want, tt.errno)
		}
	}
}
