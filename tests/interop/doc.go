// Package interop runs simboard against real servers: Postfix (SMTP, submission with
// SASL through Dovecot, STARTTLS) and Dovecot (POP3 with USER/PASS, APOP, STLS, UIDL,
// TOP), both started inside a private network namespace that the test creates, with a
// TAP device tap0 (host side 198.51.100.1/24 and 2001:db8::1/64) for the board to attach
// to, and tshark to decode what crossed the wire.
//
// Everything lives in the package's test files. Start with startEnv in env_test.go:
//
//	env := startEnv(t)                       // shared servers; skips (or fails in CI) without netns
//	tap := env.LeaseTAP(t)                   // exclusive use of tap0 until the test ends
//	err := env.NS.Do(func() error { ...driver.OpenTAP(tap)... })
//	u := env.NewUser(t)                      // a mailbox no other test touches
//	m := env.WaitMail(t, u, "subject")       // what Postfix delivered into u's Maildir
//
// The tests need root (namespaces, TAP, the daemons) and the Debian packages listed in
// scripts/test-deps.sh. Without them they skip with the reason, unless
// SIMBOARD_REQUIRE_NETNS=1 (set by .ci/run), which turns the skip into a failure.
//
// Network safety: only 198.51.100.0/24 and 2001:db8::/64, only inside the namespace.
// Postfix delivers to example.test Maildirs and refuses everything else
// (default_transport and relay_transport are error:, no relayhost, no DNS).
package interop
