package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/simboard/simboard/nx"
)

// translate maps a gVisor error to the NetX status a NetX Duo service would
// return in the same situation. It is the only place gVisor errors are
// interpreted; callers wrap the result with their own context.
func translate(err tcpip.Error) error {
	if err == nil {
		return nil
	}
	switch err.(type) {
	case *tcpip.ErrWouldBlock:
		return nx.ErrNoPacket
	case *tcpip.ErrConnectionRefused, *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted,
		*tcpip.ErrNotConnected, *tcpip.ErrClosedForSend, *tcpip.ErrClosedForReceive,
		*tcpip.ErrAborted, *tcpip.ErrTimeout, *tcpip.ErrHostUnreachable, *tcpip.ErrNetworkUnreachable,
		*tcpip.ErrHostDown, *tcpip.ErrNoNet:
		return nx.ErrNotConnected
	case *tcpip.ErrBadLocalAddress, *tcpip.ErrAddressFamilyNotSupported,
		*tcpip.ErrBadAddress, *tcpip.ErrDestinationRequired:
		return nx.ErrIPAddress
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return nx.ErrPortUnavailable
	case *tcpip.ErrNoPortAvailable:
		return nx.ErrNoFreePorts
	case *tcpip.ErrAlreadyBound:
		return nx.ErrAlreadyBound
	case *tcpip.ErrAlreadyConnecting, *tcpip.ErrConnectStarted:
		return nx.ErrInProgress
	case *tcpip.ErrAlreadyConnected:
		return nx.ErrNotClosed
	case *tcpip.ErrNoBufferSpace:
		return nx.ErrWindowOverflow
	case *tcpip.ErrMessageTooLong:
		return nx.ErrSize
	case *tcpip.ErrInvalidEndpointState:
		return nx.ErrNotConnected
	case *tcpip.ErrNotSupported, *tcpip.ErrUnknownProtocolOption, *tcpip.ErrUnknownProtocol:
		return nx.ErrNotSupported
	case *tcpip.ErrInvalidOptionValue:
		return nx.ErrOption
	case *tcpip.ErrDuplicateNICID, *tcpip.ErrUnknownNICID:
		return nx.ErrInvalidInterface
	}
	return nx.ErrNotSuccessful
}

func header4Any() tcpip.Subnet {
	return header.IPv4EmptySubnet
}

func header6Any() tcpip.Subnet {
	return header.IPv6EmptySubnet
}

func fe80Subnet() tcpip.Subnet {
	a := tcpip.AddrFrom16([16]byte{0xfe, 0x80})
	m := tcpip.MaskFromBytes([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	s, _ := tcpip.NewSubnet(a, m)
	return s
}

func linkLocal(mac net.HardwareAddr) tcpip.Address {
	return header.LinkLocalAddr(tcpip.LinkAddress(string(mac)))
}

const shutdownWrite = tcpip.ShutdownWrite

// aborted returns nil while ctx is live. Once ctx is done it returns
// nx.ErrWaitAborted wrapped together with ctx.Err(), so that both
// errors.Is(err, nx.ErrWaitAborted) and errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) hold. A nil ctx never aborts.
//
// Every netstack call that would put bytes or segments on the wire checks it
// first: nothing leaves the board once the caller's context is done.
func aborted(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w (%w)", nx.ErrWaitAborted, err)
	}
	return nil
}

// await is nx.Await with the context's error kept reachable: when the wait
// is aborted by ctx, the result wraps both nx.ErrWaitAborted and ctx.Err().
func await(ctx context.Context, clk nx.Clock, wait nx.Wait, ready <-chan struct{}, timeout nx.Status) error {
	err := nx.Await(ctx, clk, wait, ready, timeout)
	if errors.Is(err, nx.ErrWaitAborted) {
		if a := aborted(ctx); a != nil {
			return a
		}
	}
	return err
}
