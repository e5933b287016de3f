package boardtest_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
	"github.com/simboard/simboard/sim"
)

// TestLabMailRoundTrip: a board sends a mail to the lab's mail host with
// smtpc and fetches it back with pop3c; the Lab checks pools and
// goroutines at cleanup.
func TestLabMailRoundTrip(t *testing.T) {
	lab := boardtest.NewLab(t, boardtest.LabOptions{})
	mail := lab.MailHost(mailhost.Options{Users: map[string]string{"alice": "secret"}, AllowInsecureAuth: true}, boardtest.Options{})
	dev := lab.Board("device", boardtest.Options{Count: 64, RxCount: 64})
	if dev.Addr.String() != "198.51.100.2" || mail.Addr.String() != "198.51.100.1" {
		t.Fatalf("addresses: device %v, mail %v", dev.Addr, mail.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := smtpc.Create(smtpc.Options{IP: dev.IP, Pool: dev.Pool, Username: "alice", Password: "secret",
		From: "device@board.test", ServerAddr: mail.SMTP().Addr(), Port: mail.SMTP().Port(),
		Auth: smtpc.AuthPlain, TLS: smtpc.TLSOff, AllowPlaintextAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("reading 42\n.dot line\n")
	res, err := s.MailSend(ctx, "alice@mailhost.test", smtpc.PriorityNormal, "lab", body)
	if err != nil || !res.Accepted {
		t.Fatalf("MailSend: %+v %v", res, err)
	}
	if err := s.Delete(); err != nil {
		t.Fatal(err)
	}

	p, err := pop3c.Create(ctx, pop3c.Options{IP: dev.IP, Server: mail.POP3().Addr(), Port: mail.POP3().Port(),
		Name: "alice", Password: "secret", AllowPlaintextAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Delete(ctx)
	var got bytes.Buffer
	if _, err := p.RetrTo(ctx, 1, &got); err != nil {
		t.Fatal(err)
	}
	stored := mail.Host.Store().Messages("alice")
	if len(stored) != 1 || !bytes.Equal(stored[0].Data, got.Bytes()) {
		t.Fatalf("fetched %q, stored %v", got.Bytes(), stored)
	}
	if !strings.HasSuffix(got.String(), "\r\n\r\nreading 42\r\n.dot line\r\n") {
		t.Fatalf("fetched body %q", got.String())
	}
	if err := p.MailItemDelete(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(mail.Host.Store().Messages("alice")); n != 0 {
		t.Fatalf("%d messages left after DELE+QUIT", n)
	}
}

// TestLabCatchesLeak: a packet the test forgets to release fails the test
// at cleanup, naming the pool.
func TestLabCatchesLeak(t *testing.T) {
	rec := &failTB{TB: t}
	t.Run("inner", func(t *testing.T) {
		rec.TB = t
		func() {
			lab := boardtest.NewLab(rec, boardtest.LabOptions{})
			b := lab.Board("leaky", boardtest.Options{Count: 4, RxCount: 4})
			if _, err := b.Pool.Allocate(context.Background(), packetpool.TCPPacket, nx.NoWait); err != nil {
				t.Fatal(err)
			}
		}()
	})
	if !strings.Contains(rec.errs.String(), "leaky-pool") {
		t.Fatalf("cleanup errors %q do not name the leaking pool", rec.errs.String())
	}
}

// failTB records errors instead of failing; cleanups still run through the
// embedded TB.
type failTB struct {
	testing.TB
	errs strings.Builder
}

func (f *failTB) Helper()                        {}
func (f *failTB) Error(args ...any)              { fmt.Fprintln(&f.errs, args...) }
func (f *failTB) Errorf(format string, a ...any) { fmt.Fprintf(&f.errs, format+"\n", a...) }

// TestLabVirtual: the lab's mail host stays silent 20 s before the first
// SMTP greeting, longer than NetX's 10 s greeting timeout, so the first
// send fails and the second succeeds; in virtual time those seconds cost
// no wall time, and the pools are checked inside the simulation.
func TestLabVirtual(t *testing.T) {
	var first, second error
	sm := sim.New(sim.Options{Seed: 1, Limit: 5 * time.Minute})
	err := sm.Run(context.Background(), func(ctx context.Context) error {
		lab, end := boardtest.NewLabFunc(t, boardtest.LabOptions{Clock: sm.Clock()})
		defer end()
		mail := lab.MailHost(mailhost.Options{Users: map[string]string{"alice": "secret"}, AllowInsecureAuth: true,
			Faults: []mailhost.Fault{{Stage: mailhost.SMTPGreeting, Kind: mailhost.FaultDelay, Delay: 20 * time.Second, Times: 1}}}, boardtest.Options{})
		dev := lab.Board("device", boardtest.Options{Count: 32, RxCount: 32})
		send := func() error {
			s, err := smtpc.Create(smtpc.Options{IP: dev.IP, Pool: dev.Pool, Username: "alice", Password: "secret",
				From: "device@board.test", ServerAddr: mail.SMTP().Addr(), Port: mail.SMTP().Port(),
				Auth: smtpc.AuthPlain, TLS: smtpc.TLSOff, AllowPlaintextAuth: true})
			if err != nil {
				return err
			}
			defer s.Delete()
			_, err = s.MailSend(ctx, "alice@mailhost.test", smtpc.PriorityNormal, "virtual", []byte("tick\n"))
			return err
		}
		first, second = send(), send()
		if n := len(mail.Host.Store().Messages("alice")); n != 1 {
			t.Errorf("%d messages stored, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("simulation: %v", err)
	}
	st := sm.Stats()
	if smtpc.NetXStatus(first) == 0 || second != nil {
		t.Fatalf("first send %v (want the greeting timeout), second %v", first, second)
	}
	if st.Simulated < 10*time.Second {
		t.Fatalf("simulated %v, want at least the 10 s greeting timeout", st.Simulated)
	}
	t.Logf("first send: %v; simulated %v in %v", first, st.Simulated, st.Wall)
}
