package seeded

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"
)

func read(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("ReadFull = %v", err)
	}
	return b
}

// TestStreams: the same source gives the same streams, another source other
// streams, the streams of one source differ from each other, and reading
// one does not move another.
func TestStreams(t *testing.T) {
	src := func(seed uint64) io.Reader { return mrand.NewChaCha8([32]byte{byte(seed)}) }
	a, err := Streams(src(1), 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Streams(src(1), 2)
	c, _ := Streams(src(2), 2)
	_ = read(t, a[0], 1000) // a's first stream read a lot, b's not at all
	a1, b1 := read(t, a[1], 32), read(t, b[1], 32)
	if !bytes.Equal(a1, b1) {
		t.Fatalf("stream 1 of two equal sources differ: %x vs %x", a1, b1)
	}
	if bytes.Equal(a1, read(t, c[1], 32)) {
		t.Fatalf("stream 1 of two different sources are equal")
	}
	if bytes.Equal(read(t, b[0], 32), read(t, b[1], 32)) {
		t.Fatalf("streams 0 and 1 of one source are equal")
	}
}

func TestStreamsNil(t *testing.T) {
	s, err := Streams(nil, 3)
	if err != nil || len(s) != 3 || s[2] != rand.Reader {
		t.Fatalf("Streams(nil, 3) = %v, %v, want 3 x crypto/rand.Reader", s, err)
	}
}

func TestStreamsShortSource(t *testing.T) {
	if _, err := Streams(bytes.NewReader(make([]byte, 40)), 2); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Streams(40-byte source, 2) = %v, want io.ErrUnexpectedEOF", err)
	}
}
