// Package boardtest forwards to the public package
// github.com/simboard/simboard/boardtest, so test files written against the
// old internal path still build. New code imports the public package.
//
// Deprecated: import github.com/simboard/simboard/boardtest.
package boardtest

import (
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/packetpool"
)

// Options is boardtest.Options.
type Options = boardtest.Options

// Board is boardtest.Board.
type Board = boardtest.Board

// RequireNetNSEnv is boardtest.RequireNetNSEnv.
const RequireNetNSEnv = boardtest.RequireNetNSEnv

// NewWire is boardtest.NewWire.
func NewWire(t testing.TB, seed int64) *driver.Wire { t.Helper(); return boardtest.NewWire(t, seed) }

// NewWireOptions is boardtest.NewWireOptions.
func NewWireOptions(t testing.TB, opts driver.WireOptions) *driver.Wire {
	t.Helper()
	return boardtest.NewWireOptions(t, opts)
}

// NewBoard is boardtest.NewBoard.
func NewBoard(t testing.TB, w *driver.Wire, name string, host byte, opts Options) *Board {
	t.Helper()
	return boardtest.NewBoard(t, w, name, host, opts)
}

// Pair is boardtest.Pair.
func Pair(t testing.TB, opts Options) (client, server *Board) {
	t.Helper()
	return boardtest.Pair(t, opts)
}

// CheckBalanced is boardtest.CheckBalanced.
func CheckBalanced(t testing.TB, pools ...*packetpool.Pool) {
	t.Helper()
	boardtest.CheckBalanced(t, pools...)
}

// CheckGoroutines is boardtest.CheckGoroutines.
func CheckGoroutines(t testing.TB) { t.Helper(); boardtest.CheckGoroutines(t) }

// MissingTools is boardtest.MissingTools.
func MissingTools(names ...string) []string { return boardtest.MissingTools(names...) }

// RequireTools is boardtest.RequireTools.
func RequireTools(t testing.TB, names ...string) { t.Helper(); boardtest.RequireTools(t, names...) }
