// Command pop3 is NetX Duo's small POP3 client demo
// (samples/demo_netxduo_pop3_client.c, the "Small Example" of the NetX Duo
// POP3 Client User Guide) ported to Go call for call: each NetX call is
// named in a comment beside its Go line. The demo's RAM driver has no
// server behind it; here the board is on a Wire with simboard's mail host
// (APOP on) on a second board holding two mails, set up in lab() (not part
// of the NetX demo).
//
// Addresses: the demo's IP_ADDRESS(192,2,2,61) and (192,2,2,89) become
// 198.51.100.61 and 198.51.100.89.
package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
)

// The demo's #defines.
const (
	SERVER_PORT        = 110
	PAYLOAD_SIZE       = 1460
	LOCALHOST          = "recipient@domain.com"
	LOCALHOST_PASSWORD = "testpwd"
)

var (
	CLIENT_ADDRESS = netip.MustParsePrefix("198.51.100.61/24") // IP_ADDRESS(192,2,2,61), 0xFFFFFF00UL
	SERVER_ADDRESS = netip.MustParseAddr("198.51.100.89")      // IP_ADDRESS(192,2,2,89)
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pop3 demo:", err)
		os.Exit(1)
	}
}

// run is tx_application_define followed by demo_thread_entry.
func run(out io.Writer) error {
	wire, host, stop, err := lab()
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()

	// tx_application_define:
	// nx_packet_pool_create(&client_packet_pool, "POP3 Client Packet Pool", PAYLOAD_SIZE, free_memory_pointer, (PAYLOAD_SIZE * 10));
	// nx_ip_create(&client_ip, "POP3 Client IP Instance", CLIENT_ADDRESS, 0xFFFFFF00UL,
	//     &client_packet_pool, _nx_ram_network_driver, ...);
	// nx_arp_enable, nx_tcp_enable, nx_icmp_enable: always on in simboard.
	client, err := board.New(board.Options{Name: "client", Wire: wire, Addr: CLIENT_ADDRESS,
		Pool: board.PoolOptions{PayloadSize: PAYLOAD_SIZE, MemorySize: PAYLOAD_SIZE * 10}})
	if err != nil {
		return err
	}
	defer client.Close()

	// demo_thread_entry:
	time.Sleep(time.Second) // tx_thread_sleep(NX_IP_PERIODIC_RATE);
	// nx_pop3_client_create(&demo_client, NX_TRUE /* APOP */, &client_ip, &client_packet_pool,
	//     SERVER_ADDRESS, SERVER_PORT, LOCALHOST, LOCALHOST_PASSWORD);
	demoClient, err := pop3c.Create(ctx, pop3c.Options{Auth: pop3c.AuthAPOP, IP: client.IP, Pool: client.Pool,
		Server: SERVER_ADDRESS, Port: SERVER_PORT, Name: LOCALHOST, Password: LOCALHOST_PASSWORD,
		Profile: pop3c.ProfileNetX, AllowPlaintextAuth: true})
	if err != nil {
		if demoClient != nil {
			demoClient.Delete(ctx) // nx_pop3_client_delete(&demo_client);
		}
		return err
	}
	// nx_pop3_client_mail_items_get(&demo_client, &number_mail_items, &total_size);
	numberMailItems, totalSize, err := demoClient.MailItemsGet(ctx)
	if err != nil {
		demoClient.Delete(ctx)
		return err
	}
	fmt.Fprintf(out, "Got %d mail items, total size%d \n", numberMailItems, totalSize)
	if numberMailItems == 0 {
		return demoClient.Delete(ctx) // nx_pop3_client_delete(&demo_client);
	}
	bytesDownloaded := 0
	for mailItem := 1; mailItem <= numberMailItems; mailItem++ {
		// nx_pop3_client_mail_item_get(&demo_client, mail_item, &mail_item_size);
		if _, err := demoClient.MailItemGet(ctx, mailItem); err != nil {
			break
		}
		for final := false; !final; {
			// nx_pop3_client_mail_item_message_get(&demo_client, &packet_ptr, &bytes_retrieved, &final_packet);
			pkt, bytesRetrieved, fin, err := demoClient.MailItemMessageGet(ctx)
			if err != nil {
				break
			}
			final = fin
			if bytesRetrieved != 0 {
				fmt.Fprintf(out, "Received %d bytes of data for item %d: %q\n", pkt.Length(), mailItem, pkt.Bytes()) // nx_packet_length, nx_packet_prepend_ptr
			}
			pkt.Release() // nx_packet_release(packet_ptr);
			if final {
				// nx_pop3_client_mail_item_delete(&demo_client, mail_item);
				if err := demoClient.MailItemDelete(ctx, mailItem); err != nil {
					break
				}
			}
			bytesDownloaded += bytesRetrieved
		}
		time.Sleep(time.Second) // tx_thread_sleep(NX_IP_PERIODIC_RATE);
	}
	// nx_pop3_client_quit(&demo_client);
	if err := demoClient.Quit(ctx); err != nil {
		fmt.Fprintln(out, "quit:", err)
	}
	// nx_pop3_client_delete(&demo_client);
	if err := demoClient.Delete(ctx); err != nil {
		fmt.Fprintln(out, "delete:", err)
	}
	fmt.Fprintf(out, "bytes downloaded: %d, left on the server: %d\n", bytesDownloaded, len(host.Store().Messages(LOCALHOST)))
	return nil
}

// lab is the part the NetX demo leaves to a real network: a Wire and the
// mail host on a board at SERVER_ADDRESS holding two mails for LOCALHOST.
func lab() (*driver.Wire, *mailhost.Host, func(), error) {
	wire, err := driver.NewWire(driver.WireOptions{Seed: 1})
	if err != nil {
		return nil, nil, nil, err
	}
	host, err := mailhost.New(mailhost.Options{Domain: "domain.com", Users: map[string]string{LOCALHOST: LOCALHOST_PASSWORD}, AllowInsecureAuth: true})
	if err != nil {
		wire.Close()
		return nil, nil, nil, err
	}
	for i, body := range []string{"first mail\r\n", "second mail\r\n.with a dot\r\n"} {
		msg := fmt.Sprintf("From: sender@domain.com\r\nSubject: demo %d\r\n\r\n%s", i+1, body)
		if err := host.Store().Deliver("sender@domain.com", []string{LOCALHOST}, []byte(msg)); err != nil {
			host.Close()
			wire.Close()
			return nil, nil, nil, err
		}
	}
	server, err := board.New(board.Options{Name: "server", Wire: wire, Addr: netip.PrefixFrom(SERVER_ADDRESS, 24)})
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
	go func() { _ = host.ServePOP3(l); close(done) }()
	return wire, host, func() { host.Close(); <-done; server.Close(); wire.Close() }, nil
}
