package smtpc_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
)

// Example sends one mail from a board to the built-in mail host running on
// a second board, both on an in-memory wire, as nx_smtp_mail_send would.
func Example() {
	wire, _ := driver.NewWire(driver.WireOptions{Seed: 1})
	defer wire.Close()
	// Two boards (nx_packet_pool_create twice and nx_ip_create each), with
	// pools of 64 packets.
	pools := board.PoolOptions{Count: 64}
	server, err := board.New(board.Options{Name: "server", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.1/24"), Pool: pools, RxPool: pools})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	client, err := board.New(board.Options{Name: "client", Wire: wire, Addr: netip.MustParsePrefix("198.51.100.2/24"), Pool: pools, RxPool: pools})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	host, _ := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"}, AllowInsecureAuth: true})
	ln, _ := server.IP.ListenTCP(25)
	served := make(chan error, 1)
	go func() { served <- host.ServeSMTP(ln) }()

	// nxd_smtp_client_create(&client, &ip, &pool, "alice", "secret",
	//     "board@example.com", "board.example.com", NX_SMTP_CLIENT_AUTH_PLAIN, &server, 25)
	c, err := smtpc.Create(smtpc.Options{
		IP: client.IP, Pool: client.Pool,
		Username: "alice", Password: "secret", From: "board@example.com", ClientDomain: "board.example.com",
		Auth: smtpc.AuthPlain, ServerAddr: netip.MustParseAddr("198.51.100.1"), Port: 25,
		TLS: smtpc.TLSOff, AllowPlaintextAuth: true, // a lab wire without TLS, as on the MCU
	})
	if err != nil {
		fmt.Println("create:", err)
		return
	}
	// nx_smtp_mail_send(&client, "alice@example.com", NX_SMTP_MAIL_PRIORITY_HIGH, subject, body, len)
	res, err := c.MailSend(context.Background(), "alice@example.com", smtpc.PriorityHigh,
		"Temperature alarm", []byte("Sensor 3 reads 85 C.\n.shutdown scheduled\n"))
	fmt.Println("sent:", res.Accepted, "auth:", res.Auth, "err:", err)
	_ = c.Delete() // nx_smtp_client_delete

	msgs := host.Store().Messages("alice")
	data := string(msgs[0].Data)
	fmt.Printf("alice has %d message; body %q\n", len(msgs), data[strings.Index(data, "\r\n\r\n")+4:])
	fmt.Println("priority header:", strings.Contains(data, "X-Priority: 1 (Highest)\r\n"))

	_ = host.Close()
	<-served
	in := client.Pool.Info()
	fmt.Printf("client pool: %d of %d free, %d invalid releases\n", in.Free, in.Total, in.InvalidReleases)
	// Output:
	// sent: true auth: PLAIN err: <nil>
	// alice has 1 message; body "Sensor 3 reads 85 C.\r\n.shutdown scheduled\r\n"
	// priority header: true
	// client pool: 64 of 64 free, 0 invalid releases
}
