package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI8BitBodyBeforeMAIL: a body file with 8-bit octets sent to a server
// without 8BITMIME (Postfix behind a proxy that strips it from EHLO) is
// refused before MAIL FROM, not after DATA; nothing is delivered.
func TestCLI8BitBodyBeforeMAIL(t *testing.T) {
	env := startEnv(t)
	u := env.NewUser(t)
	strip8 := func(l string) bool {
		return strings.HasPrefix(l, "250") && strings.HasSuffix(strings.ToUpper(l), "8BITMIME")
	}
	port := env.startStripProxy(t, env.Submission, strip8, "").Port()
	body := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(body, []byte("Gr\xfc\xdfe aus der Platine\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := env.runCLI(t, u.Password, "send", "--user", u.Name, "--to", u.Addr, "--port", fmt.Sprint(port), "--tls", "off", "--body", body)
	t.Logf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "8BITMIME") {
		t.Fatalf("send of an 8-bit body without 8BITMIME: exit %d, want 1 naming 8BITMIME\n%s", r.code, r.stderr)
	}
	for _, v := range clientVerbs(t, r.pcap) {
		if v == "MAIL" || v == "DATA" || v == "BDAT" {
			t.Errorf("the board sent %s before refusing the 8-bit body", v)
		}
	}
}
