package mailconn

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/simboard/simboard/nx"
)

// FuzzLineReader: input split at two points reads as the same lines as in
// one piece; every line is what lies between LFs (one CR before the LF
// dropped), none is longer than the bound, and a line over it is a
// *TooLongError, never a silent cut.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"+OK a\r\nb\n\r\n", "250-x\r\n250 y\r\n", "\n\n", "no end", "x\r\r\n", ".\r\n"} {
		f.Add([]byte(s), uint16(1), uint16(3), uint8(8))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint16, max uint8) {
		i, j := int(a)%(len(in)+1), int(b)%(len(in)+1)
		if i > j {
			i, j = j, i
		}
		read := func(parts ...[]byte) ([]string, error) {
			r := LineReader{Src: &chunks{parts: parts}}
			var out []string
			for {
				l, err := r.ReadLine(context.Background(), nx.WaitForever, int(max)) // the source ends with NX_NO_PACKET; no clock in a fuzz run
				if err != nil {
					return out, err
				}
				out = append(out, string(l))
			}
		}
		one, e1 := read(in)
		split, e2 := read(in[:i], in[i:j], in[j:])
		if len(one) != len(split) || errors.Is(e1, nx.ErrNoPacket) != errors.Is(e2, nx.ErrNoPacket) {
			t.Fatalf("one piece: %q, %v; split at %d,%d: %q, %v", one, e1, i, j, split, e2)
		}
		for k := range one {
			if one[k] != split[k] {
				t.Fatalf("line %d: %q vs %q", k, one[k], split[k])
			}
		}
		want := bytes.Split(in, []byte("\n"))
		for k, l := range one {
			w := bytes.TrimSuffix(want[k], []byte("\r"))
			if l != string(w) || len(l) > int(max) {
				t.Fatalf("line %d = %q, want %q (max %d)", k, l, w, max)
			}
		}
		var tl *TooLongError
		if len(one) < len(want)-1 && !errors.As(e1, &tl) {
			t.Fatalf("stopped after %d of %d lines with %v, want a *TooLongError", len(one), len(want)-1, e1)
		}
	})
}
