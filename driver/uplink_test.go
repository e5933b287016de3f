package driver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netns"
	"github.com/simboard/simboard/nx"
)

// TestUplinkBridgesWires: an uplink whose link is a port of a second Wire
// joins the two Wires into one segment: a board on one reaches a board on
// the other by ARP and TCP, byte-exact, through the uplink's two pumps.
func TestUplinkBridgesWires(t *testing.T) {
	boardtest.CheckGoroutines(t)
	wa := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, DirectARP: true})
	wb := boardtest.NewWire(t, 2)
	far, err := wb.Attach(driver.PortOptions{Name: "far end"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := driver.NewUplink(wa, far, driver.UplinkOptions{})
	if err != nil {
		t.Fatalf("NewUplink = %v", err)
	}
	defer up.Close()
	server := boardtest.NewBoard(t, wb, "server", 1, boardtest.Options{})
	client := boardtest.NewBoard(t, wa, "client", 2, boardtest.Options{})

	ln, err := server.IP.ListenTCP(7)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(c, c)
		_ = c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.IP.DialTCP(ctx, netip.AddrPortFrom(server.Addr, 7))
	if err != nil {
		t.Fatalf("DialTCP across the uplink = %v", err)
	}
	data := bytes.Repeat([]byte("uplink "), 10000)
	go func() { _, _ = c.Write(data); _ = c.CloseWrite() }()
	got, err := io.ReadAll(c)
	_ = c.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo across the uplink: %d bytes, %v; want %d bytes back", len(got), err, len(data))
	}
	if err := up.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	st := up.Stats()
	if st.ToLink == 0 || st.FromLink == 0 || st.Errors != 0 {
		t.Errorf("Stats() = %+v, want frames both ways and no errors", st)
	}
	if _, err := driver.NewUplink(wa, nil, driver.UplinkOptions{}); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("NewUplink(nil link) = %v, want NX_PTR_ERROR", err)
	}
}

// TestUplinkTAP is issue 11 §6 "--uplink TAP": three boards on one Wire
// behind one TAP are three stations on the kernel's side. The kernel (in a
// private namespace) pings each board, and its neighbour table holds each
// board's own MAC.
func TestUplinkTAP(t *testing.T) {
	boardtest.CheckGoroutines(t)
	boardtest.RequireTools(t, "ping", "ip")
	ns := netns.ForTest(t, "uplink")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ns.AddTAP(ctx, "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatalf("AddTAP = %v", err)
	}
	var tap *driver.TAP
	if err := ns.Do(func() (err error) { tap, err = driver.OpenTAP(driver.TAPOptions{Name: "tap0"}); return err }); err != nil {
		t.Fatalf("OpenTAP(tap0) in %s = %v", ns.Name(), err)
	}
	w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, DirectARP: true})
	up, err := driver.NewUplink(w, tap, driver.UplinkOptions{})
	if err != nil {
		t.Fatalf("NewUplink = %v", err)
	}
	t.Cleanup(func() { _ = up.Close() })
	var boards []*boardtest.Board
	for i := range 3 {
		boards = append(boards, boardtest.NewBoard(t, w, fmt.Sprintf("b%d", i), byte(2+i), boardtest.Options{}))
	}
	for _, b := range boards {
		if out, err := ns.Output(ctx, "ping", "-c", "1", "-W", "3", b.Addr.String()); err != nil {
			t.Fatalf("ping %v from the kernel side: %v\n%s", b.Addr, err, out)
		}
	}
	out, err := ns.Output(ctx, "ip", "neigh", "show", "dev", "tap0")
	if err != nil {
		t.Fatalf("ip neigh: %v", err)
	}
	for _, b := range boards {
		line := b.Addr.String() + " lladdr " + b.Port.MAC().String()
		if !strings.Contains(string(out), line) {
			t.Errorf("kernel neighbours lack %q:\n%s", line, out)
		}
	}
	if st := up.Stats(); st.Errors != 0 {
		t.Errorf("uplink Stats() = %+v, want no errors", st)
	}
}
