package smtpc

import (
	"errors"

	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// connConfig is the connection layer's view of the client's options: the
// pool, the board's clock and NetX's packet, send and disconnect waits.
func (cfg *config) connConfig(clock nx.Clock) mailconn.Config {
	return mailconn.Config{
		Pool:       cfg.Pool,
		Clock:      clock,
		Packet:     cfg.to.Packet,
		Send:       cfg.to.Send,
		Disconnect: cfg.to.Disconnect,
		ChainSize:  cfg.chain,
	}
}

// newConn returns the connection layer on a connected socket. The client
// keeps the socket for the next mail unless TLS consumed it.
func (c *Client) newConn(sock *netstack.TCPSocket) *mailconn.Conn {
	return mailconn.New(sock, c.cfg.connConfig(sock.IP().Clock()))
}

// connErr adds this client's status to a connection-layer failure: pool
// exhaustion is NX_SMTP_PACKET_ALLOCATE_ERROR (next to NX_NO_PACKET), a
// failed TLS handshake NX_SMTP_TRANSMIT_ERROR; transport statuses pass
// through, as NetX returns the raw TCP status for those.
func connErr(err error) error {
	var he *mailconn.HandshakeError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mailconn.ErrPoolExhausted):
		return withStatus(ErrPacketAllocate, err)
	case errors.As(err, &he):
		return withStatus(ErrTransmit, err)
	}
	return err
}
