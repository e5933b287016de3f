package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/internal/netns"
)

// TestFleetUplinkTwoProcesses is issue 11 §6's one-host scale-out form: two
// simboard processes, each with its own --uplink TAP, the two TAPs joined
// by one Linux bridge, all in a private network namespace. Process A runs
// boards 0-19 and the mail host (lingering for B); process B runs boards
// 20-39 with no host of its own and mails A's across the bridge. Both
// report every mail delivered and fetched back.
func TestFleetUplinkTwoProcesses(t *testing.T) {
	boardtest.RequireTools(t, "ip", "sysctl")
	ns := netns.ForTest(t, "fleetbr")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, dev := range []string{"tapa", "tapb"} {
		if err := ns.AddTAP(ctx, dev); err != nil {
			t.Fatalf("AddTAP(%s) = %v", dev, err)
		}
	}
	for _, args := range [][]string{
		{"ip", "link", "add", "br0", "type", "bridge"},
		{"sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=1"},
		{"ip", "link", "set", "tapa", "master", "br0"},
		{"ip", "link", "set", "tapb", "master", "br0"},
		{"ip", "link", "set", "br0", "up"},
	} {
		if err := ns.Run(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	a := ns.Command(ctx, binary, "fleet", "--boards", "20", "--host-users", "40", "--uplink", "tapa", "--linger", "15s")
	var aout bytes.Buffer
	a.Stdout, a.Stderr = &aout, &aout
	if err := a.Start(); err != nil {
		t.Fatalf("start process A: %v", err)
	}
	time.Sleep(time.Second) // A's mail host boots; B's connects would wait for it anyway (SYN retries)
	bout, berr := ns.Output(ctx, binary, "fleet", "--boards", "20", "--first-board", "20", "--mail-host", "198.51.100.1", "--uplink", "tapb")
	aerr := a.Wait()
	if berr != nil || !strings.Contains(string(bout), "delivered 20, fetched back byte-exact 20, failed 0") {
		t.Errorf("process B (boards 20-39 through tapb, br0, tapa): %v\n%s", berr, bout)
	}
	if aerr != nil || !strings.Contains(aout.String(), "delivered 20, fetched back byte-exact 20, failed 0") {
		t.Errorf("process A (boards 0-19 and the mail host on tapa): %v\n%s", aerr, aout.String())
	}
}
