package main

import (
	"strings"
	"testing"

	"github.com/simboard/simboard/boardtest"
)

// TestDemo runs the ported NetX SMTP demo: the mail is sent with status 0
// (NX_SUCCESS), error_counter stays 0 and the body arrives intact.
func TestDemo(t *testing.T) {
	boardtest.CheckGoroutines(t)
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"nx_smtp_mail_send: status 0x00", "error_counter: 0", "body intact: true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
