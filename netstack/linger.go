package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// lingering remembers the gVisor endpoints a socket let go of while they
// were still closing (FIN_WAIT, LAST_ACK, TIME_WAIT), by local port. NetX
// forces TIMED_WAIT closed at unbind and so may reuse a port at once; gVisor
// keeps the old connection, and refuses a new one on the same four-tuple.
// NX_ANY_PORT binds therefore skip ports that still have such an endpoint,
// and a connect from an explicitly bound port ends a TIME_WAIT endpoint that
// holds its four-tuple, as NetX's unbind would have.
type lingering struct {
	mu    sync.Mutex
	eps   map[uint16][]lingerEP
	n     int // entries in eps
	sweep int // n at which add next prunes every port
}

type lingerEP struct {
	ep  tcpip.Endpoint
	key flowKey
}

// add records ep, the connection key names, which was just closed.
func (l *lingering) add(key flowKey, ep tcpip.Endpoint) {
	if done(ep) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eps == nil {
		l.eps = make(map[uint16][]lingerEP)
	}
	l.eps[key.lport] = append(l.eps[key.lport], lingerEP{ep: ep, key: key})
	l.n++
	if l.n >= l.sweep {
		// Ports that are never searched again would keep their entries
		// forever; a sweep whenever the count doubles bounds the map by
		// twice the endpoints really closing.
		for p := range l.eps {
			l.pruneLocked(p)
		}
		l.sweep = max(2*l.n, 64)
	}
}

// busy reports whether port still has a closing endpoint, pruning those that
// have finished.
func (l *lingering) busy(port uint16) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pruneLocked(port)) > 0
}

// endTimeWait ends quietly (no RST on the wire, as NetX's unbind ends
// TIMED_WAIT) the TIME_WAIT endpoint that holds key's four-tuple. It reports
// whether there was one.
func (l *lingering) endTimeWait(link *linkEP, key flowKey) bool {
	l.mu.Lock()
	var victim tcpip.Endpoint
	for _, e := range l.pruneLocked(key.lport) {
		if e.key == key && tcp.EndpointState(e.ep.State()) == tcp.StateTimeWait {
			victim = e.ep
			break
		}
	}
	l.mu.Unlock()
	if victim == nil {
		return false
	}
	link.quietAbort(key, victim)
	return true
}

// endAllTimeWait ends every endpoint still in TIME_WAIT quietly. IP.Close
// calls it before the stack closes, because the stack's close aborts every
// endpoint it still has and gVisor's Abort sends a RST even in TIME_WAIT:
// the RST after a completed FIN exchange that Wireshark flags. Endpoints
// still really closing (FIN_WAIT, CLOSING, LAST_ACK) are left to the
// stack's abort, which resets them.
func (l *lingering) endAllTimeWait(link *linkEP) {
	l.mu.Lock()
	var victims []lingerEP
	for p := range l.eps {
		for _, e := range l.pruneLocked(p) {
			if tcp.EndpointState(e.ep.State()) == tcp.StateTimeWait {
				victims = append(victims, e)
			}
		}
	}
	l.mu.Unlock()
	for _, v := range victims {
		link.quietAbort(v.key, v.ep)
	}
}

// pruneLocked drops finished endpoints on port and returns what is left.
func (l *lingering) pruneLocked(port uint16) []lingerEP {
	list := l.eps[port]
	kept := list[:0]
	for _, e := range list {
		if !done(e.ep) {
			kept = append(kept, e)
		}
	}
	clear(list[len(kept):])
	l.n -= len(list) - len(kept)
	if len(kept) == 0 {
		delete(l.eps, port)
		return nil
	}
	l.eps[port] = kept
	return kept
}

// done reports whether a closed endpoint has left the four-tuple free.
func done(ep tcpip.Endpoint) bool {
	st := tcp.EndpointState(ep.State())
	return st == tcp.StateClose || st == tcp.StateError
}
