package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// independentTCPBytes reads the capture with the package's reader but
// decodes every packet with gopacket.NewPacket (not the analyzer's
// DecodingLayerParser) and sums the TCP payload bytes of the packets whose
// layers the analyzer handles. It stops where Analyze stops.
func independentTCPBytes(t *testing.T, in []byte) int64 {
	c, err := openCapture(bytes.NewReader(in))
	if err != nil {
		return 0
	}
	var sum int64
	for {
		data, _, lt, err := c.next()
		if err != nil {
			return sum
		}
		if !linkSupported(lt) {
			continue
		}
		first, data, ok := firstLayer(lt, data)
		if !ok || first == gopacket.LayerTypeZero {
			continue
		}
		pkt := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true})
		var tcp *layers.TCP
	walk:
		for _, l := range pkt.Layers() {
			switch l.LayerType() {
			case layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLoopback, layers.LayerTypeDot1Q,
				layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6HopByHop,
				layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			case layers.LayerTypeTCP:
				tcp = l.(*layers.TCP)
				break walk
			default:
				break walk
			}
		}
		if tcp != nil && pkt.ErrorLayer() == nil {
			sum += int64(len(tcp.Payload))
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	b := session(f)
	for _, e := range encaps {
		f.Add(b.pcap(e))
	}
	f.Add(b.pcapng())
	good := b.pcap(ethernetEncap)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\xd4\xc3\xb2\xa1garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Analyze(bytes.NewReader(in), Options{})
		if errors.Is(err, errReaderPanic) {
			t.Fatalf("Analyze: %v", err)
		}
		if rep == nil {
			if err == nil {
				t.Fatalf("Analyze() = nil, nil")
			}
			return
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Analyze() = report and %v, want the error to wrap ErrTruncated or ErrCorrupt", err)
		}
		c := rep.Packets
		if sum := c.TCP + c.UDP + c.ARP + c.ICMPv4 + c.ICMPv6 + c.Fragments + c.Other + c.Malformed; sum != c.Total {
			t.Fatalf("packet kinds add up to %d, total %d: %+v", sum, c.Total, c)
		}
		var flowBytes int64
		segs := 0
		for _, fl := range rep.Flows {
			for _, st := range []StreamStats{fl.ClientToServer, fl.ServerToClient} {
				flowBytes += st.Bytes
				segs += st.Segments
				if st.StreamBytes > st.Bytes || st.StreamBytes < 0 || st.MissingBytes < 0 {
					t.Fatalf("flow %d: stream %d, captured %d, missing %d bytes", fl.ID, st.StreamBytes, st.Bytes, st.MissingBytes)
				}
			}
			if len(fl.Events) > DefaultMaxEvents {
				t.Fatalf("flow %d has %d events, limit %d", fl.ID, len(fl.Events), DefaultMaxEvents)
			}
			for _, e := range fl.Events {
				if e.Kind == KindAuth && e.Text != redacted && e.Text != "*" {
					t.Fatalf("auth event shows %q", e.Text)
				}
			}
		}
		if want := independentTCPBytes(t, in); flowBytes != want || rep.TCP.Bytes != want {
			t.Fatalf("flows hold %d payload bytes (totals %d), gopacket decodes %d", flowBytes, rep.TCP.Bytes, want)
		}
		if segs != c.TCP || rep.TCP.Segments != c.TCP {
			t.Fatalf("flows hold %d segments (totals %d), %d TCP packets", segs, rep.TCP.Segments, c.TCP)
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatalf("WriteText() = %v", err)
		}
		var js bytes.Buffer
		if err := rep.WriteJSON(&js); err != nil {
			t.Fatalf("WriteJSON() = %v", err)
		}
		var back map[string]any
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatalf("WriteJSON output does not parse: %v", err)
		}
	})
}
