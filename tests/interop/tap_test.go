package interop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/songgao/water"
)

// openTAP attaches to the lease's TAP from inside the namespace, the way the board's
// driver will (water, Persist so that closing does not delete the device).
func openTAP(t *testing.T, env *Env, name string) *water.Interface {
	t.Helper()
	var ifc *water.Interface
	err := env.NS.Do(func() error {
		// Guard against creating a fresh device: the namespace's tap0 must be there.
		if _, err := net.InterfaceByName(name); err != nil {
			return err
		}
		var err error
		ifc, err = water.New(water.Config{
			DeviceType:             water.TAP,
			PlatformSpecificParams: water.PlatformSpecificParams{Name: name, Persist: true},
		})
		return err
	})
	if err != nil {
		t.Fatalf("water.New(%s) inside %s = %v", name, env.NS.Name(), err)
	}
	t.Cleanup(func() { ifc.Close() })
	return ifc
}

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

// TestTAPReachesKernel attaches to tap0 as the board will and resolves the host side
// with ARP: frames written to the TAP reach the namespace's kernel, and its answers come
// back on the TAP. The board tests build on exactly this path.
func TestTAPReachesKernel(t *testing.T) {
	env := startEnv(t)
	tap := env.LeaseTAP(t)
	ifc := openTAP(t, env, tap)
	capture := env.StartCapture(t, tap, "arp")

	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	board, host := env.BoardPrefix.Addr().As4(), env.HostAddr.As4()
	if _, err := ifc.Write(arpRequest(mac, board, host)); err != nil {
		t.Fatalf("Write(ARP request) = %v", err)
	}
	f, ok := ifc.ReadWriteCloser.(*os.File)
	if !ok {
		t.Fatalf("water interface is %T, want *os.File", ifc.ReadWriteCloser)
	}
	if err := f.SetReadDeadline(time.Now().Add(sessionTimeout)); err != nil {
		t.Fatalf("SetReadDeadline on the TAP = %v", err)
	}
	buf := make([]byte, 2048)
	var reply []byte
	for reply == nil {
		n, err := ifc.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no ARP reply from %s on %s", env.HostAddr, tap)
		}
		if err != nil {
			t.Fatalf("Read() = %v", err)
		}
		fr := buf[:n]
		// Skip MLD, router solicitations and anything else the kernel sends.
		if n >= 42 && binary.BigEndian.Uint16(fr[12:]) == 0x0806 && binary.BigEndian.Uint16(fr[20:]) == 2 {
			reply = append([]byte(nil), fr...)
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
		t.Errorf("tshark on %s: request seen %v, reply seen %v; rows %q", tap, sawReq, sawRep, rows)
	}
}
