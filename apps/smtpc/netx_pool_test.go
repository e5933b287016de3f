package smtpc

import (
	"context"
	"testing"
	"time"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/packetpool"
)

// netxPacketsFor is the number of pool packets nx_packet_allocate +
// nx_packet_data_append use for n octets: the first packet holds its payload
// minus the header room of NX_IPv4_TCP_PACKET, every chained one its whole
// payload.
func netxPacketsFor(n, payload, headerRoom int) int {
	first := payload - headerRoom
	if n <= first {
		return 1
	}
	return 1 + (n-first+payload-1)/payload
}

// TestNetXPoolPeak64KiB: the pool peak of a 64 KiB mail in ProfileNetX equals
// the count derived from NetX's packetization (nxd_smtp_client.c 2744–2844):
// the header in one send, the body in chunks of payload − 40 octets (each
// chunk a 2-packet chain, because the packet reserves 56 octets of header
// room), then "\r\n.\r\n" in one send. Nothing is acknowledged while the
// message goes out (the server's frames are delayed from the DATA reply on,
// and the transmit queue and send buffer are large enough), so every packet
// of the message is held at once: the worst case a NetX pool must cover.
func TestNetXPoolPeak64KiB(t *testing.T) {
	const payload, count, bodySize = 1536, 128, 64 << 10
	boardtest.CheckGoroutines(t)
	w := boardtest.NewWire(t, 1)
	srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{TCP: netstack.TCPOptions{DefaultWindow: 256 << 10}})
	cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{PayloadSize: payload, Count: count,
		TCP: netstack.TCPOptions{MaxTxQueue: 128, SendBufferSize: 256 << 10}})
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = "The quick brown fox jumps over the lazy dog.\r\n"[i%46]
	}
	script := []scriptStep{{send: []string{"220 mx\r\n"}},
		{want: "EHLO", send: []string{"250 mx\r\n"}},
		{want: "MAIL FROM", send: []string{"250 ok\r\n"}},
		{want: "RCPT TO", send: []string{"250 ok\r\n"}},
		{want: "DATA", send: []string{"354 go\r\n"}},
		{data: true, send: []string{"250 queued\r\n"}},
		{want: "QUIT", send: []string{"221 bye\r\n"}, act: actClose}}
	// From the 354 on, the server's frames (its ACKs) are delayed, so no
	// acknowledgement reaches the client before the whole message is
	// queued; once the peak is reached the delay is lifted, as it only
	// costs time (retransmissions) from then on.
	lifted := make(chan struct{})
	delayed := map[int]func(){4: func() {
		if err := srv.Port.SetImpairments(driver.Impairments{Delay: 2 * time.Second}); err != nil {
			t.Error(err)
		}
		go func() {
			defer close(lifted)
			for end := testClock().Now().Add(10 * time.Second); testClock().Now().Before(end); testSleep(2 * time.Millisecond) {
				if in := cli.Pool.Info(); in.Total-in.LowWater >= 89 {
					break
				}
			}
			_ = srv.Port.SetImpairments(driver.Impairments{})
		}()
	}}
	done := serveScriptHook(t, srv, script, delayed)
	c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, From: netxFrom, ClientDomain: "domain.com",
		Auth: AuthNone, ServerAddr: srv.Addr, Profile: ProfileNetX})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	subject := "64 KiB"
	if _, err := c.MailSend(context.Background(), netxRecipient, PriorityNormal, subject, body); err != nil {
		t.Fatalf("MailSend() = %v", err)
	}
	if r := waitScript(t, done); r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	<-lifted

	// The derivation, from the C source.
	header := len("To: "+netxRecipient+"\r\nFrom: "+netxFrom+"\r\nSubject: "+subject+"\r\n") +
		len("MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n  charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	chunk := payload - 20 - 20 // sizeof(NX_TCP_HEADER) + sizeof(NX_IPV4_HEADER), C 2768
	room := packetpool.IPv4TCPPacket
	want := netxPacketsFor(header, payload, room) // _nx_smtp_utility_send_header_to_server
	full, rest := bodySize/chunk, bodySize%chunk
	want += full * netxPacketsFor(chunk, payload, room) // 43 chunks of 1496 octets: 2 packets each
	if rest > 0 {
		want += netxPacketsFor(rest, payload, room) // 1208 octets: 1 packet
	}
	want += netxPacketsFor(len(netxEOM), payload, room) // NX_SMTP_EOM
	if netxPacketsFor(chunk, payload, room) != 2 || want != 1+43*2+1+1 {
		t.Fatalf("derivation: %d packets per chunk, %d in all; NetX's is 2 and 89", netxPacketsFor(chunk, payload, room), want)
	}
	info := cli.Pool.Info()
	if peak := info.Total - info.LowWater; peak != want {
		t.Errorf("pool peak = %d packets, want %d (header 1 + %d chunks x 2 + remainder 1 + EOM 1)", peak, want, full)
	}
}
