// Package nx is the leaf of simboard: NetX Duo status codes, wait options and
// the one waiting helper every blocking service uses.
//
// It mirrors three things from Eclipse ThreadX NetX Duo (common/inc/nx_api.h):
//
//	NetX                          Go
//	UINT status (NX_NO_PACKET…)   nx.Status, an error value; success is a nil error
//	NX_NO_WAIT                    nx.NoWait
//	NX_WAIT_FOREVER               nx.WaitForever (also nx.Ticks(0xFFFFFFFF))
//	N * NX_IP_PERIODIC_RATE       nx.Ticks(N * nx.TicksPerSecond)
//	tx_thread_wait_abort          cancelling the call's context: NX_WAIT_ABORTED
//
// Statuses are comparable values, so errors.Is(err, nx.ErrNoPacket) holds
// through any amount of fmt.Errorf("...: %w") wrapping, and errors.As
// recovers the code:
//
//	var st nx.Status
//	if errors.As(err, &st) { fmt.Printf("0x%02X\n", uint32(st)) }
//
// Blocking calls take a context first and a Wait last, so NetX sample code
// ports line for line: pool.Allocate(ctx, packetpool.TCPPacket, nx.Ticks(200)).
// All waiting goes through Await on an injectable Clock.
//
// A done context ends a call with NX_WAIT_ABORTED as Aborted builds it:
// errors.Is holds both for ErrWaitAborted and for ctx.Err(), so callers can
// still tell context.DeadlineExceeded from context.Canceled. Services that
// take a resource or put bytes on the wire check Done first, so nothing
// happens on behalf of a cancelled caller even when nothing would wait.
package nx
