package smtpc

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simboard/simboard/boardtest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// With 128-byte packets every reply arrives as a chain of several packets
// (NetX rejects those with NX_SMTP_SERVER_ERROR_REPLY) and every command and
// message chunk is a chain too.
func TestChainedPackets(t *testing.T) {
	t.Run("NetX basic scenario", func(t *testing.T) {
		boardtest.CheckGoroutines(t)
		w := boardtest.NewWire(t, 3)
		srv := boardtest.NewBoard(t, w, "server", 1, boardtest.Options{})
		cli := boardtest.NewBoard(t, w, "client", 2, boardtest.Options{PayloadSize: 128, Count: 512, Debug: true})
		script := steps([]scriptStep{{send: []string{netxGreeting}}, {want: "EHLO domain.com", send: []string{netxEHLO}},
			{want: "AUTH PLAIN", send: []string{netx334}}, {want: "AHJlY2lwaWVudEBkb21haW4uY29tAHRlc3Rwd2Q=", send: []string{netx235}}}, envelopeSteps())
		done := serveScript(t, srv, script)
		c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, Username: netxFrom, Password: "testpwd", From: netxFrom,
			ClientDomain: "domain.com", Auth: AuthPlain, ServerAddr: srv.Addr, AllowPlaintextAuth: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Delete()
		res, err := c.MailSend(context.Background(), netxRecipient, PriorityNormal, netxSubject, []byte(netxBody))
		got := waitScript(t, done)
		if err != nil || !res.Accepted || got.err != nil {
			t.Fatalf("MailSend() over 128-byte packets = %+v, %v (server %v)", res, err, got.err)
		}
		if body := string(unstuff(got.data)); !strings.HasSuffix(body, "\r\n\r\n"+netxBody+"\r\n") {
			t.Errorf("server got %q", tail(body, 80))
		}
		boardtest.CheckBalanced(t, cli.Pool, cli.RxPool)
	})
	t.Run("mail host, 200 KB", func(t *testing.T) {
		e := newHostEnv(t, envOptions{cli: boardtest.Options{PayloadSize: 128, Count: 2048}})
		o := e.options()
		body := bigBody(200_000, 9)
		msg := &Message{To: []string{"bob@example.com"}, Subject: "chains", Body: bytes.NewReader(body), Date: testDate, MessageID: "c@example.com"}
		if _, err := e.client(t, o).Send(context.Background(), msg); err != nil {
			t.Fatalf("Send() over 128-byte packets = %v", err)
		}
		if env := lastReceived(t, e.host); !bytes.Equal(env.Data, expected(t, o, msg, body)) {
			t.Errorf("stored message differs: %s", diffAt(env.Data, expected(t, o, msg, body)))
		}
		boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
	})
}

// TestGoldenTranscript compares the client's transcript of NetX's AUTH LOGIN
// session (the canned replies of smtp_server_packets.c, so the server side
// never changes) with testdata/*.golden: EHLO over two packets, credentials
// redacted, the envelope, the message summary, QUIT. Run with -update to
// rewrite them.
func TestGoldenTranscript(t *testing.T) {
	for _, profile := range []Profile{ProfileDefault, ProfileNetX} {
		name := map[Profile]string{ProfileDefault: "default", ProfileNetX: "netx"}[profile]
		t.Run(name, func(t *testing.T) {
			cli, srv := netxPair(t)
			done := serveScript(t, srv, steps([]scriptStep{{send: []string{netxGreeting}},
				{want: "EHLO domain.com", send: []string{netxEHLOFirst, netxEHLOLast}},
				{want: "AUTH LOGIN", send: []string{netx334User}}, {want: "cmVjaXBpZW50QGRvbWFpbi5jb20=", send: []string{netx334Pass}},
				{want: "dGVzdHB3ZA==", send: []string{netx235}}}, envelopeSteps()))
			var tr bytes.Buffer
			c, err := Create(Options{IP: cli.IP, Pool: cli.Pool, Username: netxFrom, Password: "testpwd", From: netxFrom,
				ClientDomain: "domain.com", Auth: AuthLogin, ServerAddr: srv.Addr, AllowPlaintextAuth: true, Profile: profile, Transcript: &tr})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Delete()
			_, err = c.Send(context.Background(), &Message{To: []string{netxRecipient}, Subject: netxSubject,
				Body: strings.NewReader(netxBody), Date: testDate, MessageID: "golden@domain.com"})
			if got := waitScript(t, done); err != nil || got.err != nil {
				t.Fatalf("Send() = %v (server %v)", err, got.err)
			}
			path := filepath.Join("testdata", "transcript_"+name+".golden")
			if *update {
				if err := os.WriteFile(path, tr.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(tr.Bytes(), want) {
				t.Errorf("transcript differs from %s:\n--- got\n%s--- want\n%s", path, tr.Bytes(), want)
			}
			if bytes.Contains(tr.Bytes(), []byte("dGVzdHB3ZA==")) || bytes.Contains(tr.Bytes(), []byte("testpwd")) {
				t.Errorf("transcript leaks the password")
			}
		})
	}
}
