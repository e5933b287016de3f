package netsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/simboard/simboard/apps/sntpc"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// NTPOptions configure an NTP server on a board. Zero values are noted.
type NTPOptions struct {
	// IP is the board that serves. Required.
	IP *netstack.IP
	// Port to serve on. 0 means 123.
	Port uint16
	// Clock is the server's reference. nil means the IP's clock.
	Clock nx.Clock
	// Offset is added to Clock: a server whose time differs from the
	// board's, so the client's offset is visible.
	Offset time.Duration
	// Stratum of the replies. 0 means 1 (a primary server), RefID "SIMB".
	Stratum uint8
	// Script, when set, may change each reply before it is sent (leap 3,
	// stratum 0 with a kiss code, a wrong origin timestamp, …); returning
	// false sends nothing. The request is the client's parsed message.
	Script func(req sntpc.Packet, resp *sntpc.Packet) bool
	// Logger receives lifecycle at Info, malformed requests at Warn. nil
	// discards.
	Logger *slog.Logger
}

// NTPServer answers NTP client requests (mode 3) with server replies (mode 4)
// on a board UDP socket, echoing the request's version and transmit
// timestamp (as the origin) as RFC 5905 asks. Close stops and joins it.
type NTPServer struct {
	sock   *netstack.UDPSocket
	ip     *netstack.IP
	opts   NTPOptions
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	requests int
}

// StartNTP starts an NTP server. It does not block. Errors: a missing IP, or
// the socket's status (nx.ErrPortUnavailable).
func StartNTP(opts NTPOptions) (*NTPServer, error) {
	if opts.IP == nil {
		return nil, errors.New("netsvc: ntp: no IP")
	}
	if opts.Port == 0 {
		opts.Port = sntpc.Port
	}
	if opts.Clock == nil {
		opts.Clock = opts.IP.Clock()
	}
	if opts.Stratum == 0 {
		opts.Stratum = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := opts.IP.UDPSocketCreate("ntp server")
	if err != nil {
		return nil, fmt.Errorf("netsvc: ntp: %w", err)
	}
	if err := s.Bind(context.Background(), opts.Port, nx.NoWait); err != nil {
		_ = s.Delete()
		return nil, fmt.Errorf("netsvc: ntp: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &NTPServer{sock: s, ip: opts.IP, opts: opts, cancel: cancel, done: make(chan struct{})}
	go srv.serve(ctx)
	opts.Logger.Info("ntp server started", "port", opts.Port, "stratum", opts.Stratum)
	return srv, nil
}

// Requests returns how many client requests the server has read.
func (s *NTPServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Close stops the server, joins its goroutine and deletes its socket.
// Idempotent.
func (s *NTPServer) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		_ = s.sock.Unbind()
		_ = s.sock.Delete()
	})
	return nil
}

func (s *NTPServer) serve(ctx context.Context) {
	defer close(s.done)
	for {
		pkt, from, err := s.sock.Receive(ctx, nx.WaitForever)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		rx := s.now()
		var buf [sntpc.MessageMaxSize]byte
		n := pkt.Length()
		if n <= len(buf) {
			_, _ = pkt.ExtractOffset(0, buf[:n])
		}
		_ = pkt.Release()
		if n > len(buf) {
			s.opts.Logger.Warn("ntp: oversized request dropped", "from", from, "len", n)
			continue
		}
		req, err := sntpc.ParsePacket(buf[:n])
		if err != nil || req.Mode != sntpc.ModeClient {
			s.opts.Logger.Warn("ntp: malformed request dropped", "from", from, "len", n, "err", err)
			continue
		}
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		resp := sntpc.Packet{Version: req.Version, Mode: sntpc.ModeServer, Stratum: s.opts.Stratum, Poll: req.Poll,
			Precision: -20, RootDelay: 0, RootDispersion: 1 << 6, RefID: [4]byte{'S', 'I', 'M', 'B'},
			RefTime: sntpc.TimestampOf(rx.Add(-time.Second)), OrigTime: req.TxTime, RxTime: sntpc.TimestampOf(rx)}
		resp.TxTime = sntpc.TimestampOf(s.now())
		if s.opts.Script != nil && !s.opts.Script(req, &resp) {
			continue
		}
		if err := s.send(ctx, resp, from); err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("ntp: reply not sent", "to", from, "err", err)
		}
	}
}

func (s *NTPServer) now() time.Time { return s.opts.Clock.Now().Add(s.opts.Offset) }

func (s *NTPServer) send(ctx context.Context, resp sntpc.Packet, to netip.AddrPort) error {
	pool := s.ip.Pool()
	pkt, err := pool.Allocate(ctx, packetpool.UDPPacket, nx.Seconds(1))
	if err != nil {
		return err
	}
	if err := pkt.Append(ctx, resp.Append(make([]byte, 0, sntpc.MessageMinSize)), pool, nx.Seconds(1)); err != nil {
		_ = pkt.Release()
		return err
	}
	if err := s.sock.Send(ctx, pkt, unmap(to)); err != nil {
		_ = pkt.Release()
		return err
	}
	return nil
}
