package sim_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simboard/simboard/sim"
)

type slowBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *slowBuf) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond) // a real-time wait: fine outside the simulation
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestWriterOutsideSimulation: a goroutine of a simulation writes through a
// Writer onto a writer that waits on real time; the simulation does not see
// that wait (no ErrRealTimeWait), every byte arrives in order once Close
// returns, and writes after Close fail.
func TestWriterOutsideSimulation(t *testing.T) {
	var out slowBuf
	aw := sim.NewWriter(&out)
	s := sim.New(sim.Options{})
	var want strings.Builder
	err := s.Run(context.Background(), func(ctx context.Context) error {
		for i := range 200 {
			line := strings.Repeat(string(rune('a'+i%26)), i%50) + "\n"
			want.WriteString(line)
			if _, err := aw.Write([]byte(line)); err != nil {
				return err
			}
			if err := s.Clock().Sleep(ctx, time.Second); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := aw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if out.b.String() != want.String() {
		t.Fatalf("wrote %d bytes, want the %d written, in order", out.b.Len(), want.Len())
	}
	if _, err := aw.Write([]byte("late")); err == nil {
		t.Fatalf("Write after Close = nil error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriterReportsError: the underlying writer's error comes back from a
// later Write and from Close.
func TestWriterReportsError(t *testing.T) {
	aw := sim.NewWriter(failWriter{})
	_, _ = aw.Write([]byte("x"))
	if err := aw.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v, want disk full", err)
	}
}
