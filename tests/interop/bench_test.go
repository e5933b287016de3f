package interop

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
)

// BenchmarkSubmitToPostfix submits a 1 MiB mail to Postfix's submission port, one
// session per mail (connect, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), until Postfix
// has queued it. The baseline is Linux's own TCP stack with go-smtp, in the same run;
// the board is smtpc on gVisor over tap0. Compare the two MB/s figures as a ratio.
func BenchmarkSubmitToPostfix(b *testing.B) {
	env := startEnv(b)
	body := bigBody(1 << 20)
	ctx := context.Background()

	b.Run("baseline=kernel-go-smtp", func(b *testing.B) {
		u := env.NewUser(b)
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		i := 0
		for b.Loop() {
			i++
			c := kernelSMTP(b, env, env.Submission)
			if err := c.Auth(sasl.NewPlainClient("", u.Name, u.Password)); err != nil {
				b.Fatalf("Auth() = %v", err)
			}
			msg := testMessage(u.Addr, u.Addr, fmt.Sprintf("bench kernel %d", i), body)
			if err := c.SendMail(u.Addr, []string{u.Addr}, bytes.NewReader(msg)); err != nil {
				b.Fatalf("SendMail() = %v", err)
			}
			if err := c.Quit(); err != nil {
				b.Fatalf("Quit() = %v", err)
			}
			c.Close()
		}
	})

	b.Run("board=smtpc-gvisor-tap", func(b *testing.B) {
		bd := env.NewBoard(b, boardtest.Options{})
		u := env.NewUser(b)
		o := boardSMTP(env, bd, env.Submission, u)
		o.TLS, o.Auth, o.AllowPlaintextAuth = smtpc.TLSOff, smtpc.AuthPlain, true
		c, err := smtpc.Create(o)
		if err != nil {
			b.Fatalf("smtpc.Create = %v", err)
		}
		defer c.Delete()
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		i := 0
		for b.Loop() {
			i++
			if _, err := c.MailSend(ctx, u.Addr, smtpc.PriorityNormal, fmt.Sprintf("bench board %d", i), body); err != nil {
				b.Fatalf("MailSend() = %v", err)
			}
		}
	})
}
