package nx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/simboard/simboard/nx"
)

// addOnStatus stands in for an add-on's own status type (smtpc.Status, dnsc.Status, ...).
type addOnStatus uint32

func (s addOnStatus) Error() string {
	return nx.StatusText(map[addOnStatus]string{0xA3: "NX_X_ERROR"}[s], uint32(s), 2)
}

func TestAddOnCode(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want uint32
	}{
		{"nil is NX_SUCCESS", nil, 0},
		{"the add-on's own status", addOnStatus(0xA3), 0xA3},
		{"wrapped: the add-on's status wins over the nx status beneath it", fmt.Errorf("step: %w: %w", addOnStatus(0xA7), nx.ErrNoPacket), 0xA7},
		{"a service status alone", fmt.Errorf("receive: %w", nx.ErrNotConnected), uint32(nx.ErrNotConnected)},
		{"an abort keeps NX_WAIT_ABORTED", nx.Aborted(canceledCtx()), uint32(nx.ErrWaitAborted)},
		{"anything else is NX_NOT_SUCCESSFUL", fmt.Errorf("plain"), uint32(nx.ErrNotSuccessful)},
	} {
		if got := nx.AddOnCode[addOnStatus](c.err); got != c.want {
			t.Errorf("%s: AddOnCode(%v) = 0x%02X, want 0x%02X", c.name, c.err, got, c.want)
		}
	}
}

func TestStatusText(t *testing.T) {
	for _, c := range []struct {
		name   string
		v      uint32
		digits int
		want   string
	}{
		{"NX_SMTP_MAIL_REPLY_ERROR", 0xA9, 2, "NX_SMTP_MAIL_REPLY_ERROR (0xA9)"},
		{"", 0x07, 2, "status 0x07"},
		{"NX_SNTP_SERVER_CLOCK_NOT_SYNC", 0xD12, 3, "NX_SNTP_SERVER_CLOCK_NOT_SYNC (0xD12)"},
		{"", 0x2A, 3, "status 0x02A"},
	} {
		if got := nx.StatusText(c.name, c.v, c.digits); got != c.want {
			t.Errorf("StatusText(%q, 0x%X, %d) = %q, want %q", c.name, c.v, c.digits, got, c.want)
		}
	}
}

func canceledCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
