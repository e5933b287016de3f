package smtpc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/sim"
)

// seededRun is what one simulated STARTTLS mail produced.
type seededRun struct {
	stored     []byte // the message as the mail host stored it
	transcript string // the mail host's transcript (APOP banner included)
	greeting   string // the POP3 greeting pop3c saw
	cert       []byte // the mail host's certificate (DER)
	simulated  time.Duration
}

// virtualEpoch is the simulated start: years before the wall clock, so the
// certificate made at simulated time (valid for a year) is only valid if
// the clients check it against the board's clock, as firmware does.
var virtualEpoch = time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)

// runSeeded sends one mail over STARTTLS and logs in over STLS with APOP,
// all inside a sim.Sim with the given seed, every random choice from the
// Sim's named streams, as the CLI wires them: the mail host's certificate
// (sim.Rand("cert"), valid from the simulated epoch), the mail host
// ("mailhost-app"), the SMTP and POP3 clients ("smtpc", "pop3c").
func runSeeded(t *testing.T, seed int64) seededRun {
	t.Helper()
	var out seededRun
	sm := sim.New(sim.Options{Seed: seed, Limit: 10 * time.Minute, Epoch: virtualEpoch})
	err := sm.Run(context.Background(), func(ctx context.Context) error {
		clk := sm.Clock()
		lab, end := boardtest.NewLabFunc(t, boardtest.LabOptions{Clock: clk})
		defer end()
		cert, roots, err := mailhost.SelfSignedWith(mailhost.CertOptions{
			Hosts: []string{"mail.board.test", "198.51.100.1"}, Rand: sm.Rand("cert"), Now: clk.Now()})
		if err != nil {
			return err
		}
		out.cert = cert.Certificate[0]
		var tr bytes.Buffer
		mail := lab.MailHost(mailhost.Options{Domain: "board.test", Users: map[string]string{"alice": "alice-secret"},
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Rand: sm.Rand("mailhost-app"), Transcript: &tr},
			boardtest.Options{Rand: sm.Rand("mailhost")})
		// 20 ms each way on the device's port: the dialogue takes
		// simulated time, so Date and the APOP clock move.
		dev := lab.Board("device", boardtest.Options{Count: 64, RxCount: 64, Rand: sm.Rand("board"),
			Port: driver.PortOptions{Delay: 20 * time.Millisecond}})
		tlsCfg := &tls.Config{RootCAs: roots, ServerName: "mail.board.test"}
		s, err := smtpc.Create(smtpc.Options{IP: dev.IP, Pool: dev.Pool, Username: "alice", Password: "alice-secret",
			From: "device@board.test", ServerAddr: mail.SMTP().Addr(), Port: mail.SMTP().Port(),
			TLS: smtpc.TLSRequired, TLSConfig: tlsCfg, Rand: sm.Rand("smtpc")})
		if err != nil {
			return err
		}
		res, err := s.MailSend(ctx, "alice@board.test", smtpc.PriorityNormal, "seeded", []byte("the same mail every run\n"))
		if derr := s.Delete(); err == nil {
			err = derr
		}
		if err != nil {
			return fmt.Errorf("MailSend: %w", err)
		}
		if !res.TLS {
			return fmt.Errorf("MailSend result TLS = false, want a STARTTLS session")
		}
		msgs := mail.Host.Store().Messages("alice")
		if len(msgs) != 1 {
			return fmt.Errorf("%d messages stored, want 1", len(msgs))
		}
		out.stored = msgs[0].Data
		p, err := pop3c.Create(ctx, pop3c.Options{IP: dev.IP, Pool: dev.Pool, Server: mail.POP3().Addr(), Port: mail.POP3().Port(),
			Name: "alice", Password: "alice-secret", Auth: pop3c.AuthAPOP, TLS: pop3c.TLSRequired, TLSConfig: tlsCfg,
			Rand: sm.Rand("pop3c")})
		if err != nil {
			return fmt.Errorf("pop3c.Create: %w", err)
		}
		out.greeting = p.Greeting()
		if n, _, err := p.MailItemsGet(ctx); err != nil || n != 1 {
			_ = p.Delete(ctx)
			return fmt.Errorf("MailItemsGet = %d, %v, want 1 message", n, err)
		}
		if err := p.Delete(ctx); err != nil {
			return fmt.Errorf("pop3c Delete: %w", err)
		}
		_ = mail.Host.Close() // the transcript is complete once the sessions are joined
		out.transcript = tr.String()
		return nil
	})
	if err != nil {
		t.Fatalf("seed %d: simulation: %v", seed, err)
	}
	out.simulated = sm.Stats().Simulated
	return out
}

var (
	messageIDLine = regexp.MustCompile(`(?m)^Message-ID: <[0-9a-f]{24}\.20200601[0-9]{6}@board\.test>\r$`)
	apopBanner    = regexp.MustCompile(`<[0-9]+\.[0-9]+@board\.test>`)
)

// TestVirtualSeededSTARTTLSMail: under a sim.Sim a mail goes over STARTTLS
// and is fetched over STLS with APOP; with the same seed twice the stored
// mail (Date and Message-ID included), the APOP banner, the host's whole
// transcript and the certificate are byte for byte the same; another seed
// gives another Message-ID, banner and certificate. The certificate is made
// at the simulated epoch (2020) and verified at simulated time.
func TestVirtualSeededSTARTTLSMail(t *testing.T) {
	a, b, c := runSeeded(t, 7), runSeeded(t, 7), runSeeded(t, 8)
	if !messageIDLine.Match(a.stored) || !strings.Contains(string(a.stored), "Date: Mon, 01 Jun 2020 00:00:") {
		t.Fatalf("stored mail has no Message-ID/Date from the simulated clock:\n%s", a.stored)
	}
	banner := apopBanner.FindString(a.greeting)
	if banner == "" || !strings.Contains(a.transcript, banner) {
		t.Fatalf("POP3 greeting %q: want an APOP timestamp, also in the host's transcript", a.greeting)
	}
	if !bytes.Equal(a.stored, b.stored) {
		t.Fatalf("seed 7 twice stored different mails:\n%s\n---\n%s", a.stored, b.stored)
	}
	if a.simulated == 0 || a.simulated != b.simulated {
		t.Fatalf("seed 7 twice simulated %v and %v, want the same non-zero time", a.simulated, b.simulated)
	}
	if a.greeting != b.greeting || a.transcript != b.transcript {
		t.Fatalf("seed 7 twice: greetings %q / %q, transcripts equal: %v", a.greeting, b.greeting, a.transcript == b.transcript)
	}
	if !bytes.Equal(a.cert, b.cert) {
		t.Fatalf("seed 7 twice made different certificates")
	}
	if messageIDLine.Find(a.stored) == nil || string(messageIDLine.Find(a.stored)) == string(messageIDLine.Find(c.stored)) {
		t.Fatalf("seeds 7 and 8 gave the same Message-ID %q", messageIDLine.Find(a.stored))
	}
	if apopBanner.FindString(c.greeting) == banner || bytes.Equal(a.cert, c.cert) {
		t.Fatalf("seeds 7 and 8: banners %q / %q, certificates equal %v", banner, c.greeting, bytes.Equal(a.cert, c.cert))
	}
	t.Logf("seed 7: %s; simulated %v", banner, a.simulated)
}
