package smtpc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// TestServerFaultMatrix injects every fault at every stage of a session:
// each case must give its documented status, leave no packet behind, deliver
// nothing (unless the mail was already accepted, at QUIT) and leave the
// client usable for the next mail.
func TestServerFaultMatrix(t *testing.T) {
	e := newHostEnv(t, envOptions{rstListener: true, host: mailhost.Options{AllowInsecureAuth: true, RequireAuth: true}})
	o := e.options()
	o.Auth, o.AllowPlaintextAuth = AuthPlain, true
	o.Timeouts = Timeouts{Greeting: nx.Ticks(100), Envelope: nx.Ticks(100), Message: nx.Ticks(100)}
	c := e.client(t, o)

	stages := []struct {
		stage  mailhost.Stage
		status Status // for a 4xx/5xx reply
	}{
		{mailhost.SMTPGreeting, ErrGreetReply}, {mailhost.SMTPEHLO, ErrHelloReply}, {mailhost.SMTPAuth, ErrAuthReply},
		{mailhost.SMTPMail, ErrMailReply}, {mailhost.SMTPRcpt, ErrRcptReply}, {mailhost.SMTPData, ErrDataReply},
		{mailhost.SMTPDataEnd, ErrMessageReply}, {mailhost.SMTPQuit, 0},
	}
	kinds := []struct {
		name string
		f    mailhost.Fault
	}{
		{"4xx", mailhost.Fault{Kind: mailhost.FaultReply, Code: 451, Text: "4.3.0 injected"}},
		{"5xx", mailhost.Fault{Kind: mailhost.FaultReply, Code: 554, Text: "5.3.0 injected"}},
		{"close", mailhost.Fault{Kind: mailhost.FaultClose}},
		{"reset", mailhost.Fault{Kind: mailhost.FaultReset}},
		{"silent", mailhost.Fault{Kind: mailhost.FaultSilent}},
	}
	good := func(t *testing.T, what string) {
		t.Helper()
		if err := e.host.SetFaults(nil); err != nil {
			t.Fatal(err)
		}
		before := len(e.host.Store().Received())
		res, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "after "+what, []byte("still works\n"))
		if err != nil || !res.Accepted || res.QuitErr != nil {
			t.Fatalf("good MailSend after %s = %+v, %v; want a clean success", what, res, err)
		}
		if n := len(e.host.Store().Received()); n != before+1 {
			t.Fatalf("good mail after %s: host received %d, want 1", what, n-before)
		}
	}
	good(t, "setup")
	for _, st := range stages {
		for _, k := range kinds {
			t.Run(fmt.Sprintf("%s/%s", st.stage, k.name), func(t *testing.T) {
				f := k.f
				f.Stage, f.Times = st.stage, 1
				if err := e.host.SetFaults([]mailhost.Fault{f}); err != nil {
					t.Fatal(err)
				}
				before := len(e.host.Store().Received())
				res, err := c.MailSend(context.Background(), "bob@example.com", PriorityNormal, "fault", []byte("faulted\n"))
				delivered := len(e.host.Store().Received()) - before
				if st.stage == mailhost.SMTPQuit {
					// The mail was accepted before QUIT: success, and the
					// result says QUIT failed.
					if err != nil || !res.Accepted || !errors.Is(res.QuitErr, ErrQuit) || delivered != 1 {
						t.Fatalf("MailSend(fault at QUIT) = %+v, %v, delivered %d; want accepted with QuitErr", res, err, delivered)
					}
				} else {
					var want error = st.status
					switch k.name {
					case "close", "reset":
						want = nx.ErrNotConnected
					case "silent":
						want = nx.ErrNoPacket
					}
					if !errors.Is(err, want) || res.Accepted || delivered != 0 {
						t.Fatalf("MailSend(fault %s at %s) = %v (accepted %v, delivered %d), want %v", k.name, st.stage, err, res.Accepted, delivered, want)
					}
					var re *ReplyError
					if k.f.Kind == mailhost.FaultReply {
						if !errors.As(err, &re) || re.Code != k.f.Code || re.Temporary() != (k.f.Code < 500) {
							t.Errorf("MailSend(reply %d at %s) = %v, want a *ReplyError with that code", k.f.Code, st.stage, err)
						}
					} else if errors.As(err, &re) {
						t.Errorf("MailSend(%s at %s) = %v, want a transport error, not a reply", k.name, st.stage, err)
					}
				}
				boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
				good(t, k.name+" at "+string(st.stage))
				boardtest.CheckBalanced(t, e.cli.Pool, e.cli.RxPool)
			})
		}
	}
}
