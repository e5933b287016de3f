// Command smtp is NetX Duo's small SMTP client demo
// (samples/demo_netxduo_smtp_client.c, the "Small Example" of the NetX Duo
// SMTP Client User Guide) ported to Go call for call: each NetX call is
// named in a comment beside its Go line. The demo's RAM driver has no
// server behind it; here the board is on a Wire with simboard's mail host
// on a second board, set up in lab() (not part of the NetX demo).
//
// Addresses: the demo's IP_ADDRESS(1,2,3,5) and (1,2,3,4) become
// 198.51.100.5 and 198.51.100.4 (a documentation prefix).
package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/packetpool"
)

// The demo's #defines.
const (
	USERNAME                   = "myusername"
	PASSWORD                   = "mypassword"
	FROM_ADDRESS               = "my@mycompany.com"
	RECIPIENT_ADDRESS          = "your@yourcompany.com"
	LOCAL_DOMAIN               = "mycompany.com"
	SUBJECT_LINE               = "NetX SMTP Client Demo"
	MAIL_BODY                  = "NetX SMTP client is a simple SMTP client implementation  \r\n" + "that allow embedded devices to send email to an SMTP server. \r\n" + "This feature is intended to allow a device to send simple status\r\n " + "reports using the most universal Internet application, email.\r\n"
	CLIENT_AUTHENTICATION_TYPE = smtpc.AuthPlain // NX_SMTP_CLIENT_AUTH_PLAIN
	SERVER_PORT                = 25
)

var (
	CLIENT_IP_ADDRESS = netip.MustParsePrefix("198.51.100.5/24") // IP_ADDRESS(1,2,3,5), 0xFFFFFF00UL
	SERVER_IP_ADDRESS = netip.MustParseAddr("198.51.100.4")      // IP_ADDRESS(1,2,3,4)
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "smtp demo:", err)
		os.Exit(1)
	}
}

// run is tx_application_define followed by demo_client_thread_entry.
func run(out io.Writer) error {
	wire, host, stop, err := lab()
	if err != nil {
		return err
	}
	defer stop()

	// tx_application_define:
	// nx_packet_pool_create(&ip_packet_pool, "Default IP Packet Pool", 512, free_memory_pointer, 2048);
	// nx_ip_create(&client_ip, "SMTP Client IP Instance", CLIENT_IP_ADDRESS, 0xFFFFFF00UL,
	//     &ip_packet_pool, _nx_ram_network_driver, ...);
	// nx_arp_enable, nx_tcp_enable, nx_icmp_enable: always on in simboard.
	client, err := board.New(board.Options{Name: "client", Wire: wire, Addr: CLIENT_IP_ADDRESS,
		Pool: board.PoolOptions{PayloadSize: 512, MemorySize: 2048}})
	if err != nil {
		return err
	}
	// nx_packet_pool_create(&client_packet_pool, "SMTP Client Packet Pool", 800, free_memory_pointer, (10*800));
	clientPool, err := packetpool.New(packetpool.Options{Name: "SMTP Client Packet Pool", PayloadSize: 800, MemorySize: 10 * 800})
	if err != nil {
		client.Close()
		return err
	}
	fmt.Fprintf(out, "default pool: %d packets of 512; client pool: %d packets of 800\n", client.Pool.Info().Total, clientPool.Info().Total)

	// demo_client_thread_entry:
	time.Sleep(time.Second) // tx_thread_sleep(NX_IP_PERIODIC_RATE);
	errorCounter := 0
	// nxd_smtp_client_create(&demo_client, &client_ip, &client_packet_pool, USERNAME, PASSWORD,
	//     FROM_ADDRESS, LOCAL_DOMAIN, CLIENT_AUTHENTICATION_TYPE, &server_ip_address, SERVER_PORT);
	demoClient, err := smtpc.Create(smtpc.Options{IP: client.IP, Pool: clientPool,
		Username: USERNAME, Password: PASSWORD, From: FROM_ADDRESS, ClientDomain: LOCAL_DOMAIN,
		Auth: CLIENT_AUTHENTICATION_TYPE, ServerAddr: SERVER_IP_ADDRESS, Port: SERVER_PORT,
		Profile: smtpc.ProfileNetX, AllowPlaintextAuth: true})
	if err != nil {
		client.Close()
		return fmt.Errorf("error creating the client. Status: 0x%x: %w", smtpc.NetXStatus(err), err)
	}
	// nx_smtp_mail_send(&demo_client, RECIPIENT_ADDRESS, NX_SMTP_MAIL_PRIORITY_NORMAL,
	//     SUBJECT_LINE, MAIL_BODY, sizeof(MAIL_BODY) - 1);
	_, err = demoClient.MailSend(context.Background(), RECIPIENT_ADDRESS, smtpc.PriorityNormal, SUBJECT_LINE, []byte(MAIL_BODY))
	fmt.Fprintf(out, "nx_smtp_mail_send: status 0x%02x\n", smtpc.NetXStatus(err))
	if err != nil {
		errorCounter++
	}
	// nx_smtp_client_delete(&demo_client);
	if err := demoClient.Delete(); err != nil {
		errorCounter++
	}
	fmt.Fprintf(out, "error_counter: %d\n", errorCounter)

	// What the server got (the lab, not the demo).
	for _, m := range host.Store().Messages("your") {
		// NetX writes MAIL_BODY, then "\r\n.\r\n": a body that already
		// ends in CRLF arrives with one empty line more.
		_, body, _ := strings.Cut(string(m.Data), "\r\n\r\n")
		fmt.Fprintf(out, "mailbox your: %d bytes, body intact: %v\n", m.Size(), body == MAIL_BODY+"\r\n")
	}
	// nx_packet_pool_delete would refuse a pool with packets outstanding.
	if in := clientPool.Info(); in.Free != in.Total || in.InvalidReleases != 0 {
		errorCounter++
		fmt.Fprintf(out, "client pool not balanced: %+v\n", in)
	}
	if err := client.Close(); err != nil {
		return err
	}
	if errorCounter != 0 {
		return fmt.Errorf("error_counter %d", errorCounter)
	}
	return nil
}

// lab is the part the NetX demo leaves to a real network: a Wire and the
// mail host on a board at SERVER_IP_ADDRESS with the demo's user.
func lab() (*driver.Wire, *mailhost.Host, func(), error) {
	wire, err := driver.NewWire(driver.WireOptions{Seed: 1})
	if err != nil {
		return nil, nil, nil, err
	}
	host, err := mailhost.New(mailhost.Options{Domain: "yourcompany.com", Users: map[string]string{"your": "x", USERNAME: PASSWORD},
		AllowInsecureAuth: true, CatchAll: ""})
	if err != nil {
		wire.Close()
		return nil, nil, nil, err
	}
	server, err := board.New(board.Options{Name: "server", Wire: wire, Addr: netip.PrefixFrom(SERVER_IP_ADDRESS, 24)})
	if err != nil {
		host.Close()
		wire.Close()
		return nil, nil, nil, err
	}
	l, err := server.IP.ListenTCP(SERVER_PORT)
	if err != nil {
		host.Close()
		server.Close()
		wire.Close()
		return nil, nil, nil, err
	}
	done := make(chan struct{})
	go func() { _ = host.ServeSMTP(l); close(done) }()
	return wire, host, func() { host.Close(); <-done; server.Close(); wire.Close() }, nil
}
