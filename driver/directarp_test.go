package driver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/boardtest/leak"
)

// arpFrame builds a broadcast Ethernet/IPv4 ARP frame.
func arpFrame(op byte, sha net.HardwareAddr, spa, tpa [4]byte) []byte {
	f := make([]byte, 60)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], sha)
	f[12], f[13] = 0x08, 0x06
	f[14], f[15], f[16], f[17], f[18], f[19] = 0, 1, 0x08, 0, 6, 4
	f[21] = op
	copy(f[22:28], sha)
	copy(f[28:32], spa[:])
	copy(f[38:42], tpa[:])
	return f
}

// got reports whether p receives a frame within 100 ms.
func got(t *testing.T, p *driver.Port) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	buf := make([]byte, 1600)
	_, err := p.ReadFrameContext(ctx, buf)
	return err == nil
}

// TestDirectARP is issue 11 §5 "a fleet's ARP does not dominate": with
// WireOptions.DirectARP a broadcast ARP request for an address the Wire has
// seen a port announce (as the sender of its own ARP) goes to that port
// alone (a probe from 0.0.0.0 too, and it teaches nothing); requests for
// unknown addresses are flooded as before, and without the option every
// request is flooded.
func TestDirectARP(t *testing.T) {
	leak.Check(t)
	ipA, ipB, ipC := [4]byte{198, 51, 100, 1}, [4]byte{198, 51, 100, 2}, [4]byte{198, 51, 100, 3}
	for _, direct := range []bool{false, true} {
		w, err := driver.NewWire(driver.WireOptions{Seed: 1, DirectARP: direct})
		if err != nil {
			t.Fatal(err)
		}
		var ports [3]*driver.Port
		for i := range ports {
			if ports[i], err = w.Attach(driver.PortOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		a, b, c := ports[0], ports[1], ports[2]
		// B asks for C: an unknown address, flooded to A and C either way.
		if err := b.WriteFrame(arpFrame(1, b.MAC(), ipB, ipC)); err != nil {
			t.Fatal(err)
		}
		if !got(t, a) || !got(t, c) {
			t.Errorf("DirectARP %v: request for an unknown address not flooded", direct)
		}
		// A asks for B: B announced itself above.
		if err := a.WriteFrame(arpFrame(1, a.MAC(), ipA, ipB)); err != nil {
			t.Fatal(err)
		}
		if !got(t, b) {
			t.Errorf("DirectARP %v: B did not receive the request for its own address", direct)
		}
		if cGot := got(t, c); cGot == direct {
			t.Errorf("DirectARP %v: C received A's request for B: %v, want %v", direct, cGot, !direct)
		}
		// A probe (sender 0.0.0.0) for B goes to B alone too.
		if err := a.WriteFrame(arpFrame(1, a.MAC(), [4]byte{}, ipB)); err != nil {
			t.Fatal(err)
		}
		if !got(t, b) {
			t.Errorf("DirectARP %v: B did not receive the probe", direct)
		}
		if cGot := got(t, c); cGot == direct {
			t.Errorf("DirectARP %v: C received the probe for B: %v, want %v", direct, cGot, !direct)
		}
		// B leaves; a request for its address is flooded again.
		_ = b.Close()
		if err := a.WriteFrame(arpFrame(1, a.MAC(), ipA, ipB)); err != nil {
			t.Fatal(err)
		}
		if !got(t, c) {
			t.Errorf("DirectARP %v: request for a departed port's address not flooded", direct)
		}
		_ = w.Close()
	}
}
