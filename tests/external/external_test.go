// Package external checks that the public packages are usable from a module
// outside this repository.
package external

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// networkTrouble are the substrings of a go command failure that mean the
// module proxy could not be reached (the test then skips, naming it).
var networkTrouble = []string{"dial tcp", "no such host", "connection refused", "i/o timeout",
	"proxy.golang.org", "TLS handshake timeout", "network is unreachable"}

// TestExternalModule makes a module in a temp dir with a replace to this
// checkout, copies examples/usertest into it (a test importing board via
// boardtest, mailhost, smtpc and pop3c that builds boards on a Wire, sends
// a mail and fetches it back) and runs `go test` there with
// GOFLAGS=-mod=mod.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("external: skipping in -short mode (builds a second module)")
	}
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// go test puts the go command's own GOROOT/bin first in PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := "module example.com/mylab\n\ngo 1.26\n\nrequire github.com/simboard/simboard v0.0.0\n\n" +
		"replace github.com/simboard/simboard => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "examples", "usertest")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var copied int
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	if copied == 0 {
		t.Fatal("examples/usertest has no Go files")
	}
	// The copied package must import only public packages.
	list := exec.Command(gobin, "list", "-deps", "-test", "-f", "{{.ImportPath}}", ".")
	list.Dir = dir
	list.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := list.CombinedOutput()
	skipIfOffline(t, out, err)
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, out)
	}
	for _, want := range []string{"github.com/simboard/simboard/board", "github.com/simboard/simboard/mailhost", "github.com/simboard/simboard/boardtest"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("the external test does not import %s", want)
		}
	}

	cmd := exec.Command(gobin, "test", "-count=1", "-v", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err = cmd.CombinedOutput()
	skipIfOffline(t, out, err)
	if err != nil {
		t.Fatalf("go test in the external module: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestSensorReport") {
		t.Fatalf("go test output lacks the passing test:\n%s", out)
	}
}

func skipIfOffline(t *testing.T, out []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range networkTrouble {
		if strings.Contains(string(out), s) {
			t.Skipf("external: the module proxy is unreachable (%s); output:\n%s", s, out)
		}
	}
}
