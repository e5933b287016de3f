package trace

import (
	"os"
	"testing"
)

// TestAnalyzeFile prints the report of a capture named by $TRACE_FILE (text,
// or JSON with TRACE_JSON=1), for checking real captures by hand:
//
//	TRACE_FILE=board.pcap go test -run TestAnalyzeFile -v ./internal/trace
func TestAnalyzeFile(t *testing.T) {
	name := os.Getenv("TRACE_FILE")
	if name == "" {
		t.Skip("set TRACE_FILE to a capture to print its report")
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Analyze(f, Options{})
	if err != nil {
		t.Logf("Analyze(%s): %v", name, err)
	}
	if rep == nil {
		t.FailNow()
	}
	if os.Getenv("TRACE_JSON") != "" {
		err = rep.WriteJSON(os.Stdout)
	} else {
		err = rep.WriteText(os.Stdout)
	}
	if err != nil {
		t.Fatal(err)
	}
}
