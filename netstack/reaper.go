package netstack

import (
	"context"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/simboard/simboard/nx"
)

// reaper mirrors what _nx_tcp_socket_connection_reset does the moment a
// connection dies (peer RST, retransmission timeout, keepalive failure, any
// cause): the socket's transmit queue goes back to the pool at once and every
// thread suspended on the socket wakes with NX_NOT_CONNECTED. Without it the
// queue (up to NX_TCP_MAXIMUM_TX_QUEUE packets) stayed out of the pool until
// the owner called Disconnect, and a small pool ran dry under an application
// that was itself waiting for a packet.
//
// gVisor reports the death through the endpoint's waiter queue (EventHUp or
// EventErr), from its own goroutines and sometimes with its endpoint lock
// held, so the callback only posts the socket here; one goroutine owned by
// the IP (joined in IP.Close) then takes the socket's lock and releases the
// queue. mu is a leaf lock: nothing else is taken while it is held.
type reaper struct {
	mu      sync.Mutex
	pending []*TCPSocket
	wake    chan struct{}
}

func newReaper() *reaper { return &reaper{wake: make(chan struct{}, 1)} }

// post queues s for a check. It never blocks and takes no socket lock.
func (r *reaper) post(s *TCPSocket) {
	r.mu.Lock()
	r.pending = append(r.pending, s)
	r.mu.Unlock()
	signal(r.wake)
}

// loop checks posted sockets until ctx is cancelled.
func (r *reaper) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		r.mu.Unlock()
		for i, s := range batch {
			s.reapIfDead()
			batch[i] = nil
		}
	}
}

// connectionDead reports whether ep's connection has ended: reset, timed
// out or aborted (StateError), or fully closed (StateClose, TIME_WAIT: every
// byte sent was acknowledged, nothing more can be sent).
func connectionDead(ep tcpip.Endpoint) bool {
	switch tcp.EndpointState(ep.State()) {
	case tcp.StateError, tcp.StateClose, tcp.StateTimeWait:
		return true
	}
	return false
}

// reapIfDead releases the transmit queue and wakes every waiter when the
// socket's connection has died. The endpoint stays attached (queued receive
// data can still be read, as in NetX after a RST) until Disconnect, unbind
// or unaccept.
func (s *TCPSocket) reapIfDead() {
	s.mu.Lock()
	if s.ep != nil && connectionDead(s.ep) {
		s.abortLocked(nx.ErrNotConnected)
	}
	s.mu.Unlock()
}
