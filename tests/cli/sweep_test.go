package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretForms returns the password and the forms it takes on the wire and
// in a careless log: the raw text, and base64 at every byte alignment (so
// it is caught inside any base64 blob: AUTH LOGIN's base64(pass), AUTH
// PLAIN's base64("\0user\0pass"), XOAUTH2's "user=..\x01auth=Bearer pass"),
// plus the full PLAIN, LOGIN and XOAUTH2 encodings for the user.
func secretForms(user, pass string) []string {
	forms := []string{pass}
	for k := 0; k < 3; k++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, k), pass...))
		// Characters whose 6 bits all come from pass: bit range
		// [6i, 6i+6) inside [8k, 8(k+len)).
		lo := (8*k + 5) / 6
		hi := (8 * (k + len(pass))) / 6
		if hi-lo >= 12 {
			forms = append(forms, enc[lo:hi])
		}
	}
	for _, s := range []string{
		"\x00" + user + "\x00" + pass,
		user + "\x00" + user + "\x00" + pass,
		"user=" + user + "\x01auth=Bearer " + pass + "\x01\x01",
	} {
		forms = append(forms, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	forms = append(forms, base64.StdEncoding.EncodeToString([]byte(pass)))
	return forms
}

// leaks returns every form of the secret found in out, by name.
func leaks(out string, forms []string) []string {
	var found []string
	for _, f := range forms {
		if strings.Contains(out, f) {
			found = append(found, fmt.Sprintf("%q", f))
		}
	}
	return found
}

// TestSweepCatchesLeak: the sweep's matcher finds the password in every
// encoding a client puts on the wire, so the sweep below can fail.
func TestSweepCatchesLeak(t *testing.T) {
	const user, pass = "alice", "Sweep-pass-Zq9-x7"
	forms := secretForms(user, pass)
	for _, leak := range []string{
		"C: PASS " + pass,
		"C: AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)),
		"C> " + base64.StdEncoding.EncodeToString([]byte(pass)),
		`"line":"` + base64.StdEncoding.EncodeToString([]byte("user="+user+"\x01auth=Bearer "+pass+"\x01\x01")) + `"`,
		"x" + base64.StdEncoding.EncodeToString([]byte("authz\x00"+user+"\x00"+pass)),
	} {
		if len(leaks(leak, forms)) == 0 {
			t.Errorf("the sweep misses the leak %q", leak)
		}
	}
	if got := leaks("C: AUTH PLAIN [redacted]\nC: PASS ********", forms); len(got) != 0 {
		t.Errorf("false positive: %v", got)
	}
}

// TestCredentialSweep runs demo, send and fetch in every auth and TLS mode,
// with --transcript and --log-level debug, as text and --json, then trace
// (text and --json) of each run's pcap, and greps all of it for the
// password in every form. It fails on any leak.
func TestCredentialSweep(t *testing.T) { sweep(t, nil) }

// sweep is the credential sweep; cuts, when set, derives more pcaps from
// each run's pcap for trace to read as well.
func sweep(t *testing.T, cuts func(*testing.T, string) []string) {
	if testing.Short() {
		t.Skip("-short: the sweep runs ~100 subprocesses")
	}
	const user = "alice"
	pass := fmt.Sprintf("Sw%06d-Zq9x7k", os.Getpid()%1000000) // 20 bytes at most: NetX profile limit
	forms := secretForms(user, pass)
	env := []string{"SIMBOARD_PASSWORD=" + pass}
	tlsModes := []string{"off", "opportunistic", "required", "implicit"}
	type run struct {
		name string
		args []string
		env  []string
		secr []string
	}
	var runs []run
	// demo: its own fixed credentials (board-secret for SMTP, pw-rcpt1-SEED for POP3).
	demoForms := append(secretForms("board", "board-secret"), secretForms("rcpt1", "pw-rcpt1-7")...)
	for _, auth := range []string{"auto", "plain", "login", "cram-md5", "xoauth2"} {
		for _, tls := range tlsModes {
			runs = append(runs, run{fmt.Sprintf("demo/%s/%s", auth, tls),
				[]string{"demo", "--auth", auth, "--tls", tls, "--seed", "7", "--body-size", "3000", "--log-level", "debug"}, nil, demoForms})
		}
	}
	for _, auth := range []string{"auto", "plain", "login", "cram-md5", "xoauth2"} {
		for _, tls := range tlsModes {
			runs = append(runs, run{fmt.Sprintf("send/%s/%s", auth, tls),
				[]string{"send", "--user", user, "--to", "bob@simboard.test", "--auth", auth, "--tls", tls, "--transcript", "--log-level", "debug"}, env, forms})
		}
	}
	for _, login := range []string{"auto", "apop", "user", "auth-plain"} {
		for _, tls := range tlsModes {
			runs = append(runs, run{fmt.Sprintf("fetch/%s/%s", login, tls),
				[]string{"fetch", "--user", user, "--login", login, "--tls", tls, "--transcript", "--log-level", "debug"}, env, forms})
		}
	}
	// The password from a file, and a NetX-profile session in clear text.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runs = append(runs,
		run{"send/netx", []string{"send", "--netx", "--user", user, "--to", "bob@simboard.test", "--transcript", "--log-level", "debug", "--password-file", pwFile}, nil, forms},
		run{"fetch/netx", []string{"fetch", "--netx", "--user", user, "--login", "user", "--transcript", "--log-level", "debug", "--password-file", pwFile}, nil, forms},
	)
	dir := t.TempDir()
	for i, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			pcap := filepath.Join(dir, fmt.Sprintf("run%d.pcap", i))
			var all bytes.Buffer
			for _, asJSON := range []bool{false, true} {
				args := append(append([]string{}, r.args...), "--pcap", pcap)
				if asJSON {
					args = append(args, "--json")
				}
				stdout, stderr, code := simboard(t, r.env, args...)
				if code != 0 {
					// A refusal is fine (e.g. an explicit mechanism the
					// host does not offer), as long as it leaks nothing.
					t.Logf("simboard %v: exit %d: %s", args, code, lastLine(stderr))
				}
				fmt.Fprintf(&all, "== %v\n%s\n%s\n", args, stdout, stderr)
				if st, err := os.Stat(pcap); err == nil && st.Size() > 0 {
					var targets [][]string
					paths := []string{pcap}
					if cuts != nil {
						paths = append(paths, cuts(t, pcap)...)
					}
					for _, p := range paths {
						targets = append(targets, []string{"trace", p}, []string{"trace", "--json", p})
					}
					for _, targs := range targets {
						tout, terr, tcode := simboard(t, nil, targs...)
						if tcode != 0 {
							t.Errorf("simboard %v: exit %d: %s", targs, tcode, terr)
						}
						fmt.Fprintf(&all, "== %v\n%s\n%s\n", targs, tout, terr)
					}
				}
			}
			if found := leaks(all.String(), r.secr); len(found) > 0 {
				t.Errorf("the password leaks in %s as %s:\n%s", r.name, strings.Join(found, ", "), excerpt(all.String(), r.secr))
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// excerpt returns the lines of out that hold a form of the secret.
func excerpt(out string, forms []string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if len(leaks(l, forms)) > 0 || strings.HasPrefix(l, "== ") {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
