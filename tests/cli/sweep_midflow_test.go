package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TestCredentialSweepMidFlow is the credential sweep with, besides each
// run's whole pcap, copies that start in the middle of the login, as a
// capture started late would: trace must redact lines whose context it
// has not seen (AUTH continuations, PASS, a PLAIN initial response).
func TestCredentialSweepMidFlow(t *testing.T) { sweep(t, midFlowCuts) }

// midFlowCuts writes copies of a clear-text pcap that start in the middle
// of the login: at each client segment of an SMTP or POP3 flow before the
// first MAIL, STAT or LIST command (so a trace meets AUTH continuation
// lines, PASS or APOP with no context). It returns their paths (none for a
// capture without clear-text login lines).
func midFlowCuts(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	type pkt struct {
		ci   gopacket.CaptureInfo
		data []byte
	}
	var pkts []pkt
	var cuts []int
	done := map[gopacket.Flow]bool{}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pkts = append(pkts, pkt{ci, data})
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		switch tcp.DstPort {
		case 25, 587, 110:
		default:
			continue
		}
		fl := tcp.TransportFlow()
		up := strings.ToUpper(string(tcp.Payload))
		if done[fl] || strings.HasPrefix(up, "STARTTLS") || strings.HasPrefix(up, "STLS") {
			done[fl] = true
			continue
		}
		if strings.HasPrefix(up, "MAIL ") || strings.HasPrefix(up, "STAT") || strings.HasPrefix(up, "LIST") {
			done[fl] = true
			continue
		}
		cuts = append(cuts, len(pkts)-1)
	}
	var out []string
	for _, c := range cuts {
		name := fmt.Sprintf("%s.cut%d.pcap", strings.TrimSuffix(path, ".pcap"), c)
		w, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		pw := pcapgo.NewWriter(w)
		if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts[c:] {
			if err := pw.WritePacket(p.ci, p.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}
