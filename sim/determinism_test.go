package sim_test

import (
	"bytes"
	"fmt"
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

// TestDeterministicPcap: with the Sim's seed feeding the Wire and both
// IPs' Rand, a lossy, reordering, jittery 64 KiB transfer gives the same
// pcap, byte for byte (frames and their simulated timestamps from the fixed
// epoch), run after run; another seed gives another pcap.
func TestDeterministicPcap(t *testing.T) {
	defer boardtest.CheckGoroutines(t)
	imp := driver.PortOptions{Loss: 0.05, Reorder: 0.02, Delay: 20 * time.Millisecond, Jitter: 3 * time.Millisecond}
	first := capturedRun(t, 7, imp)
	recs := records(t, first)
	if len(recs) < 20 {
		t.Fatalf("seed 7: %d records, want a whole transfer", len(recs))
	}
	if !recs[0].at.After(sim.DefaultEpoch) || recs[0].at.Sub(sim.DefaultEpoch) > time.Second {
		t.Fatalf("first record at %v, want just after the epoch %v", recs[0].at, sim.DefaultEpoch)
	}
	runs := 5
	if testing.Short() {
		runs = 2
	}
	for run := 1; run < runs; run++ {
		again := capturedRun(t, 7, imp)
		if !bytes.Equal(again, first) {
			t.Fatalf("seed 7 run %d: pcap differs from run 0: %s", run, firstDiff(records(t, first), records(t, again)))
		}
	}
	if other := capturedRun(t, 8, imp); bytes.Equal(other, first) {
		t.Fatalf("seed 8 gave the same pcap as seed 7")
	}
}

// firstDiff describes the first record where two captures part.
func firstDiff(a, b []record) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if !a[i].at.Equal(b[i].at) || !bytes.Equal(a[i].data, b[i].data) {
			return fmt.Sprintf("record %d of %d/%d: %v % x, run 0 had %v % x", i, len(b), len(a), b[i].at.Sub(sim.DefaultEpoch), b[i].data[:min(len(b[i].data), 80)], a[i].at.Sub(sim.DefaultEpoch), a[i].data[:min(len(a[i].data), 80)])
		}
	}
	return fmt.Sprintf("%d records, run 0 had %d", len(b), len(a))
}
