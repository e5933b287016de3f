package dnsc

import (
	"bytes"
	"errors"
	"testing"
)

// TestQueryIDFromRand: with Options.Rand the transaction IDs are read from
// it (big-endian, two bytes per query), so a seeded source gives the same
// IDs in every run; a source that runs dry fails the query with ErrParam;
// without Rand the IDs still vary.
func TestQueryIDFromRand(t *testing.T) {
	c := &Client{opts: Options{Rand: bytes.NewReader([]byte{0x12, 0x34, 0xab, 0xcd, 0x01})}}
	for _, want := range []uint16{0x1234, 0xabcd} {
		if id, err := c.queryID(); err != nil || id != want {
			t.Fatalf("queryID() = %#x, %v, want %#x, nil", id, err, want)
		}
	}
	if _, err := c.queryID(); !errors.Is(err, ErrParam) {
		t.Fatalf("queryID() with a dry Rand = %v, want ErrParam", err)
	}
	c = &Client{}
	seen := map[uint16]bool{}
	for range 64 {
		id, err := c.queryID()
		if err != nil {
			t.Fatalf("queryID() without Rand = %v", err)
		}
		seen[id] = true
	}
	if len(seen) < 32 {
		t.Fatalf("64 IDs without Rand gave %d distinct values, want random IDs", len(seen))
	}
}
