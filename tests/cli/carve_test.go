package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDemoPoolMemoryCarve: `demo --pool-memory BYTES` sizes both board pools
// as nx_packet_pool_create carves that memory on a 32-bit MCU (issue 10 §3),
// and the pool report, text and JSON, shows the carve. 15360 bytes of
// 1536-byte payloads hold 9 packets of 1596 bytes (60-byte NX_PACKET header,
// 4-byte aligned), 996 bytes unused.
func TestDemoPoolMemoryCarve(t *testing.T) {
	const carve = "15360 bytes carve 9 packets of 1596 (60 header + 1536 payload, 4-byte aligned), 996 bytes unused"
	stdout, stderr, code := simboard(t, nil, "demo", "--pool-memory", "15360", "--body-size", "20000")
	if code != 0 {
		t.Fatalf("demo --pool-memory 15360: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"board pool          9 x 1536 B", "board rx pool       9 x 1536 B", "NetX carve: " + carve, "result: OK"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "NetX carve: "+carve); n != 2 {
		t.Errorf("carve line printed %d times, want once per board pool (2)", n)
	}

	stdout, stderr, code = simboard(t, nil, "demo", "--json", "--pool-memory", "15360", "--body-size", "20000")
	if code != 0 {
		t.Fatalf("demo --json --pool-memory 15360: exit %d: %s", code, stderr)
	}
	var rep struct {
		Pools []struct {
			Name  string `json:"name"`
			Total int    `json:"total"`
			Free  int    `json:"free"`
			Carve string `json:"netx_carve"`
		} `json:"pools"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, stdout)
	}
	if len(rep.Pools) != 2 {
		t.Fatalf("JSON has %d pools, want 2", len(rep.Pools))
	}
	for _, p := range rep.Pools {
		if p.Total != 9 || p.Free != 9 || p.Carve != carve {
			t.Errorf("pool %s: total %d free %d carve %q; want 9, 9, %q", p.Name, p.Total, p.Free, p.Carve, carve)
		}
	}

	// A memory size too small for a board is a usage error before any traffic.
	_, stderr, code = simboard(t, nil, "demo", "--pool-memory", "100")
	if code != 2 || !strings.Contains(stderr, "--pool-memory 100 carves 0 packets") {
		t.Errorf("demo --pool-memory 100: exit %d, stderr %q; want exit 2 naming the carve", code, stderr)
	}
}
