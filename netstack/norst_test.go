package netstack_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
)

// tcpFlags is one TCP segment sent by the board, as read from its pcap.
type tcpFlags struct {
	SrcPort, DstPort uint16
	FIN, RST, SYN    bool
	Seq              uint32
}

// boardSegments parses a board's pcap and returns the TCP segments whose
// source is from, in capture order.
func boardSegments(t *testing.T, pcap []byte, from netip.Addr) []tcpFlags {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	var out []tcpFlags
	for p := range gopacket.NewPacketSource(r, layers.LinkTypeEthernet).Packets() {
		ip4, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tl, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip4 == nil || tl == nil {
			continue
		}
		if src, _ := netip.AddrFromSlice(ip4.SrcIP); src.Unmap() != from {
			continue
		}
		out = append(out, tcpFlags{uint16(tl.SrcPort), uint16(tl.DstPort), tl.FIN, tl.RST, tl.SYN, tl.Seq})
	}
	return out
}

// TestNoRSTAfterCompletedClose is issue 9 §2 "RST after a completed close":
// the board closes first (so its side stays in TIME_WAIT after the FIN
// exchange), then it either binds the same fixed port again and connects
// (NetX's unbind ended TIMED_WAIT), or its IP is closed (nx_ip_delete). In
// neither case may a RST follow the FIN exchange on the wire. The last
// subtest is the control: closing the IP under a live connection still
// resets it, as before.
func TestNoRSTAfterCompletedClose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		conns   int  // connections from the same fixed port, one after the other
		live    bool // leave the last connection established when the IP closes
		bound   bool // the socket is still bound (in TIME_WAIT) when the IP closes
		wantRST bool
	}{
		{"IP closed in TIME_WAIT", 1, false, false, false},
		{"IP closed with the socket still bound in TIME_WAIT", 1, false, true, false},
		{"fixed port reconnect, then IP closed in TIME_WAIT", 3, false, false, false},
		{"IP closed under a live connection", 1, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boardtest.CheckGoroutines(t)
			var pcap bytes.Buffer
			w := boardtest.NewWire(t, 1)
			server := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{})
			client := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{Capture: &pcap})
			ctx := context.Background()
			s, err := server.IP.TCPSocketCreate("server", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := server.IP.ServerListen(80, s, 5); err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			if tc.live {
				go func() { served <- s.ServerAccept(ctx, nx.Seconds(10)) }()
			} else {
				go func() { served <- serveClosing(ctx, server, s, tc.conns) }()
			}
			c, err := client.IP.TCPSocketCreate("client", 0)
			if err != nil {
				t.Fatal(err)
			}
			const port = 0xD100
			for i := range tc.conns {
				if err := c.ClientBind(ctx, port, nx.NoWait); err != nil {
					t.Fatalf("conn %d: ClientBind(%#x) = %v", i, port, err)
				}
				if err := c.Connect(ctx, netip.AddrPortFrom(server.Addr, 80), nx.Seconds(10)); err != nil {
					t.Fatalf("conn %d: Connect = %v", i, err)
				}
				if tc.live {
					break
				}
				if err := c.Disconnect(ctx, nx.Seconds(10)); err != nil {
					t.Fatalf("conn %d: Disconnect = %v", i, err)
				}
				if tc.bound && i == tc.conns-1 {
					if st := c.Info().State; st != netstack.StateTimedWait {
						t.Fatalf("conn %d: state after Disconnect = %d, want TIME_WAIT (%d)", i, st, netstack.StateTimedWait)
					}
					break
				}
				if err := c.ClientUnbind(); err != nil {
					t.Fatalf("conn %d: ClientUnbind = %v", i, err)
				}
			}
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			client.Close() // nx_ip_delete while TIME_WAIT (or the live connection) holds
			if tc.live {
				if _, err := s.Receive(ctx, nx.Seconds(5)); !errors.Is(err, nx.ErrNotConnected) {
					t.Errorf("server Receive after the client's IP closed = %v, want NX_NOT_CONNECTED (reset)", err)
				}
				_ = s.Disconnect(ctx, nx.NoWait)
				_ = s.ServerUnaccept()
			}
			_ = server.IP.ServerUnlisten(80)
			_ = s.Delete()

			segs := boardSegments(t, pcap.Bytes(), client.Addr)
			// A FIN retransmitted (a slow host delays the peer's ACK past
			// the RTO) is the same FIN: count distinct ones. Connections
			// on one fixed port can repeat sequence numbers (in virtual
			// time no time passes between them), so each SYN the board
			// sends starts a new connection.
			type finKey struct {
				conn     int
				src, dst uint16
				seq      uint32
			}
			finSeen := map[finKey]bool{}
			var fins, rsts, conn int
			for i, sg := range segs {
				switch {
				case sg.SYN:
					conn++
				case sg.FIN:
					if k := (finKey{conn, sg.SrcPort, sg.DstPort, sg.Seq}); !finSeen[k] {
						finSeen[k] = true
						fins++
					}
				case sg.RST:
					rsts++
					if !tc.wantRST {
						t.Errorf("segment %d of %d from the board is a RST (port %d -> %d) after %d FINs: a completed close must end quietly",
							i+1, len(segs), sg.SrcPort, sg.DstPort, fins)
					}
				}
			}
			if !tc.live && fins != tc.conns {
				t.Errorf("the board sent %d FINs, want %d (one per connection)", fins, tc.conns)
			}
			if tc.wantRST && rsts == 0 {
				t.Errorf("closing the IP under a live connection sent no RST; the peer would wait forever")
			}
		})
	}
}
