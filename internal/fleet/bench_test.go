package fleet

import (
	"context"
	"testing"
)

// BenchmarkFleet1000 runs 1,000 boards, 64 mailing at a time, each sending
// one 512-byte mail to the mail host and fetching it back; it fails unless
// every mail is delivered and fetched byte-exact. Reported: wall seconds per
// fleet, the process's peak RSS in MB, and the aggregate pool peaks.
func BenchmarkFleet1000(b *testing.B) {
	for b.Loop() {
		rep, err := Run(context.Background(), Options{Boards: 1000, Seed: 1})
		if err != nil {
			b.Fatalf("Run = %v", err)
		}
		if rep.Delivered != 1000 || rep.Fetched != 1000 {
			b.Fatalf("delivered %d, fetched %d of 1000; failures %+v", rep.Delivered, rep.Fetched, rep.Failures)
		}
		b.ReportMetric(rep.Wall.Seconds(), "wall-s/fleet")
		b.ReportMetric(rep.Boot.Seconds(), "boot-s/fleet")
		b.ReportMetric(float64(rep.PeakRSS>>20), "peak-RSS-MB")
		b.ReportMetric(float64(rep.HostRx.Total-rep.HostRx.LowWater), "host-rx-peak-pkts")
		b.ReportMetric(float64(rep.BoardRx.MaxPeakInUse), "board-rx-peak-pkts")
	}
}
