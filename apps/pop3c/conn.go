package pop3c

import (
	"github.com/simboard/simboard/internal/mailconn"
	"github.com/simboard/simboard/nx"
)

// connConfig is the connection layer's view of the options: the client's
// pool, the board's clock and NetX's packet, send and disconnect waits. The
// socket lives as long as the session, so closing the connection deletes it.
func (o *Options) connConfig(clock nx.Clock) mailconn.Config {
	return mailconn.Config{
		Pool:          o.Pool,
		Clock:         clock,
		Packet:        o.Timeouts.Packet,
		Send:          o.Timeouts.Send,
		Disconnect:    o.Timeouts.Disconnect,
		DeleteOnClose: true,
	}
}

// onFill runs after every receive: ProfileNetX refuses a status line that
// arrives in a chained packet, as every NetX reply path does.
func (c *Client) onFill() error {
	if c.wantReply && c.netx && c.conn.Chained() {
		return errNetXChained
	}
	return nil
}

var errNetXChained = errf("chained reply packet (NetX rejects them): %w", nx.ErrInvalidPacket)
