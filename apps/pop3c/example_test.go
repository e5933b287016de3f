package pop3c_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
)

// Example fetches a mail between two boards on a virtual wire: the built-in
// mail host serves POP3 on the server board, the client board logs in
// (Create connects and logs in, as nxd_pop3_client_create does), reads the
// message packet by packet as NetX code would, deletes it and quits.
func Example() {
	w, err := driver.NewWire(driver.WireOptions{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	// Two boards: board.New creates each one's pools, its driver on a Wire
	// port and its IP instance (nx_packet_pool_create, nx_ip_create).
	server, err := board.New(board.Options{Name: "server", Wire: w, Addr: netip.MustParsePrefix("198.51.100.1/24")})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client, err := board.New(board.Options{Name: "client", Wire: w, Addr: netip.MustParsePrefix("198.51.100.2/24")})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	serverIP, clientIP := server.IP, client.IP

	host, err := mailhost.New(mailhost.Options{Users: map[string]string{"alice": "secret"}, AllowInsecureAuth: true})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	l, err := serverIP.ListenTCP(110)
	if err != nil {
		log.Fatal(err)
	}
	go host.ServePOP3(l)
	host.Store().Deliver("bob@example.test", []string{"alice"},
		[]byte("Subject: hello\r\n\r\n.dotted line\r\nbye\r\n"))

	ctx := context.Background()
	c, err := pop3c.Create(ctx, pop3c.Options{AllowPlaintextAuth: true,
		Auth:     pop3c.AuthAPOP, // the greeting has a timestamp: APOP with an MD5 digest
		IP:       clientIP,
		Server:   netip.MustParseAddr("198.51.100.1"),
		Port:     110,
		Name:     "alice",
		Password: "secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Delete(ctx)
	fmt.Println("login:", c.AuthMethod())

	count, total, err := c.MailItemsGet(ctx) // STAT
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mail items:", count, "octets:", total)
	if _, err := c.MailItemGet(ctx, 1); err != nil { // RETR 1
		log.Fatal(err)
	}
	var msg []byte
	for {
		pkt, _, final, err := c.MailItemMessageGet(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for b := range pkt.Buffers() {
			msg = append(msg, b...)
		}
		pkt.Release() // the caller owns every data packet, the final one too
		if final {
			break
		}
	}
	// The packets hold what NetX returns: the data as the server sent it,
	// dot-stuffed, the terminator included. RetrTo gives the clean message.
	fmt.Printf("message: %q\n", msg)
	if err := c.MailItemDelete(ctx, 1); err != nil { // DELE 1
		log.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("left on the server:", len(host.Store().Messages("alice")))
	// Output:
	// login: APOP
	// mail items: 1 octets: 37
	// message: "Subject: hello\r\n\r\n..dotted line\r\nbye\r\n.\r\n"
	// left on the server: 0
}
