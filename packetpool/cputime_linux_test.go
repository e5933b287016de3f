package packetpool_test

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU returns the CPU time the calling OS thread has used
// (getrusage(RUSAGE_THREAD)).
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU makes a single-goroutine benchmark also report "cpu-ns/op": the
// thread's CPU time per iteration. Unlike ns/op it excludes the time the
// thread waits for a core, so it stays comparable between benchmarks of one
// run on a machine shared with other work. Call it before the loop.
func reportCPU(b *testing.B) {
	runtime.LockOSThread()
	start := threadCPU()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	})
}
