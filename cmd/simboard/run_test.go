package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simboard/simboard/internal/scenario"
)

// TestRunExamples runs `simboard run` on every scenario in
// examples/scenarios and checks each report: exit status 0, every check
// passed, every mail delivered, and what each scenario is about.
func TestRunExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/scenarios/*.toml")
	if err != nil || len(files) < 4 {
		t.Fatalf("scenario files %v (%v), want at least 4", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := t.TempDir()
			js, pcap := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.pcap")
			var out, errb strings.Builder
			code := dispatch(context.Background(), []string{"run", "--json", js, "--pcap", pcap, f}, strings.NewReader(""), &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
			}
			b, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var rep scenario.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if !rep.Pass || len(rep.Checks) == 0 || rep.Delivered == 0 || rep.Delivered != rep.Sent {
				t.Fatalf("report: pass %v, %d checks, %d sent, %d delivered\n%s", rep.Pass, len(rep.Checks), rep.Sent, rep.Delivered, out.String())
			}
			if st, err := os.Stat(pcap); filepath.Base(f) != "fleet.toml" && (err != nil || st.Size() < 1000) {
				t.Fatalf("pcap %v %v", st, err) // (a [fleet] run has no capture)
			}
			if !strings.Contains(out.String(), "result: PASS") {
				t.Fatalf("text report lacks the result:\n%s", out.String())
			}
			switch filepath.Base(f) {
			case "cable-pull.toml":
				if rep.Retries < 2 || !strings.Contains(out.String(), "failed 451") || !strings.Contains(out.String(), "cable pulled") {
					t.Errorf("cable pull report lacks retries, 451 or the pull:\n%s", out.String())
				}
			case "server-faults.toml":
				if rep.Retries < 2 {
					t.Errorf("server faults: %d retries", rep.Retries)
				}
			case "fleet.toml":
				if rep.Delivered != 200 || rep.Fetched != 200 {
					t.Errorf("fleet: %d delivered, %d fetched, want 200", rep.Delivered, rep.Fetched)
				}
			case "small-fleet.toml":
				if rep.Delivered != 40 || rep.Fetched != 40 {
					t.Errorf("fleet: %d delivered, %d fetched, want 40", rep.Delivered, rep.Fetched)
				}
			}
		})
	}
}

// TestRunFailedCheckExits1: a check that cannot pass makes the exit status
// 1 with FAIL in the report; a bad file is 2 with the line.
func TestRunFailedCheckExits1(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s.toml")
	os.WriteFile(f, []byte("name = \"impossible\"\n[mailhost]\nusers = { a = \"b\" }\n[[boards]]\n[boards.workload]\nmails = 1\n[checks]\ndelivered = true\nexpect_statuses = [\"554\"]\n"), 0o644)
	var out, errb strings.Builder
	if code := dispatch(context.Background(), []string{"run", f}, strings.NewReader(""), &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "FAIL status 554") || !strings.Contains(out.String(), "PASS delivered") {
		t.Fatalf("report:\n%s", out.String())
	}
	os.WriteFile(f, []byte("name = \"x\"\n[mailhost]\nusers = { a = \"b\" }\nfaults = 3\n"), 0o644)
	out.Reset()
	errb.Reset()
	if code := dispatch(context.Background(), []string{"run", f}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "s.toml:4:") {
		t.Fatalf("exit %d, want 2 naming line 4: %s", code, errb.String())
	}
}

// TestRunVirtualClock: the cable-pull scenario on a sim.Sim passes with the
// same retries and statuses; a [fleet] scenario defaults to real time.
func TestRunVirtualClock(t *testing.T) {
	js := filepath.Join(t.TempDir(), "r.json")
	var out, errb strings.Builder
	code := dispatch(context.Background(), []string{"run", "--clock", "virtual", "--json", js, "../../examples/scenarios/cable-pull.toml"}, strings.NewReader(""), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "simulated") || !strings.Contains(out.String(), "reproduce: simboard run --clock virtual") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	b, _ := os.ReadFile(js)
	var rep scenario.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Clock != "virtual" || rep.Retries < 2 || rep.Delivered != 3 {
		t.Fatalf("report: %+v", rep)
	}
	// A [fleet] scenario defaults to real time, as simboard fleet does.
	out.Reset()
	if code := dispatch(context.Background(), []string{"run", "../../examples/scenarios/fleet.toml"}, strings.NewReader(""), &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "reproduce: simboard run --clock real ../../examples/scenarios/fleet.toml") {
		t.Fatalf("fleet scenario: exit %d, want 0 in real time:\n%s\n%s", code, out.String(), errb.String())
	}
}

// TestRunJSONStdout: `run --json -` writes the JSON report, and only it, on
// stdout (the text report goes to stderr), with the clock, simulated and
// wall seconds and the reproduce line as fields; --clock real says real.
func TestRunJSONStdout(t *testing.T) {
	for _, clock := range []string{"virtual", "real"} {
		var out, errb strings.Builder
		args := []string{"run", "--clock", clock, "--json", "-", "../../examples/scenarios/cable-pull.toml"}
		if code := dispatch(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out.String(), errb.String())
		}
		var rep scenario.Report
		dec := json.NewDecoder(strings.NewReader(out.String()))
		if err := dec.Decode(&rep); err != nil || dec.More() {
			t.Fatalf("%v: stdout is not one JSON report (%v):\n%s", args, err, out.String())
		}
		want := "simboard run --clock " + clock + " ../../examples/scenarios/cable-pull.toml"
		if rep.Clock != clock || rep.Reproduce != want || rep.Wall <= 0 || (rep.Simulated != nil) != (clock == "virtual") {
			t.Errorf("%v: clock %q reproduce %q wall %v simulated %v", args, rep.Clock, rep.Reproduce, rep.Wall, rep.Simulated)
		}
		if !strings.Contains(errb.String(), "result: PASS") || !strings.Contains(errb.String(), "reproduce: "+want) {
			t.Errorf("%v: the text report is not on stderr:\n%s", args, errb.String())
		}
	}
}
