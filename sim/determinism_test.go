package sim_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/sim"
)

// capturedRun runs the lossy transfer with seed and returns the server
// board's pcap.
func capturedRun(t *testing.T, seed int64, imp driver.PortOptions) []byte {
	t.Helper()
	s := sim.New(sim.Options{Seed: seed, Limit: time.Hour})
	var pcap bytes.Buffer
	srv := boardtest.Options{Port: imp, Capture: &pcap, Rand: s.Rand("server")}
	cli := boardtest.Options{Port: imp, Rand: s.Rand("client")}
	if err := transferOpts(t, s, seed, 64<<10, srv, cli); err != nil {
		t.Fatalf("transfer(seed %d) = %v", seed, err)
	}
	return pcap.Bytes()
}

type record struct {
	at   time.Time
	data []byte
}

func records(t *testing.T, p []byte) []record {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(p))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	var out []record
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, record{ci.Timestamp, append([]byte(nil), data...)})
	}
}

// TestSeededHandshake: with the Sim's seed feeding the Wire and both IPs'
// Rand, the opening of a run repeats exactly: ARP, SYN and SYN-ACK are the
// same bytes (MACs, source port from NX_ANY_PORT, initial sequence numbers,
// TCP timestamps) at the same simulated instants from the fixed epoch;
// another seed gives other sequence numbers.
//
// Not shown (not true yet): the whole pcap. Once data flows, the receiving
// application and gVisor's TCP processor run in parallel inside one
// simulated instant, so advertised windows and the grouping of ACKs vary
// from run to run.
func TestSeededHandshake(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	imp := driver.PortOptions{Loss: 0.05, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 3 * time.Millisecond}
	const opening = 4 // ARP request, ARP reply, SYN, SYN-ACK
	first := records(t, capturedRun(t, 7, imp))
	if len(first) < 20 {
		t.Fatalf("seed 7: %d records, want a whole transfer", len(first))
	}
	if !first[0].at.After(sim.DefaultEpoch) || first[0].at.Sub(sim.DefaultEpoch) > time.Second {
		t.Fatalf("first record at %v, want just after the epoch %v", first[0].at, sim.DefaultEpoch)
	}
	for run := 1; run < 3; run++ {
		again := records(t, capturedRun(t, 7, imp))
		for i := 0; i < opening; i++ {
			if !again[i].at.Equal(first[i].at) || !bytes.Equal(again[i].data, first[i].data) {
				t.Fatalf("seed 7 run %d record %d: %v % x, run 0 had %v % x", run, i, again[i].at, again[i].data, first[i].at, first[i].data)
			}
		}
	}
	other := records(t, capturedRun(t, 8, imp))
	same := true
	for i := 0; i < opening && i < len(other); i++ {
		same = same && bytes.Equal(other[i].data, first[i].data)
	}
	if same {
		t.Fatalf("seed 8 opened with the same frames as seed 7")
	}
}
