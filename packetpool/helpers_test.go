package packetpool_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/simboard/simboard/packetpool"
)

// newPool creates a pool and registers a cleanup that fails the test unless
// the pool ends balanced: every packet free, no invalid releases, no leaks.
func newPool(t testing.TB, name string, payload, count int) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(packetpool.Options{Name: name, PayloadSize: payload, Count: count, Debug: true})
	if err != nil {
		t.Fatalf("New(%q, %d, %d) = %v", name, payload, count, err)
	}
	t.Cleanup(func() { assertBalanced(t, p) })
	return p
}

// newPoolOpts is newPool with every option given.
func newPoolOpts(t testing.TB, opts packetpool.Options) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	t.Cleanup(func() { assertBalanced(t, p) })
	return p
}

// newPoolUnchecked creates a pool without the balance check, for tests that
// count invalid releases on purpose (they assert the counters themselves).
func newPoolUnchecked(t testing.TB, name string, payload, count int) *packetpool.Pool {
	t.Helper()
	p, err := packetpool.New(packetpool.Options{Name: name, PayloadSize: payload, Count: count, Debug: true})
	if err != nil {
		t.Fatalf("New(%q, %d, %d) = %v", name, payload, count, err)
	}
	return p
}

func assertBalanced(t testing.TB, p *packetpool.Pool) {
	t.Helper()
	info := p.Info()
	if info.Free != info.Total || info.InvalidReleases != 0 {
		t.Errorf("pool %q unbalanced: Info() = %+v, want Free == Total and InvalidReleases == 0", p.Name(), info)
	}
	for _, l := range p.Leaks() {
		t.Errorf("leak: %v", l)
	}
}

// chainBytes collects the chain's bytes through Buffers.
func chainBytes(pk *packetpool.Packet) []byte {
	var out []byte
	for b := range pk.Buffers() {
		out = append(out, b...)
	}
	return out
}

func mustRelease(t testing.TB, pk *packetpool.Packet) {
	t.Helper()
	if err := pk.Release(); err != nil {
		t.Fatalf("Release() = %v, want nil", err)
	}
}

func wantErr(t testing.TB, call string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s = %v, want nil", call, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", call, err, want)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

var _ = bytes.Equal
