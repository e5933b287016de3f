package netstack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/netns"
	"github.com/simboard/simboard/netstack"
)

// tapBoard opens tap0 inside ns (198.51.100.1 on the kernel side) and boots a
// board at 198.51.100.2 on it, optionally behind a pcap capture. The board is
// closed (and its pools checked) at cleanup, also when the test fails
// midway; the returned stop closes it earlier, e.g. to read the pcap, and is
// idempotent.
func tapBoard(t testing.TB, ns *netns.NS, pcapPath string) (*netstack.IP, func()) {
	t.Helper()
	ctx := context.Background()
	if err := ns.AddTAP(ctx, "tap0", netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatalf("AddTAP: %v", err)
	}
	var tap *driver.TAP
	if err := ns.Do(func() (err error) { tap, err = driver.OpenTAP(driver.TAPOptions{Name: "tap0"}); return err }); err != nil {
		t.Fatalf("OpenTAP(tap0) in %s: %v", ns.Name(), err)
	}
	bo := board.Options{Name: "tapboard", Link: tap, Addr: netip.MustParsePrefix("198.51.100.2/24")}
	var pcapFile *os.File
	if pcapPath != "" {
		f, err := os.Create(pcapPath)
		if err != nil {
			tap.Close()
			t.Fatal(err)
		}
		pcapFile, bo.Capture = f, f
	}
	brd, err := board.New(bo) // closes the TAP itself when it fails
	if err != nil {
		if pcapFile != nil {
			pcapFile.Close()
		}
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := brd.Close(); err != nil { // joins the IP and the driver, checks both pools
				t.Error(err)
			}
			if pcapFile != nil {
				pcapFile.Close()
			}
		})
	}
	t.Cleanup(stop)
	return brd.IP, stop
}

// kernelSink listens on 198.51.100.1:5001 inside ns and returns the SHA-256
// and length of everything one connection sends.
func kernelSink(t testing.TB, ns *netns.NS) (net.Listener, <-chan [2]any) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp4", "198.51.100.1:5001"); return err }); err != nil {
		t.Fatalf("listen in namespace: %v", err)
	}
	done := make(chan [2]any, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- [2]any{nil, err}
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, c)
		c.Close()
		done <- [2]any{h.Sum(nil), n}
		_ = err
	}()
	return ln, done
}

func TestTAPBoardPingTCPAndPcap(t *testing.T) {
	boardtest.SkipVirtual(t, "a TAP and the kernel are real time")
	boardtest.CheckGoroutines(t)
	boardtest.RequireTools(t, "ping") // iputils-ping: the host pings the board
	ns := netns.ForTest(t, "nstap")
	pcapPath := filepath.Join(t.TempDir(), "board.pcap")
	ip, stop := tapBoard(t, ns, pcapPath)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The host pings the board: ARP, then ICMP echo answered by the board.
	if out, err := ns.Output(ctx, "ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.2"); err != nil {
		t.Fatalf("ping 198.51.100.2 from the host side: %v\n%s", err, out)
	}
	if got := ip.Info().ICMPEchoRequestsReceived; got < 3 {
		t.Errorf("board saw %d echo requests, want 3", got)
	}

	// A kernel TCP server receives 4 MiB from the board, byte-exact.
	ln, done := kernelSink(t, ns)
	defer ln.Close()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	conn, err := ip.DialTCP(ctx, netip.MustParseAddrPort("198.51.100.1:5001"))
	if err != nil {
		t.Fatalf("DialTCP to the kernel: %v", err)
	}
	if n, err := conn.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write(4 MiB) = %d, %v", n, err)
	}
	conn.CloseWrite()
	res := <-done
	conn.Close()
	want := sha256.Sum256(data)
	if res[1] != int64(len(data)) || !bytes.Equal(res[0].([]byte), want[:]) {
		t.Fatalf("kernel received %v bytes (sha %x), want %d bytes (sha %x)", res[1], res[0], len(data), want)
	}
	stop()

	// The pcap parses with gopacket and holds ARP and the TCP flow.
	f, err := os.Open(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	var arps, icmp, tcpToServer, payload int
	src := gopacket.NewPacketSource(r, layers.LinkTypeEthernet)
	for p := range src.Packets() {
		if p.Layer(layers.LayerTypeARP) != nil {
			arps++
		}
		if p.Layer(layers.LayerTypeICMPv4) != nil {
			icmp++
		}
		if tl, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tl.DstPort == 5001 {
			tcpToServer++
			payload += len(tl.Payload)
		}
	}
	if arps == 0 || icmp < 6 || tcpToServer == 0 || payload < len(data) {
		t.Errorf("pcap: %d ARP, %d ICMP, %d TCP segments to :5001 carrying %d bytes; want ARP, 6 ICMP, and >= %d bytes",
			arps, icmp, tcpToServer, payload, len(data))
	}
}

// BenchmarkTAPThroughput sends 16 MiB per op from a board over a TAP to a
// kernel listener in a private namespace. Compare with
// BenchmarkTAPThroughputBareGVisor, a bare gVisor stack pumping the same TAP
// through water in the same run (target: board >= 0.9x).
func BenchmarkTAPThroughput(b *testing.B) {
	ns := netns.ForTest(b, "nstapbench")
	ip, _ := tapBoard(b, ns, "")
	benchTAP(b, ns, func(ctx context.Context) (io.WriteCloser, error) {
		return ip.DialTCP(ctx, netip.MustParseAddrPort("198.51.100.1:5001"))
	})
}

func benchTAP(b *testing.B, ns *netns.NS, dial func(context.Context) (io.WriteCloser, error)) {
	chunk := make([]byte, 64<<10)
	b.SetBytes(benchBytes)
	b.ReportAllocs()
	for b.Loop() {
		ln, done := kernelSink(b, ns)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		c, err := dial(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < benchBytes; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		res := <-done
		c.Close()
		ln.Close()
		cancel()
		if res[1] != int64(benchBytes) {
			b.Fatalf("kernel got %v bytes", res[1])
		}
	}
}
