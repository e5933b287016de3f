// Package seeded splits one random source into independent streams, so the
// consumers of a seeded source (a Message-ID, crypto/tls, an APOP banner)
// do not shift each other's bytes: how much one of them reads cannot
// change what another gets.
package seeded

import (
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
)

// Streams reads 32 bytes per stream from r and returns n readers, each a
// ChaCha8 stream keyed by its own 32 bytes. The same bytes from r give the
// same streams. A nil r gives n times crypto/rand.Reader (nothing is read).
// The readers are safe for concurrent use and never fail. An error means r
// could not supply the keys.
func Streams(r io.Reader, n int) ([]io.Reader, error) {
	out := make([]io.Reader, n)
	if r == nil {
		for i := range out {
			out[i] = rand.Reader
		}
		return out, nil
	}
	for i := range out {
		var key [32]byte
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, fmt.Errorf("reading the random source: %w", err)
		}
		out[i] = &stream{c: mrand.NewChaCha8(key)}
	}
	return out, nil
}

// stream is a ChaCha8 stream behind a mutex.
type stream struct {
	mu sync.Mutex
	c  *mrand.ChaCha8
}

func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Read(p)
}
