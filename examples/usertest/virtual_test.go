package usertest

import (
	"strconv"
	"testing"
	"time"

	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/boardtest"
	"github.com/simboard/simboard/mailhost"
)

// TestSensorReportsEveryMinute is the same firmware logic in virtual time: the
// sensor mails a report every minute for half an hour. With
// LabOptions.Virtual the rest of the test (its own goroutine included)
// runs on a simulated clock that moves only when every board, the mail
// host and the test are waiting, so the half hour takes well under a second and
// the same seed gives the same run. The test waits on the Lab's clock,
// never with time.Sleep, and passes Lab.Context to blocking calls so a
// stalled simulation fails the test instead of hanging it; t.Fatal works as
// in any test, and the Lab still checks every pool and goroutine at cleanup.
func TestSensorReportsEveryMinute(t *testing.T) {
	lab := boardtest.NewLab(t, boardtest.LabOptions{Virtual: true, Limit: time.Hour})
	mail := lab.MailHost(mailhost.Options{Users: map[string]string{"ops": "s3cret"}, AllowInsecureAuth: true}, boardtest.Options{})
	sensor := lab.Board("sensor", boardtest.Options{PayloadSize: board.DefaultPayloadSize, Count: 32, RxCount: 32})
	ctx, clk := lab.Context(), lab.Sim().Clock()

	start := clk.Now()
	for minute := 0; minute < 30; minute++ {
		if err := sendReport(ctx, sensor, mail, strconv.Itoa(minute)); err != nil {
			t.Fatalf("report %d: %v", minute, err)
		}
		if err := clk.Sleep(ctx, time.Minute); err != nil {
			t.Fatalf("sleep after report %d: %v", minute, err)
		}
	}
	if got := len(mail.Host.Store().Received()); got != 30 {
		t.Fatalf("%d reports received, want 30", got)
	}
	if simulated := clk.Since(start); simulated < 30*time.Minute {
		t.Fatalf("simulated %v, want at least half an hour", simulated)
	}
	t.Logf("30 reports over %v of simulated time", clk.Since(start))
}
