package smtpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
)

// Faithful ports of NetX Duo's SMTP regression tests
// (test/regression/smtp_test/netx_smtp_*_test.c) against ProfileNetX. The
// server is the C test's server thread line for line: a board TCP socket
// (window 8000) that accepts one connection, then for each canned packet i
// receives one packet from the client (except before the greeting), checks
// it as the C test does and sends packet i of smtp_server_packets.c with its
// declared size; afterwards it waits 20 ticks, unaccepts, unlistens and
// deletes. Pools are carved as nx_packet_pool_create carves 10*1536 bytes
// (9 packets of 1536). Each port asserts what the C test asserts.
//
//	C test                                   asserts                                        Go test
//	netx_smtp_basic_function_test            status NX_SUCCESS; packet 7 ends with           TestNetXRegression/basic_function
//	                                         "\r\n.\r\n" (else the server waits for more)
//	netx_smtp_auth_logon_function_test       LOGIN: Username:/Password: prompts; success;    TestNetXRegression/auth_logon_function
//	                                         packet 8 ends with the EOM
//	netx_smtp_auth_no_type_test              LOGIN not offered ("MOGIN"): PLAIN is used;     TestNetXRegression/auth_no_type
//	                                         success
//	netx_smtp_auth_no_type_function_test     the same C source (a second copy in NetX)       TestNetXRegression/auth_no_type_function
//	netx_smtp_auth_none_test                 AUTH NONE: no AUTH command; success; packet 5   TestNetXRegression/auth_none
//	                                         ends with the EOM
//	netx_smtp_two_packet_EHLO_message_test   EHLO reply in two packets 1 s apart: the        TestNetXRegression/two_packet_EHLO_message
//	                                         server's 1 s receive after the first half
//	                                         times out (the client is muted), the next
//	                                         packet is not a second EHLO; success
//	netx_smtp_two_packet_EHLO_auth_last_     the same, AUTH only in the second half          TestNetXRegression/two_packet_EHLO_auth_last_message
//	  message_test
//	netx_smtp_missing_last_250_EHLO_         EHLO reply never ends: the server's receive     TestNetXRegression/missing_last_250_EHLO_message
//	  message_test                           after it fails (only allowed there); the
//	                                         mail fails
//	netx_smtp_abnormal_packet_test           greeting "22222220-...": the mail fails; the    TestNetXRegression/abnormal_packet
//	                                         server receives the QUIT within 10 s
//	netx_smtp_invalid_release_test           greeting "2200", server resets 20 ticks later:  TestNetXRegression/invalid_release
//	                                         no invalid packet release in the client pool,
//	                                         nx_smtp_client_delete succeeds
//
// Beyond the C assertions each port also checks the UINT NetX returns
// (derived from nxd_smtp_client.c in the goldens of netx_golden_test.go) and
// that every pool is balanced.
type netxRegression struct {
	name     string
	auth     AuthType
	pkts     []string // smtp_test[i]
	recvWait nx.Wait  // the server's nx_tcp_socket_receive wait
	eomAt    int      // packet index whose client packet must end with the EOM (0: none)
	// check, when set, replaces the default receive handling for packet i:
	// it returns whether to send packet i (false ends the loop) and an
	// error for error_counter.
	check      func(i int, pkt []byte, err error) (send bool, fail error)
	afterSend  func(i int, send func(int)) int // extra sends after packet i; returns the new i
	resetAfter bool                            // nx_tcp_socket_disconnect(NX_NO_WAIT) after the loop
	to         Timeouts
	wantOK     bool
	wantStatus uint32
}

func TestNetXRegression(t *testing.T) {
	const second = 100 // NX_IP_PERIODIC_RATE
	login := []string{netxGreeting, netxEHLO, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221}
	twoPacket := func() func(i int, pkt []byte, err error) (bool, error) {
		return func(i int, pkt []byte, err error) (bool, error) {
			switch {
			case err != nil && i == 2:
				return true, nil // the client is muted, waiting for the rest of EHLO: send it
			case err != nil:
				return false, fmt.Errorf("packet %d: receive: %v", i, err)
			case i == 2:
				return false, fmt.Errorf("packet 2: the client sent %q before the EHLO reply was complete", pkt)
			case i == 3 && bytes.HasPrefix(pkt, []byte("EHLO")):
				return false, fmt.Errorf("packet 3: the client sent EHLO again")
			}
			return true, nil
		}
	}
	tests := []netxRegression{
		{name: "basic_function", auth: AuthPlain, pkts: login, recvWait: nx.Ticks(100 * second), eomAt: 7, wantOK: true},
		{name: "auth_logon_function", auth: AuthLogin, recvWait: nx.Ticks(100 * second), eomAt: 8, wantOK: true,
			pkts: []string{netxGreeting, netxEHLO, netx334User, netx334Pass, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221}},
		{name: "auth_no_type", auth: AuthLogin, recvWait: nx.Ticks(100 * second), eomAt: 7, wantOK: true,
			pkts: []string{netxGreeting, netxEHLOAuthNoType, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221}},
		{name: "auth_no_type_function", auth: AuthLogin, recvWait: nx.Ticks(100 * second), eomAt: 7, wantOK: true,
			pkts: []string{netxGreeting, netxEHLOAuthNoType, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221}},
		{name: "auth_none", auth: AuthNone, recvWait: nx.Ticks(100 * second), eomAt: 5, wantOK: true,
			pkts: []string{netxGreeting, netxEHLONoAuth, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221}},
		{name: "two_packet_EHLO_message", auth: AuthPlain, recvWait: nx.Ticks(second), eomAt: 8, wantOK: true,
			pkts:  []string{netxGreeting, netxEHLOFirst, netxEHLOLast, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221},
			check: twoPacket()},
		{name: "two_packet_EHLO_auth_last_message", auth: AuthPlain, recvWait: nx.Ticks(second), eomAt: 8, wantOK: true,
			pkts:  []string{netxGreeting, netxEHLOFirstNoAuth, netxEHLOLastWithAuth, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221},
			check: twoPacket()},
		{name: "missing_last_250_EHLO_message", auth: AuthPlain, recvWait: nx.Ticks(50 * second), eomAt: 8,
			// NX_SMTP_ENVELOPE_TIMEOUT shortened from 10 s (a NetX macro).
			to:         Timeouts{Envelope: nx.Ticks(30)},
			wantStatus: uint32(nx.ErrNoPacket),
			pkts:       []string{netxGreeting, netxEHLOFirst, netxEHLONotLast, netx334, netx235, netx250Sender, netx250Recipient, netx354, netx250Saved, netx221},
			check: func(i int, pkt []byte, err error) (bool, error) {
				if err != nil {
					if i != 3 {
						return false, fmt.Errorf("packet %d: receive: %v", i, err)
					}
					return false, nil
				}
				return true, nil
			},
			afterSend: func(i int, send func(int)) int {
				if i == 1 { // "Wait a beat and send the second one."
					testSleep(20 * time.Millisecond)
					send(2)
					return 2
				}
				return i
			}},
		{name: "abnormal_packet", auth: AuthPlain, recvWait: nx.Ticks(10 * second), wantStatus: uint32(ErrGreetReply),
			pkts: []string{"2222222" + netxGreeting[2:], netx221}},
		{name: "invalid_release", auth: AuthPlain, recvWait: nx.Ticks(100 * second), resetAfter: true,
			// "2200" gives NX_SMTP_GREET_REPLY_ERROR, then the QUIT's
			// receive meets the reset: NetX returns NX_NOT_CONNECTED.
			wantStatus: uint32(nx.ErrNotConnected), pkts: []string{"2200"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runNetXRegression(t, tc) })
	}
}

func runNetXRegression(t *testing.T, tc netxRegression) {
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	// nx_packet_pool_create(&pool, "...", 1536, pointer, 10*1536) carves
	// floor(15360 / (1536 + header)) = 9 packets.
	srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{PayloadSize: 1536, Count: 9})
	cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{PayloadSize: 1536, Count: 9, Debug: true})
	ctx := context.Background()

	sock, err := srv.IP.TCPSocketCreate("Socket 1", 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.IP.ServerListen(25, sock, 5); err != nil {
		t.Fatal(err)
	}
	serverErr := make(chan error, 1)
	go func() {
		var errs []error
		fail := func(e error) { errs = append(errs, e) }
		defer func() { serverErr <- errors.Join(errs...) }()
		if err := sock.ServerAccept(ctx, nx.WaitForever); err != nil {
			fail(fmt.Errorf("accept: %v", err))
			return
		}
		send := func(i int) {
			pkt, err := srv.Pool.Allocate(ctx, packetpool.IPv4TCPPacket, nx.Ticks(200))
			if err != nil {
				fail(fmt.Errorf("packet %d: allocate: %v", i, err))
				return
			}
			if err := pkt.Append(ctx, []byte(tc.pkts[i]), srv.Pool, nx.NoWait); err != nil {
				_ = pkt.Release()
				fail(fmt.Errorf("packet %d: append: %v", i, err))
				return
			}
			if err := sock.Send(ctx, pkt, nx.Ticks(100)); err != nil {
				_ = pkt.Release()
				fail(fmt.Errorf("packet %d: send: %v", i, err))
			}
		}
	loop:
		for i := 0; i < len(tc.pkts); i++ {
			if i != 0 {
				pkt, rerr := sock.Receive(ctx, tc.recvWait)
				var data []byte
				if rerr == nil {
					data = pkt.Bytes()
					if pkt.Next() != nil {
						data = nil
						for b := range pkt.Buffers() {
							data = append(data, b...)
						}
					}
				}
				if tc.check != nil {
					ok, cerr := tc.check(i, data, rerr)
					if cerr != nil {
						fail(cerr)
					}
					if !ok {
						if pkt != nil {
							_ = pkt.Release()
						}
						break loop
					}
				} else if rerr != nil {
					fail(fmt.Errorf("packet %d: receive: %v", i, rerr))
					continue
				}
				if rerr == nil && tc.eomAt != 0 && i == tc.eomAt && !bytes.HasSuffix(data, []byte("\r\n.\r\n")) {
					// "Stay in this state."
					_ = pkt.Release()
					i--
					continue
				}
				if pkt != nil {
					_ = pkt.Release()
				}
			}
			send(i)
			if tc.afterSend != nil {
				i = tc.afterSend(i, send)
			}
		}
		testSleep(200 * time.Millisecond) // tx_thread_sleep(20)
		if tc.resetAfter {
			_ = sock.Disconnect(ctx, nx.NoWait)
		} else {
			_ = sock.Disconnect(ctx, nx.Ticks(100))
		}
		if err := sock.ServerUnaccept(); err != nil {
			fail(fmt.Errorf("unaccept: %v", err))
		}
		if err := srv.IP.ServerUnlisten(25); err != nil {
			fail(fmt.Errorf("unlisten: %v", err))
		}
		if err := sock.Delete(); err != nil {
			fail(fmt.Errorf("delete: %v", err))
		}
	}()

	c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, Username: netxFrom, Password: "testpwd", From: netxFrom,
		ClientDomain: "domain.com", Auth: tc.auth, ServerAddr: srv.Addr, Port: 25, Profile: ProfileNetX, Timeouts: tc.to})
	if err != nil {
		t.Fatalf("nxd_smtp_client_create: %v", err)
	}
	_, err = c.MailSend(ctx, netxRecipient, PriorityNormal, netxSubject, []byte(netxBody))
	if tc.wantOK && err != nil {
		t.Errorf("nx_smtp_mail_send = %v, want NX_SUCCESS", err)
	}
	if !tc.wantOK && err == nil {
		t.Errorf("nx_smtp_mail_send = NX_SUCCESS, want a failure")
	}
	if got := NetXStatus(err); !tc.wantOK && got != tc.wantStatus {
		t.Errorf("nx_smtp_mail_send status 0x%02X (%v), want 0x%02X", got, err, tc.wantStatus)
	}
	if err := c.Delete(); err != nil {
		t.Errorf("nx_smtp_client_delete = %v", err)
	}
	select {
	case err := <-serverErr:
		if err != nil {
			t.Errorf("server thread: %v", err)
		}
	case <-testClock().NewTimer(120 * time.Second).C():
		t.Fatal("server thread did not finish")
	}
	if n := cli.Pool.Info().InvalidReleases; n != 0 {
		t.Errorf("client pool invalid releases = %d, want 0", n)
	}
}
