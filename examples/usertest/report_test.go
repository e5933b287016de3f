package usertest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
)

// sendReport is the "firmware" under test: it mails one sensor report
// with the board's SMTP client, as nx_smtp_mail_send would.
func sendReport(ctx context.Context, b *boardtest.Board, server *boardtest.MailPeer, reading string) error {
	c, err := smtpc.Create(smtpc.Options{IP: b.IP, Pool: b.Pool, Username: "ops", Password: "s3cret",
		From: "sensor@board.test", ServerAddr: server.SMTP().Addr(), Port: server.SMTP().Port(),
		Auth: smtpc.AuthLogin, TLS: smtpc.TLSOff, AllowPlaintextAuth: true})
	if err != nil {
		return err
	}
	defer c.Delete()
	_, err = c.MailSend(ctx, "ops@mailhost.test", smtpc.PriorityNormal, "report", []byte("reading "+reading+"\n"))
	return err
}

// TestSensorReport: the report reaches the mail host and comes back
// byte-exact through POP3, with the SMTP client's status and the pools
// checked by the Lab.
func TestSensorReport(t *testing.T) {
	lab := boardtest.NewLab(t, boardtest.LabOptions{})
	mail := lab.MailHost(mailhost.Options{Users: map[string]string{"ops": "s3cret"}, AllowInsecureAuth: true}, boardtest.Options{})
	sensor := lab.Board("sensor", boardtest.Options{PayloadSize: board.DefaultPayloadSize, Count: 32, RxCount: 32})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sendReport(ctx, sensor, mail, "21.5 C"); err != nil {
		t.Fatalf("sendReport: %v", err)
	}
	env := mail.Host.Store().Received()
	if len(env) != 1 || env[0].AuthMech != mailhost.MechLogin {
		t.Fatalf("received %+v, want one mail sent with AUTH LOGIN", env)
	}

	p, err := pop3c.Create(ctx, pop3c.Options{IP: sensor.IP, Server: mail.POP3().Addr(), Port: mail.POP3().Port(),
		Name: "ops", Password: "s3cret", AllowPlaintextAuth: true})
	if err != nil {
		t.Fatalf("pop3c.Create: %v", err)
	}
	defer p.Delete(ctx)
	var got bytes.Buffer
	if _, err := p.RetrTo(ctx, 1, &got); err != nil {
		t.Fatalf("RetrTo: %v", err)
	}
	if !bytes.Equal(got.Bytes(), env[0].Data) {
		t.Fatalf("fetched %q, stored %q", got.Bytes(), env[0].Data)
	}
	if !bytes.HasSuffix(got.Bytes(), []byte("\r\n\r\nreading 21.5 C\r\n")) {
		t.Fatalf("body %q", got.Bytes())
	}
	if err := p.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}
