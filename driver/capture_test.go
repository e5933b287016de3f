package driver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/simboard/simboard/nx"
)

// arpFrame builds an ARP request (op 1) or reply (op 2) with gopacket.
func arpFrame(t testing.TB, op uint16, srcMAC, dstMAC net.HardwareAddr, srcIP, dstIP net.IP) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeARP}
	target := dstMAC
	if op == layers.ARPRequest {
		target = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	}
	arp := &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
		SourceHwAddress: srcMAC, SourceProtAddress: srcIP.To4(),
		DstHwAddress: target, DstProtAddress: dstIP.To4(),
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, arp); err != nil {
		t.Fatalf("serialize ARP: %v", err)
	}
	return buf.Bytes()
}

var (
	boardIP = net.IPv4(198, 51, 100, 2)
	hostIP  = net.IPv4(198, 51, 100, 1)
)

type record struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func readPcap(t testing.TB, b []byte) (*pcapgo.Reader, []record) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("pcapgo.NewReader() = %v", err)
	}
	var recs []record
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return r, recs
		}
		if err != nil {
			t.Fatalf("ReadPacketData() after %d records = %v", len(recs), err)
		}
		recs = append(recs, record{ci, data})
	}
}

// TestCaptureBothDirections: an ARP request written and the ARP reply read
// through a Capture parse back with gopacket, stamped by the injected clock.
func TestCaptureBothDirections(t *testing.T) {
	w := newWire(t, WireOptions{})
	board, host := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
	clk := &fakeClock{}
	var out bytes.Buffer
	c, err := NewCapture(board, &out, CaptureOptions{Clock: clk})
	if err != nil {
		t.Fatalf("NewCapture() = %v", err)
	}
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	t2 := t1.Add(1500 * time.Microsecond)

	req := arpFrame(t, layers.ARPRequest, board.MAC(), Broadcast, boardIP, hostIP)
	clk.Set(t1)
	if err := c.WriteFrame(req); err != nil {
		t.Fatalf("WriteFrame(ARP request) = %v", err)
	}
	got, ok := tryRead(t, host)
	if !ok || !bytes.Equal(got, req) {
		t.Fatalf("host did not receive the ARP request through the capture")
	}
	reply := arpFrame(t, layers.ARPReply, host.MAC(), board.MAC(), hostIP, boardIP)
	mustWrite(t, host, reply)
	clk.Set(t2)
	buf := make([]byte, 1514)
	n, err := c.ReadFrame(buf)
	if err != nil || !bytes.Equal(buf[:n], reply) {
		t.Fatalf("ReadFrame() = %d, %v, want the ARP reply", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if board.LinkUp() {
		t.Errorf("Close did not close the wrapped link")
	}

	r, recs := readPcap(t, out.Bytes())
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != DefaultSnaplen {
		t.Errorf("pcap header: link type %v snaplen %d, want Ethernet 65535", r.LinkType(), r.Snaplen())
	}
	if len(recs) != 2 {
		t.Fatalf("pcap has %d records, want 2", len(recs))
	}
	for i, tt := range []struct {
		ts   time.Time
		op   uint16
		from net.IP
		data []byte
	}{{t1, layers.ARPRequest, boardIP, req}, {t2, layers.ARPReply, hostIP, reply}} {
		rec := recs[i]
		if !rec.ci.Timestamp.Equal(tt.ts) {
			t.Errorf("record %d timestamp %v, want %v", i, rec.ci.Timestamp.UTC(), tt.ts)
		}
		if !bytes.Equal(rec.data, tt.data) || rec.ci.Length != len(tt.data) {
			t.Errorf("record %d data differs from the frame", i)
		}
		pkt := gopacket.NewPacket(rec.data, layers.LayerTypeEthernet, gopacket.Default)
		arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok {
			t.Fatalf("record %d: no ARP layer: %v", i, pkt)
		}
		if arp.Operation != tt.op || !net.IP(arp.SourceProtAddress).Equal(tt.from) {
			t.Errorf("record %d: ARP op %d from %v, want op %d from %v", i, arp.Operation, net.IP(arp.SourceProtAddress), tt.op, tt.from)
		}
	}
}

func TestCaptureSnaplen(t *testing.T) {
	var out bytes.Buffer
	l := newNullLink()
	c, err := NewCapture(l, &out, CaptureOptions{Snaplen: 64, Clock: &fakeClock{t: time.Unix(1, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	f := mkFrame(Broadcast, l.MAC(), 1, 1514)
	if err := c.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, recs := readPcap(t, out.Bytes())
	if len(recs) != 1 || recs[0].ci.CaptureLength != 64 || recs[0].ci.Length != 1514 || !bytes.Equal(recs[0].data, f[:64]) {
		t.Errorf("record = %+v, want 64 of 1514 bytes", recs)
	}
	for _, snap := range []int{-1, 13, 1 << 20} {
		if _, err := NewCapture(l, &out, CaptureOptions{Snaplen: snap}); !errors.Is(err, nx.ErrInvalidParameters) {
			t.Errorf("NewCapture(Snaplen %d) = %v, want %v", snap, err, nx.ErrInvalidParameters)
		}
	}
	if _, err := NewCapture(nil, &out, CaptureOptions{}); !errors.Is(err, nx.ErrPtr) {
		t.Errorf("NewCapture(nil link) = %v, want %v", err, nx.ErrPtr)
	}
}

// failWriter fails every write after the first ok writes.
type failWriter struct {
	ok  int
	err error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.ok == 0 {
		return 0, w.err
	}
	w.ok--
	return len(p), nil
}

// TestCaptureWriteErrors: a failing writer never breaks traffic and never
// panics; the error is returned by Err and Close.
func TestCaptureWriteErrors(t *testing.T) {
	diskFull := errors.New("disk full")
	if _, err := NewCapture(newNullLink(), &failWriter{err: diskFull}, CaptureOptions{BufferSize: -1}); !errors.Is(err, diskFull) {
		t.Errorf("NewCapture(writer failing at the header) = %v, want %v", err, diskFull)
	}
	for _, bufSize := range []int{-1, 0, 128} {
		t.Run(fmt.Sprintf("buffer %d", bufSize), func(t *testing.T) {
			w := newWire(t, WireOptions{})
			a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
			ok := 0 // a buffered capture writes its header with the first records
			if bufSize < 0 {
				ok = 1
			}
			c, err := NewCapture(a, &failWriter{ok: ok, err: diskFull}, CaptureOptions{BufferSize: bufSize})
			if err != nil {
				t.Fatalf("NewCapture() = %v", err)
			}
			for i := range 10 {
				if err := c.WriteFrame(mkFrame(b.MAC(), a.MAC(), uint32(i), 100)); err != nil {
					t.Fatalf("WriteFrame #%d = %v, want nil (capture errors never break traffic)", i, err)
				}
			}
			if got := len(drain(t, b)); got != 10 {
				t.Errorf("b received %d frames, want 10", got)
			}
			if err := c.Flush(); !errors.Is(err, diskFull) {
				t.Errorf("Flush() = %v, want %v", err, diskFull)
			}
			if err := c.Err(); !errors.Is(err, diskFull) {
				t.Errorf("Err() = %v, want %v", err, diskFull)
			}
			if err := c.Close(); !errors.Is(err, diskFull) {
				t.Errorf("Close() = %v, want %v", err, diskFull)
			}
			if err := c.Close(); !errors.Is(err, diskFull) {
				t.Errorf("second Close() = %v, want the same error", err)
			}
			if err := c.WriteFrame(mkFrame(b.MAC(), a.MAC(), 99, 100)); !errors.Is(err, ErrClosed) {
				t.Errorf("WriteFrame after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestCaptureConcurrent: writers and a reader on one Capture; every frame
// is recorded intact (run with -race).
func TestCaptureConcurrent(t *testing.T) {
	const writers, perWriter = 4, 200
	w := newWire(t, WireOptions{})
	a, b := attach(t, w, PortOptions{}), attach(t, w, PortOptions{})
	var out bytes.Buffer
	c, err := NewCapture(a, &out, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				seq := uint32(g*perWriter + i)
				if err := c.WriteFrame(mkFrame(b.MAC(), a.MAC(), seq, 60+int(seq%1400))); err != nil {
					t.Errorf("WriteFrame(%d) = %v", seq, err)
					return
				}
			}
		})
	}
	// Echo frames back so the capture also reads concurrently.
	wg.Go(func() {
		buf := make([]byte, 1514)
		for range writers * perWriter {
			n, err := b.ReadFrame(buf)
			if err != nil {
				t.Errorf("b.ReadFrame() = %v", err)
				return
			}
			copy(buf[0:6], a.MAC())
			copy(buf[6:12], b.MAC())
			if err := b.WriteFrame(buf[:n]); err != nil {
				t.Errorf("b.WriteFrame() = %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		buf := make([]byte, 1514)
		for range writers * perWriter {
			if _, err := c.ReadFrame(buf); err != nil {
				t.Errorf("c.ReadFrame() = %v", err)
				return
			}
		}
	})
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	_, recs := readPcap(t, out.Bytes())
	if len(recs) != 2*writers*perWriter {
		t.Fatalf("pcap has %d records, want %d", len(recs), 2*writers*perWriter)
	}
	seen := map[uint32]int{}
	for _, r := range recs {
		seq := frameSeq(r.data)
		want := mkFrame(nil, nil, seq, 60+int(seq%1400))
		if !bytes.Equal(r.data[12:], want[12:]) {
			t.Fatalf("record for seq %d is corrupted", seq)
		}
		seen[seq]++
	}
	for seq := range uint32(writers * perWriter) {
		if seen[seq] != 2 {
			t.Errorf("seq %d recorded %d times, want 2 (out and back)", seq, seen[seq])
		}
	}
}
