// Package interop runs simboard against real servers: Postfix (SMTP, submission with
// SASL through Dovecot, STARTTLS) and Dovecot (POP3 with USER/PASS, APOP, AUTH, STLS,
// UIDL, TOP), both started inside a private network namespace that the tests create,
// with a TAP device tap0 (host side 198.51.100.1/24 and 2001:db8::1/64) that the board
// attaches to, and tcpdump/tshark to capture and decode what crossed the wire.
//
// Everything lives in the package's test files. Start with startEnv in env_test.go:
//
//	env := startEnv(t)                         // shared servers; skips (or fails in CI) without netns
//	b := env.NewBoard(t, boardtest.Options{})  // gVisor board on tap0 (leased), pools checked at the end
//	u := env.NewUser(t)                        // a mailbox no other test touches
//	c, _ := smtpc.Create(smtpc.Options{IP: b.IP, Pool: b.Pool, ServerAddr: env.HostAddr, Port: 587, ...})
//	m := env.WaitMail(t, u, "subject")         // what Postfix delivered into u's Maildir
//	env.Seed(t, u, msgs...)                    // messages for POP3 to serve
//	capture := env.StartCapture(t, env.TAP, "tcp port 110")
//	rows := env.Tshark(t, capture.Stop(t), "pop.request", []string{"pop.request.command"})
//
// The firmware boot (netboot_test.go) adds dnsmasq (DHCP, and DNS for mx.example.test)
// and chronyd (NTP on its local clock, -x: it never sets the machine's clock) for the
// length of a test, inside the same namespace: env.startNetbootPeers(t).
//
// The environment starts once per test binary (about 0.3 s) and is torn down in
// TestMain (about 2.5 s: the daemons take that long to exit on SIGTERM). If the binary
// dies first (panic, -timeout, SIGKILL), a watchdog process removes the namespace and
// its daemons, and the next run removes the work directory.
//
// The tests need root (namespaces, TAP, the daemons) and the Debian packages listed in
// scripts/test-deps.sh. Without them they skip with the reason, unless
// SIMBOARD_REQUIRE_NETNS=1 (set by .ci/run), which turns the skip into a failure.
// SIMBOARD_KEEP_INTEROP=1 keeps the work directory (configs, logs, Maildirs); it is
// also kept when a test fails.
//
// Network safety: only 198.51.100.0/24 and 2001:db8::/64, only inside the namespace.
// Postfix delivers to example.test Maildirs and refuses everything else
// (default_transport and relay_transport are error:, no relayhost, no DNS).
package interop
