package interop

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/driver"
)

// TestUplinkFleetToPostfix is issue 11 §6 "Uplink in tests/interop": 50
// boards on one Wire behind one TAP (driver.Uplink) each send a mail to
// Postfix on the kernel side; every mail lands, byte-exact, in its
// recipient's Maildir. The kernel sees 50 stations, each with its own MAC
// and address (198.51.100.10 to .59).
func TestUplinkFleetToPostfix(t *testing.T) {
	const boards = 50
	env := startEnv(t)
	boardtest.CheckGoroutines(t) // after startEnv: its cleanup runs before the environment's
	tap := env.OpenTAP(t, driver.TAPOptions{})
	w := boardtest.NewWireOptions(t, driver.WireOptions{Seed: 1, DirectARP: true})
	up, err := driver.NewUplink(w, tap, driver.UplinkOptions{})
	if err != nil {
		t.Fatalf("driver.NewUplink = %v", err)
	}
	t.Cleanup(func() { _ = up.Close() })

	type job struct {
		b       *boardtest.Board
		u       User
		subject string
		body    []byte
	}
	jobs := make([]job, boards)
	for i := range jobs {
		jobs[i] = job{
			b:       boardtest.NewBoard(t, w, fmt.Sprintf("b%02d", i), byte(10+i), boardtest.Options{Count: 64, RxCount: 64}),
			u:       env.NewUser(t),
			subject: fmt.Sprintf("uplink board %02d", i),
			body:    []byte(fmt.Sprintf("board %02d behind the uplink\r\n.a dot line\r\nbye\r\n", i)),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*sessionTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtpc.Create(smtpc.Options{
				IP: j.b.IP, Pool: j.b.Pool, From: "board@" + env.Domain, ClientDomain: "board." + env.Domain,
				ServerAddr: env.SMTP.Addr(), Port: env.SMTP.Port(), TLS: smtpc.TLSOff,
			})
			if err != nil {
				t.Errorf("%s: smtpc.Create = %v", j.subject, err)
				return
			}
			defer c.Delete()
			if res, err := c.MailSend(ctx, j.u.Addr, smtpc.PriorityNormal, j.subject, j.body); err != nil || !res.Accepted {
				t.Errorf("%s: MailSend() = %+v, %v", j.subject, res, err)
			}
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		got := env.WaitMail(t, j.u, j.subject)
		if want := crlfToLF(j.body); !bytes.Equal(got.Body(), want) {
			t.Errorf("%s: delivered body %q, want %q", j.subject, got.Body(), want)
		}
	}
	out, err := env.NS.Output(ctx, "ip", "neigh", "show", "dev", env.TAP)
	if err != nil {
		t.Fatalf("ip neigh: %v", err)
	}
	for _, j := range jobs {
		if line := j.b.Addr.String() + " lladdr " + j.b.Port.MAC().String(); !bytes.Contains(out, []byte(line)) {
			t.Errorf("kernel neighbours lack %q", line)
		}
	}
	if st := up.Stats(); st.Errors != 0 {
		t.Errorf("uplink Stats() = %+v, want no errors", st)
	}
}
