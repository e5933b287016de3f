package pop3c_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/boardtest"
)

// Ports of NetX Duo's POP3 regression tests (test/regression/pop3_test),
// against ProfileNetX, each asserting what the C test asserts:
//
//	C test                                    asserts                                          Go test
//	netx_pop3_mail_receive_test               one mail in three 82-byte packets; each          TestNetXMailReceive
//	                                          message_get returns the packet, bytes_retrieved
//	                                          82, 82, 82 (the terminator included), final on
//	                                          the third; DELE and QUIT succeed
//	netx_pop3_two_mails_received_test         STAT 2; both mails read to their final packet    TestNetXTwoMailsReceived
//	netx_pop3_packet_with_endmarker_test      a last packet of exactly "\r\n.\r\n" is final     TestNetXPacketWithEndMarker
//	                                          with bytes_retrieved 0
//	netx_pop3_abnormal_packet_test            a one-byte "\n" reply (greeting, STAT) gives      TestNetXAbnormalPacket
//	                                          NX_POP3_SERVER_ERROR_STATUS, nothing leaks; the
//	                                          failed create leaves the client for Delete
//
// The canned server packets of NetX Duo's POP3 regression tests
// (test/regression/pop3_test/netx_pop3_*_test.c), byte for byte. Their
// lengths are those of the C arrays.
const (
	netxGreeting   = "+OK mail.expresslogic.com POP3 MDaemon 15.5.3 ready <MDAEMON-F201610041152.AA5256890MD1203@mail.expresslogic.com>\r\n"
	netxUserOK     = "+OK testrecipient@expresslogic.com... User ok\r\n"
	netxPasswordOK = "+OK testrecipient@expresslogic.com's mailbox has 1 total messages (187402 octets)\r\n"
	netxStatOK1    = "+OK 1 187402\r\n"
	netxStatOK2    = "+OK 2 187402\r\n"
	netxRetrOK     = "+OK 187402 octets\r\n"
	netxData1      = "Return-path: <testrecipienttest2@gmail.com>\r\nAuthentication-Results: expresslogic."
	netxData2      = "ed;\r\n        d=gmail.com; s=20120113;\r\n        h=content-transfer-encoding:from:mi"
	netxData3      = "ed;\r\n        d=gmail.com; s=20120113;\r\n        h=content-transfer-encoding:fr\r\n.\r\n"
	netxEndMarker  = "\r\n.\r\n"
	netxDeleOK     = "+OK message 1 deleted\r\n"
	netxQuitOK     = "+OK testrecipient@expresslogic.com expresslogic.com POP3 Server signing off (mailbox empty)\r\n"

	netxName     = "recipient@domain.com"
	netxPassword = "testpwd"
)

func TestNetXPacketSizes(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		size int
	}{
		{"greeting", netxGreeting, 115}, {"user_ok", netxUserOK, 47}, {"password_ok", netxPasswordOK, 83},
		{"stat_ok", netxStatOK1, 14}, {"retr_ok", netxRetrOK, 19}, {"first_data_packet", netxData1, 82},
		{"second_data_packet", netxData2, 82}, {"last_data_packet", netxData3, 82},
		{"last_data_packet2 (endmarker test)", netxEndMarker, 5}, {"dele_ok", netxDeleOK, 23}, {"quit_ok", netxQuitOK, 93},
	} {
		if len(tt.data) != tt.size {
			t.Errorf("len(%s) = %d, want %d as in the NetX test", tt.name, len(tt.data), tt.size)
		}
	}
}

// netxMail is one RETR cycle of the NetX scripts: the server sends the RETR
// reply and the three data packets, pacing each data packet until the client
// has returned the previous one from MailItemMessageGet, so each arrives as
// its own segment as on NetX's RAM driver.
type netxMail struct {
	data  []string // data packets
	paced chan struct{}
}

func runNetXScenario(t *testing.T, stat string, mails []netxMail) (c *pop3c.Client) {
	boardtest.CheckGoroutines(t)
	client, server := boardtest.Pair(t, boardtest.Options{Debug: true})
	scriptServer(t, server, 110, func(s *scriptConn) {
		s.send(netxGreeting)
		s.expect("USER " + netxName)
		s.send(netxUserOK)
		s.expect("PASS " + netxPassword)
		s.send(netxPasswordOK)
		s.expect("STAT")
		s.send(stat)
		for i, m := range mails {
			s.expect("RETR " + strconv.Itoa(i+1))
			s.send(netxRetrOK)
			for j, d := range m.data {
				if j > 0 {
					<-m.paced
				}
				s.send(d)
			}
			s.expect("DELE " + strconv.Itoa(i+1))
			s.send(netxDeleOK)
		}
		s.expect("QUIT")
		s.send(netxQuitOK)
	})
	c, err := pop3c.Create(context.Background(), pop3c.Options{AllowPlaintextAuth: true,
		Auth: pop3c.AuthUserPass, IP: client.IP, Pool: client.Pool, Server: server.Addr, Port: 110,
		Name: netxName, Password: netxPassword, Profile: pop3c.ProfileNetX,
	})
	mustOK(t, err, "Create()")
	return c
}

// TestNetXMailReceive ports netx_pop3_mail_receive_test.c: one mail in three
// packets, the last ending with the terminator; MailItemMessageGet returns
// them as NetX does, 82 bytes each, the terminator included.
func TestNetXMailReceive(t *testing.T) {
	ctx := context.Background()
	m := netxMail{data: []string{netxData1, netxData2, netxData3}, paced: make(chan struct{}, 3)}
	c := runNetXScenario(t, netxStatOK1, []netxMail{m})
	defer deleteClient(t, c)
	n, size, err := c.MailItemsGet(ctx)
	if err != nil || n != 1 || size != 187402 {
		t.Fatalf("MailItemsGet() = %d, %d, %v; want 1, 187402, nil", n, size, err)
	}
	itemSize, err := c.MailItemGet(ctx, 1)
	if err != nil || itemSize != 187402 {
		t.Fatalf("MailItemGet(1) = %d, %v; want 187402, nil", itemSize, err)
	}
	data, sizes, err := readRaw(t, c, func() { m.paced <- struct{}{} })
	mustOK(t, err, "MailItemMessageGet()")
	// nx_pop3_client_mail_item_message_get hands back each received packet
	// as it is (nxd_pop3_client.c 1553-1578): the last one with its
	// terminator, bytes_retrieved its length.
	if want := netxData1 + netxData2 + netxData3; string(data) != want {
		t.Errorf("packets = %q, want %q", data, want)
	}
	if got := sizes; len(got) != 3 || got[0] != 82 || got[1] != 82 || got[2] != 82 {
		t.Errorf("bytes_retrieved per packet = %v, want NetX's [82 82 82]", got)
	}
	mustOK(t, c.MailItemDelete(ctx, 1), "MailItemDelete(1)")
	mustOK(t, c.Quit(ctx), "Quit()")
}

// TestNetXTwoMailsReceived ports netx_pop3_two_mails_received_test.c.
func TestNetXTwoMailsReceived(t *testing.T) {
	ctx := context.Background()
	mails := []netxMail{
		{data: []string{netxData1, netxData2, netxData3}, paced: make(chan struct{}, 3)},
		{data: []string{netxData1, netxData2, netxData3}, paced: make(chan struct{}, 3)},
	}
	c := runNetXScenario(t, netxStatOK2, mails)
	defer deleteClient(t, c)
	n, _, err := c.MailItemsGet(ctx)
	if err != nil || n != 2 {
		t.Fatalf("MailItemsGet() = %d, %v; want 2, nil", n, err)
	}
	want := netxData1 + netxData2 + strings.TrimSuffix(netxData3, netxEndMarker)
	for i := 1; i <= n; i++ {
		_, err := c.MailItemGet(ctx, i)
		mustOK(t, err, "MailItemGet()")
		m := mails[i-1]
		data, _, err := readAll(t, c, func() { m.paced <- struct{}{} })
		mustOK(t, err, "MailItemMessageGet()")
		if string(data) != want {
			t.Errorf("message %d = %q, want %q", i, data, want)
		}
		mustOK(t, c.MailItemDelete(ctx, i), "MailItemDelete()")
	}
	mustOK(t, c.Quit(ctx), "Quit()")
}

// TestNetXPacketWithEndMarker ports netx_pop3_packet_with_endmarker_test.c:
// the second mail's last packet is exactly "\r\n.\r\n" and must come back as
// the final packet with 0 bytes.
func TestNetXPacketWithEndMarker(t *testing.T) {
	ctx := context.Background()
	mails := []netxMail{
		{data: []string{netxData1, netxData2, netxData3}, paced: make(chan struct{}, 3)},
		{data: []string{netxData1, netxData2, netxEndMarker}, paced: make(chan struct{}, 3)},
	}
	c := runNetXScenario(t, netxStatOK2, mails)
	defer deleteClient(t, c)
	n, _, err := c.MailItemsGet(ctx)
	if err != nil || n != 2 {
		t.Fatalf("MailItemsGet() = %d, %v; want 2, nil", n, err)
	}
	for i := 1; i <= n; i++ {
		_, err := c.MailItemGet(ctx, i)
		mustOK(t, err, "MailItemGet()")
		m := mails[i-1]
		data, sizes, err := readAll(t, c, func() { m.paced <- struct{}{} })
		mustOK(t, err, "MailItemMessageGet()")
		if i == 2 {
			if len(sizes) != 3 || sizes[2] != 0 {
				t.Errorf("mail 2 bytes_retrieved per packet = %v, want the final one 0", sizes)
			}
			if want := netxData1 + netxData2; string(data) != want {
				t.Errorf("mail 2 = %q, want %q", data, want)
			}
		}
		mustOK(t, c.MailItemDelete(ctx, i), "MailItemDelete()")
	}
	mustOK(t, c.Quit(ctx), "Quit()")
}

// TestNetXAbnormalPacket ports netx_pop3_abnormal_packet_test.c: a reply of
// one byte, "\n", must not make the parser misbehave. Here it arrives as the
// greeting and as the STAT reply; both give NX_POP3_SERVER_ERROR_STATUS (a
// *ProtocolError), nothing leaks (the boards' cleanups check the pools).
func TestNetXAbnormalPacket(t *testing.T) {
	t.Run("greeting", func(t *testing.T) {
		boardtest.CheckGoroutines(t)
		client, server := boardtest.Pair(t, boardtest.Options{Debug: true})
		scriptServer(t, server, 110, func(s *scriptConn) { s.send("\n") })
		c, err := pop3c.Create(context.Background(), pop3c.Options{AllowPlaintextAuth: true,
			IP: client.IP, Server: server.Addr, Port: 110, Name: netxName, Password: netxPassword, Profile: pop3c.ProfileNetX,
		})
		var pe *pop3c.ProtocolError
		if c == nil || !errors.Is(err, pop3c.ErrServerErrorStatus) || !errors.As(err, &pe) {
			t.Fatalf("Create() with greeting %q = %v, %v; want the client NetX leaves, *ProtocolError NX_POP3_SERVER_ERROR_STATUS", "\n", c, err)
		}
		deleteClient(t, c) // ProfileNetX: the caller's Delete, as after a failed nxd_pop3_client_create
	})
	t.Run("STAT reply", func(t *testing.T) {
		boardtest.CheckGoroutines(t)
		client, server := boardtest.Pair(t, boardtest.Options{Debug: true})
		scriptServer(t, server, 110, func(s *scriptConn) {
			s.send(netxGreeting)
			s.expect("USER " + netxName)
			s.send(netxUserOK)
			s.expect("PASS " + netxPassword)
			s.send(netxPasswordOK)
			s.expect("STAT")
			s.send("\n")
		})
		c, err := pop3c.Create(context.Background(), pop3c.Options{AllowPlaintextAuth: true,
			IP: client.IP, Server: server.Addr, Port: 110, Name: netxName, Password: netxPassword, Profile: pop3c.ProfileNetX,
		})
		mustOK(t, err, "Create()")
		defer deleteClient(t, c)
		if n, _, err := c.MailItemsGet(context.Background()); n != 0 || !errors.Is(err, pop3c.ErrServerErrorStatus) {
			t.Errorf("MailItemsGet() on %q = %d, %v; want 0, NX_POP3_SERVER_ERROR_STATUS", "\n", n, err)
		}
	})
}
