package main

import (
	"strings"
	"testing"

	"github.com/simboard/simboard/boardtest"
)

// TestDemo runs the ported NetX POP3 demo: APOP login, both mails
// downloaded packet by packet (as NetX returns them: dot-stuffed, with the
// terminator), each deleted, none left on the server.
func TestDemo(t *testing.T) {
	boardtest.CheckGoroutines(t)
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"Got 2 mail items", "for item 1:", "for item 2:", "..with a dot", "left on the server: 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
