package sim

import (
	"context"
	"errors"
	"io"
	"runtime/pprof"
	"sync"
)

// Writer carries a simulation's output (a pcap file, a log, a transcript)
// to an io.Writer from a goroutine outside the simulation.
//
// Goroutines of a simulation must not make system calls that can block
// (file and terminal writes): a goroutine coming back from a long system
// call is, for a moment, counted nowhere by the runtime (running without a
// processor, not yet queued), so the scheduler's cheap idle test, the
// runtime's counters, can take it for idle and move time while it still
// works on the last event. Under CPU contention that made one run in 16
// of a lossy demo end differently. A Writer's Write only copies p into a
// buffer and wakes its own goroutine, which carries no label of the
// simulation and does the system calls.
//
// Write never blocks on w and returns the first error w returned, if any;
// Close writes what is left and returns w's first error. A Writer is safe
// for concurrent use.
type Writer struct {
	w      io.Writer
	mu     sync.Mutex
	buf    []byte
	err    error
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	closed bool
}

var errWriterClosed = errors.New("sim: write to a closed Writer")

// NewWriter starts a Writer onto w. Close it to flush.
func NewWriter(w io.Writer) *Writer {
	aw := &Writer{w: w, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go aw.loop()
	return aw
}

// Write queues a copy of p. It does not block on the underlying writer.
func (aw *Writer) Write(p []byte) (int, error) {
	aw.mu.Lock()
	if aw.err != nil || aw.closed {
		err := aw.err
		if err == nil {
			err = errWriterClosed
		}
		aw.mu.Unlock()
		return 0, err
	}
	aw.buf = append(aw.buf, p...)
	aw.mu.Unlock()
	select {
	case aw.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Close writes what is queued, stops the goroutine and returns the first
// error of the underlying writer. It does not close that writer.
func (aw *Writer) Close() error {
	aw.once.Do(func() {
		aw.mu.Lock()
		aw.closed = true
		aw.mu.Unlock()
		close(aw.stop)
	})
	<-aw.done
	aw.mu.Lock()
	defer aw.mu.Unlock()
	return aw.err
}

func (aw *Writer) loop() {
	// Outside every simulation: the idle test never waits for it.
	pprof.SetGoroutineLabels(context.Background())
	defer close(aw.done)
	var spare []byte
	for {
		stopping := false
		select {
		case <-aw.wake:
		case <-aw.stop:
			stopping = true
		}
		for {
			aw.mu.Lock()
			chunk := aw.buf
			aw.buf = spare[:0]
			failed := aw.err != nil
			aw.mu.Unlock()
			if len(chunk) == 0 {
				spare = chunk
				break
			}
			if !failed {
				if _, err := aw.w.Write(chunk); err != nil {
					aw.mu.Lock()
					aw.err = err
					aw.mu.Unlock()
				}
			}
			spare = chunk
		}
		if stopping {
			return
		}
	}
}
