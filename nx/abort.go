package nx

import "context"

// abortError is NX_WAIT_ABORTED caused by a done context. Its Unwrap lists
// both the status and the context's error, so errors.Is(err, ErrWaitAborted)
// and errors.Is(err, context.DeadlineExceeded) (or context.Canceled) both
// hold, and Code(err) is ErrWaitAborted.
type abortError struct{ cause error }

func (e *abortError) Error() string   { return ErrWaitAborted.Error() + ": " + e.cause.Error() }
func (e *abortError) Unwrap() []error { return []error{ErrWaitAborted, e.cause} }

// Pre-built for the two errors a standard context returns, so a cancelled
// call does not allocate.
var (
	abortedCanceled = &abortError{context.Canceled}
	abortedDeadline = &abortError{context.DeadlineExceeded}
)

// Aborted returns NX_WAIT_ABORTED for a call that ctx ended: an error for
// which errors.Is holds both for ErrWaitAborted and for ctx.Err()
// (context.Canceled or context.DeadlineExceeded), and Code is
// ErrWaitAborted. Services wrap it with their context as they wrap any
// status: fmt.Errorf("pool %q: allocate: %w", name, nx.Aborted(ctx)).
//
// A nil ctx, or one that is not done, gives ErrWaitAborted alone. Aborted
// does not block and, for the standard contexts, does not allocate.
func Aborted(ctx context.Context) error {
	if ctx == nil {
		return ErrWaitAborted
	}
	switch err := ctx.Err(); {
	case err == nil:
		return ErrWaitAborted
	case err == context.Canceled:
		return abortedCanceled
	case err == context.DeadlineExceeded:
		return abortedDeadline
	default:
		return &abortError{err}
	}
}

// Done reports whether ctx is done, without blocking. It is the check a
// service makes before it takes a resource or puts bytes on the wire, so
// nothing happens once a context is done even when nothing would wait. A
// nil ctx, or one that can never be done (context.Background), costs one
// method call.
func Done(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	d := ctx.Done()
	if d == nil {
		return false
	}
	select {
	case <-d:
		return true
	default:
		return false
	}
}
