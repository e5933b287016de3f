package interop

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/simboard/simboard/driver"
)

// arpRequest builds "who has target? tell sender" from mac.
func arpRequest(mac net.HardwareAddr, sender, target [4]byte) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], mac)
	copy(f[28:32], sender[:])
	copy(f[38:42], target[:])
	return f
}

// TestTAPReachesKernel attaches to tap0 as the board does (driver.OpenTAP inside the
// namespace) and resolves the host side with ARP: frames written to the TAP reach the
// namespace's kernel, and its answers come back on the TAP, as tcpdump on tap0 sees.
func TestTAPReachesKernel(t *testing.T) {
	env := startEnv(t)
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	tap := env.OpenTAP(t, driver.TAPOptions{MAC: mac})
	capture := env.StartCapture(t, env.TAP, "arp")

	frames := make(chan []byte, 64)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 2048)
		for {
			n, err := tap.ReadFrame(buf)
			if err != nil {
				return // closed
			}
			select {
			case frames <- append([]byte(nil), buf[:n]...):
			default: // nobody listening any more
			}
		}
	}()
	t.Cleanup(func() { tap.Close(); <-readDone })

	board, host := env.BoardPrefix.Addr().As4(), env.HostAddr.As4()
	req := arpRequest(mac, board, host)
	deadline := time.After(sessionTimeout)
	resend := time.NewTicker(500 * time.Millisecond) // as an ARP client retries
	defer resend.Stop()
	var reply []byte
	for reply == nil {
		select {
		case <-resend.C:
		case <-deadline:
			t.Fatalf("no ARP reply from %s on %s within %v", env.HostAddr, env.TAP, sessionTimeout)
		case fr := <-frames:
			// Skip MLD, router solicitations and anything else the kernel sends.
			if len(fr) >= 42 && binary.BigEndian.Uint16(fr[12:]) == 0x0806 && binary.BigEndian.Uint16(fr[20:]) == 2 {
				reply = fr
			}
			continue
		}
		if err := tap.WriteFrame(req); err != nil {
			t.Fatalf("WriteFrame(ARP request) = %v", err)
		}
	}
	if !bytes.Equal(reply[0:6], mac) || !bytes.Equal(reply[32:38], mac) {
		t.Errorf("ARP reply addressed to %v / target hw %v, want %v", net.HardwareAddr(reply[0:6]), net.HardwareAddr(reply[32:38]), mac)
	}
	if got := [4]byte(reply[28:32]); got != host {
		t.Errorf("ARP reply sender IP = %v, want %v", net.IP(got[:]), env.HostAddr)
	}
	kernelMAC := net.HardwareAddr(reply[22:28])

	path := capture.Stop(t)
	rows := env.Tshark(t, path, "arp", []string{"arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "eth.src"})
	var sawReq, sawRep bool
	for _, r := range rows {
		if len(r) < 4 {
			continue
		}
		switch {
		case r[0] == "1" && r[1] == env.BoardPrefix.Addr().String() && r[2] == env.HostAddr.String() && r[3] == mac.String():
			sawReq = true
		case r[0] == "2" && r[1] == env.HostAddr.String() && r[3] == kernelMAC.String():
			sawRep = true
		}
	}
	if !sawReq || !sawRep {
		t.Errorf("tshark on %s: request seen %v, reply seen %v; rows %q", env.TAP, sawReq, sawRep, rows)
	}
}
