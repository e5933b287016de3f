// Package leak is the goroutine-leak check behind boardtest.CheckGoroutines,
// in a package of its own so that the driver's tests (which boardtest
// imports) can use it too.
package leak

import (
	"runtime"
	"testing"
	"time"
)

// Check snapshots the goroutine count; at cleanup it fails the test if more
// goroutines are running than at the start (after letting exiting
// goroutines finish for up to 2 s), and prints their stacks. Call it first
// in a test, before anything that registers a cleanup, so that its cleanup
// runs last: after the boards, links and namespaces are closed, whether the
// test passed or failed midway.
func Check(t testing.TB) {
	t.Helper()
	CheckWith(t, nil)
}

// CheckWith is Check whose wait for exiting goroutines calls sleep(5ms)
// (at most 400 times) instead of time.Sleep: a check that runs inside a
// simulation must wait on its clock. sleep is called at cleanup; nil
// means time.Sleep.
func CheckWith(t testing.TB, sleep func(time.Duration)) {
	t.Helper()
	if sleep == nil {
		sleep = time.Sleep
	}
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		n := runtime.NumGoroutine()
		for i := 0; i < 400 && n > before; i++ {
			sleep(5 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		if n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines leaked: %d before, %d after\n%s", before, n, buf)
		}
	})
}
