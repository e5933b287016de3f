package netstack

import (
	"context"
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

// aborted returns nil while ctx is live, and nx.Aborted(ctx) once it is
// done: NX_WAIT_ABORTED for which errors.Is also holds for ctx.Err()
// (context.Canceled or context.DeadlineExceeded). A nil ctx never aborts.
//
// Every netstack call that would put bytes or segments on the wire checks it
// first: nothing leaves the board once the caller's context is done.
func aborted(ctx context.Context) error {
	if nx.Done(ctx) {
		return nx.Aborted(ctx)
	}
	return nil
}
