//go:build !linux

package packetpool_test

import "testing"

// reportCPU reports nothing where RUSAGE_THREAD is not available.
func reportCPU(*testing.B) {}
