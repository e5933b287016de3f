package interop

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Configuration of Dovecot and Postfix, after ../shared/reference/testenv.md (Appendix A,
// netns variant) with these changes: IPv6 listeners on 2001:db8::1, Dovecot STLS, a
// 64-user pool, message_size_limit 50 MiB, and Postfix's master run directly (master -s)
// so its PID is ours to signal.

const dovecotConf = `# simboard interop: Dovecot POP3 + SASL for Postfix (generated)
base_dir = {{.W}}/dovecot/run
state_dir = {{.W}}/dovecot/state
log_path = {{.W}}/log/dovecot.log
protocols = pop3
listen = {{.Addr}}, {{.Addr6}}, 127.0.0.1
ssl = yes
ssl_cert = <{{.W}}/tls/cert.pem
ssl_key = <{{.W}}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
auth_verbose = yes
auth_failure_delay = 0
first_valid_uid = {{.UID}}
mail_location = maildir:{{.W}}/mail/%u/Maildir
mail_max_userip_connections = 100
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{.W}}/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u {{.W}}/dovecot/users
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
`

const postfixMain = `# simboard interop: Postfix (generated). Nothing leaves: error transports, no relayhost.
compatibility_level = 3.6
queue_directory = {{.W}}/postfix/spool
data_directory = {{.W}}/postfix/data
mail_owner = postfix
myhostname = {{.ServerName}}
mydomain = {{.Domain}}
myorigin = {{.Domain}}
mydestination =
inet_interfaces = {{.Addr}}, [{{.Addr6}}], 127.0.0.1
inet_protocols = ipv4, ipv6
mynetworks = 127.0.0.0/8, [::1]/128
maillog_file = /dev/stdout
smtputf8_enable = no
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
relayhost =
default_transport = error:outbound mail disabled in test env
relay_transport = error:outbound mail disabled in test env
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = {{.Domain}}
virtual_mailbox_base = {{.W}}/mail
virtual_mailbox_maps = texthash:{{.W}}/postfix/conf/vmailbox
virtual_uid_maps = static:{{.UID}}
virtual_gid_maps = static:{{.UID}}
message_size_limit = 52428800
virtual_mailbox_limit = 0
mailbox_size_limit = 0
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {{.W}}/dovecot/run/auth-postfix
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_chain_files = {{.W}}/tls/key.pem, {{.W}}/tls/cert.pem
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
`

const postfixMaster = `# simboard interop (generated): no chroot anywhere
smtp       inet  n - n -    - smtpd
submission inet  n - n -    - smtpd
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
local      unix  - n n -    - local
virtual    unix  - n n -    - virtual
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
`

// writeConfig creates the work tree: TLS material, users, Maildirs, daemon configs.
func (e *Env) writeConfig() error {
	w := e.Dir
	for _, d := range []string{"dovecot/run", "dovecot/state", "postfix/conf", "postfix/spool", "postfix/data", "tls", "log", "mail"} {
		if err := os.MkdirAll(filepath.Join(w, d), 0o755); err != nil {
			return fmt.Errorf("interop: config: %w", err)
		}
	}
	if err := e.writeTLS(filepath.Join(w, "tls")); err != nil {
		return err
	}

	e.Alice = User{Name: "alice", Password: "alicepw", Addr: "alice@" + e.Domain}
	e.Bob = User{Name: "bob", Password: "bobpw", Addr: "bob@" + e.Domain}
	e.users = nil
	for i := 1; i <= userPool; i++ {
		name := fmt.Sprintf("user%03d", i)
		e.users = append(e.users, User{Name: name, Password: name + "-Secret", Addr: name + "@" + e.Domain})
	}
	var users, vmailbox bytes.Buffer
	for _, u := range append([]User{e.Alice, e.Bob}, e.users...) {
		fmt.Fprintf(&users, "%s:{PLAIN}%s:%d:%d::%s/mail/%s::\n", u.Name, u.Password, mailUID, mailUID, w, u.Name)
		fmt.Fprintf(&vmailbox, "%s %s/Maildir/\n", u.Addr, u.Name)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(w, "mail", u.Name, "Maildir", sub), 0o700); err != nil {
				return fmt.Errorf("interop: config: %w", err)
			}
		}
	}
	if err := chownTree(filepath.Join(w, "mail"), mailUID, mailUID); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w, "dovecot", "users"), users.Bytes(), 0o644); err != nil {
		return fmt.Errorf("interop: config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w, "postfix", "conf", "vmailbox"), vmailbox.Bytes(), 0o644); err != nil {
		return fmt.Errorf("interop: config: %w", err)
	}

	data := map[string]any{
		"W": w, "Addr": e.HostAddr, "Addr6": e.HostAddr6, "UID": mailUID,
		"Domain": e.Domain, "ServerName": e.ServerName,
	}
	for path, text := range map[string]string{
		filepath.Join(w, "dovecot", "dovecot.conf"):      dovecotConf,
		filepath.Join(w, "postfix", "conf", "main.cf"):   postfixMain,
		filepath.Join(w, "postfix", "conf", "master.cf"): postfixMaster,
	} {
		var buf bytes.Buffer
		if err := template.Must(template.New(path).Parse(text)).Execute(&buf, data); err != nil {
			return fmt.Errorf("interop: config %s: %w", path, err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("interop: config: %w", err)
		}
	}
	// Postfix waits (0.3 s per try, 1.5-2.5 s here) while main.cf's mtime is not
	// safely in the past, in case an editor is still writing it: backdate our files.
	past := time.Now().Add(-time.Hour)
	for _, p := range []string{"main.cf", "master.cf", "vmailbox"} {
		if err := os.Chtimes(filepath.Join(w, "postfix", "conf", p), past, past); err != nil {
			return fmt.Errorf("interop: config: %w", err)
		}
	}
	// Postfix warns unless its data directory belongs to mail_owner.
	if out, err := exec.Command("chown", "postfix", filepath.Join(w, "postfix", "data")).CombinedOutput(); err != nil {
		return fmt.Errorf("interop: chown postfix data dir: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// writeTLS makes a throwaway CA and a server certificate for mx.example.test,
// 198.51.100.1, 2001:db8::1 and 127.0.0.1 (ECDSA P-256, valid one week), writes
// cert.pem (server + CA) and key.pem into dir, and sets e.CAPool.
func (e *Env) writeTLS(dir string) error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "simboard interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: e.ServerName},
		DNSNames:     []string{e.ServerName},
		IPAddresses:  []net.IP{e.HostAddr.AsSlice(), e.HostAddr6.AsSlice(), net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...)
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), chain, 0o644); err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o644); err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("interop: tls: %w", err)
	}
	e.CAPool = x509.NewCertPool()
	e.CAPool.AddCert(caCert)
	e.CACertPEM = caPEM
	return nil
}

// startDovecot runs `dovecot -F` inside the namespace and waits for POP3 on both
// addresses (the SASL socket for Postfix is up by then too).
func (e *Env) startDovecot(ctx context.Context) error {
	bin, err := lookTool("dovecot")
	if err != nil {
		return err
	}
	conf := filepath.Join(e.Dir, "dovecot", "dovecot.conf")
	e.dovecot, err = startDaemon(e.NS, "dovecot", filepath.Join(e.Dir, "log", "dovecot.out"), bin, "-F", "-c", conf)
	if err != nil {
		return err
	}
	if err := e.waitPorts(ctx, e.dovecot, e.POP3, e.POP36); err != nil {
		return err
	}
	return waitFile(ctx, e.dovecot, filepath.Join(e.Dir, "dovecot", "run", "auth-postfix"))
}

// startPostfix creates the queue tree (makeQueueDirs, else `postfix check`, which must
// run inside the namespace because of inet_interfaces), then runs the master daemon
// in the foreground. Configuration errors show in postfix.log, and the wait for the
// ports fails with it.
func (e *Env) startPostfix(ctx context.Context) error {
	bin, err := lookTool("postfix")
	if err != nil {
		return err
	}
	conf := filepath.Join(e.Dir, "postfix", "conf")
	if err := makeQueueDirs(filepath.Join(e.Dir, "postfix", "spool")); err != nil {
		// `postfix check` (testenv.md's recipe) makes the same tree through
		// post-install, which runs postconf dozens of times: 0.4-3 s here, against
		// 5 ms. It is the fallback when postfix-files cannot be read.
		if _, err := e.NS.Output(ctx, bin, "-c", conf, "check"); err != nil {
			// Without syslog, check fails silently; -v sometimes says why.
			vout, _ := e.NS.Output(ctx, bin, "-v", "-c", conf, "check")
			return fmt.Errorf("interop: postfix check: %w\n%s", err, vout)
		}
	}
	postconf, err := lookTool("postconf")
	if err != nil {
		return err
	}
	dd, err := exec.CommandContext(ctx, postconf, "-c", conf, "-h", "daemon_directory").Output()
	if err != nil {
		return fmt.Errorf("interop: postconf daemon_directory: %w", err)
	}
	master := filepath.Join(strings.TrimSpace(string(dd)), "master")
	// master -s: foreground, stdout kept for maillog_file=/dev/stdout (what start-fg runs).
	e.postfix, err = startDaemon(e.NS, "postfix master", filepath.Join(e.Dir, "log", "postfix.log"), master, "-s", "-c", conf)
	if err != nil {
		return err
	}
	return e.waitPorts(ctx, e.postfix, e.SMTP, e.Submission, e.SMTP6, e.Submission6)
}

// makeQueueDirs creates Postfix's queue tree under spool with the owners and modes
// that /etc/postfix/postfix-files prescribes (what `postfix check` would create).
func makeQueueDirs(spool string) error {
	b, err := os.ReadFile("/etc/postfix/postfix-files")
	if err != nil {
		return err
	}
	lookup := func(name string) (int, int, error) {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, 0, err
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return 0, 0, err
		}
		gid, err := strconv.Atoi(u.Gid)
		return uid, gid, err
	}
	pfUID, _, err := lookup("postfix")
	if err != nil {
		return err
	}
	g, err := user.LookupGroup("postdrop")
	if err != nil {
		return err
	}
	postdrop, err := strconv.Atoi(g.Gid)
	if err != nil {
		return err
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 5 || f[1] != "d" || !strings.HasPrefix(f[0], "$queue_directory") {
			continue
		}
		path := spool + strings.TrimPrefix(f[0], "$queue_directory")
		mode, err := strconv.ParseUint(f[4], 8, 32)
		if err != nil {
			return fmt.Errorf("postfix-files: %q: %w", line, err)
		}
		uid, gid := 0, 0
		if f[2] == "$mail_owner" {
			uid = pfUID
		}
		if f[3] == "$setgid_group" {
			gid = postdrop
		}
		if err := os.MkdirAll(path, 0o700); err != nil {
			return err
		}
		if err := os.Chown(path, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(path, os.FileMode(mode)); err != nil {
			return err
		}
		n++
	}
	if n < 10 {
		return fmt.Errorf("postfix-files: only %d queue directories listed", n)
	}
	return nil
}

// waitFile waits for path to exist while d runs.
func waitFile(ctx context.Context, d *daemon, path string) error {
	ctx, cancel := context.WithTimeout(ctx, portWait)
	defer cancel()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if err := d.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interop: %s did not create %s within %v", d.name, path, portWait)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
