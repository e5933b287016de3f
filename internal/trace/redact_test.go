package trace

import (
	"bytes"
	"strings"
	"testing"
)

// Item (issue 9 §1, credentials in output): `simboard trace` printed the
// base64 password when the capture started in the middle of an AUTH LOGIN
// exchange. Every client line answered by 334, 235 or 535, and every client
// line seen before the dialogue's context is known, is redacted, in the
// text and the JSON output.
func TestRedactMidFlowCapture(t *testing.T) {
	const user, pw = "alice", "Mid-Flow-Secret9"
	forms := []string{pw, b64(pw), b64(user), b64("\x00" + user + "\x00" + pw), strings.ToUpper(b64(pw))}
	tests := []struct {
		name  string
		build func(b *capBuilder)
		// hidden is how many lines must show as [redacted]
		hidden int
	}{
		{"smtp capture starts at the LOGIN user name", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49200", "198.51.100.1:587", 3000, 4000)
			c.send(0, b64(user)+"\r\n")
			c.send(1, "334 UGFzc3dvcmQ6\r\n")
			c.send(0, b64(pw)+"\r\n")
			c.send(1, "235 2.7.0 Authentication successful\r\n")
			c.send(0, "MAIL FROM:<alice@example.test>\r\n")
			c.send(1, "250 2.1.0 Ok\r\n")
		}, 2},
		{"smtp capture starts at the LOGIN password", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49201", "198.51.100.1:25", 3000, 4000)
			c.send(0, b64(pw)+"\r\n")
			c.send(1, "535 5.7.8 Authentication credentials invalid\r\n")
			c.send(0, "QUIT\r\n")
			c.send(1, "221 2.0.0 Bye\r\n")
		}, 1},
		{"smtp capture starts at the password challenge", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49202", "198.51.100.1:25", 3000, 4000)
			c.send(1, "334 UGFzc3dvcmQ6\r\n")
			c.send(0, b64(pw)+"\r\n")
			c.send(1, "235 2.7.0 Authentication successful\r\n")
		}, 1},
		{"smtp AUTH LOGIN lost from a capture with its handshake", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49203", "198.51.100.1:587", 3000, 4000)
			c.handshake()
			c.send(1, "220 mx ESMTP\r\n")
			c.send(0, "EHLO board\r\n")
			c.send(1, "250 AUTH LOGIN\r\n")
			c.frame(0, c.seq[0], []byte("AUTH LOGIN\r\n"), false, true, false, false) // not captured
			c.seq[0] += uint32(len("AUTH LOGIN\r\n"))
			c.send(1, "334 VXNlcm5hbWU6\r\n")
			c.send(0, b64(user)+"\r\n")
			c.send(1, "334 UGFzc3dvcmQ6\r\n")
			c.send(0, b64(pw)+"\r\n")
			c.send(1, "235 2.7.0 Authentication successful\r\n")
		}, 1}, // the user name line began in the gap's line: dropped
		{"pop3 capture starts inside AUTH PLAIN", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49204", "198.51.100.1:110", 3000, 4000)
			c.send(1, "+ \r\n")
			c.send(0, b64("\x00"+user+"\x00"+pw)+"\r\n")
			c.send(1, "+OK Logged in.\r\n")
			c.send(0, "STAT\r\n")
			c.send(1, "+OK 0 0\r\n")
		}, 1},
		{"pop3 capture starts at the SASL response", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49205", "198.51.100.1:110", 3000, 4000)
			c.send(0, b64("\x00"+user+"\x00"+pw)+"\r\n")
			c.send(1, "-ERR [AUTH] Authentication failed.\r\n")
		}, 1},
		{"pop3 capture starts at PASS with a tab", func(b *capBuilder) {
			c := b.conn("198.51.100.2:49206", "198.51.100.1:110", 3000, 4000)
			c.send(0, "PASS\t"+pw+"\r\n")
			c.send(1, "+OK Logged in.\r\n")
			c.send(0, " PASS "+pw+"\r\n")
			c.send(1, "-ERR no\r\n")
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newCapBuilder(t)
			tt.build(b)
			rep := analyzeBytes(t, b.pcap(ethernetEncap), Options{})
			text, js := renderBoth(t, rep)
			for _, s := range forms {
				for name, out := range map[string][]byte{"text": text, "json": js} {
					if bytes.Contains(out, []byte(s)) {
						t.Errorf("%s output contains the secret %q:\n%s", name, s, text)
					}
				}
			}
			if n := bytes.Count(text, []byte(redacted)); n < tt.hidden {
				t.Errorf("text output has %d %q, want at least %d:\n%s", n, redacted, tt.hidden, text)
			}
		})
	}
}

// TestRedactAnsweredLines shows the dialogue rules behind
// TestRedactMidFlowCapture one by one, and the POP3 and SMTP command forms
// an attacker would try (tab, leading space, lower case).
func TestRedactAnsweredLines(t *testing.T) {
	tests := []struct {
		name   string
		proto  Protocol
		script string
		want   string
	}{
		{"smtp client lines before the first reply are hidden", ProtoSMTP,
			"CdXNlcg==\r\n|S334 UGFzc3dvcmQ6\r\n|CcGFzcw==\r\n|S235 ok\r\n|CMAIL FROM:<a@b>\r\n|S250 ok\r\n",
			"C> [redacted]  (" + noteUnknown + ")\nS< 334 UGFzc3dvcmQ6\nC> [redacted]\nS< 235 ok\nC> MAIL FROM:<a@b>\nS< 250 ok"},
		{"smtp a line answered by 535 is hidden after the fact", ProtoSMTP,
			"S220 mx\r\n|CcGFzcw==\r\n|S535 5.7.8 no\r\n|CQUIT\r\n",
			"S< 220 mx\nC> [redacted]  (" + noteAnswer + ")\nS< 535 5.7.8 no\nC> QUIT"},
		{"smtp a line answered by 235 is hidden after the fact", ProtoSMTP,
			"S220 mx\r\n|CcGFzcw==\r\n|S235 ok\r\n",
			"S< 220 mx\nC> [redacted]  (" + noteAnswer + ")\nS< 235 ok"},
		{"smtp a line answered by 334 is hidden, and what follows", ProtoSMTP,
			"S220 mx\r\n|CRSET\r\n|S250 ok\r\n|CdXNlcg==\r\n|S334 UGFzc3dvcmQ6\r\n|CcGFzcw==\r\n|S235 ok\r\n|CNOOP\r\n",
			"S< 220 mx\nC> RSET\nS< 250 ok\nC> [redacted]  (" + noteAnswer + ")\nS< 334 UGFzc3dvcmQ6\nC> [redacted]\nS< 235 ok\nC> NOOP"},
		{"smtp a run of hidden lines is one event, its credentials still kept out", ProtoSMTP,
			"Cline one\r\nPASS c2VjcmV0LXBs\r\n|Cline three\r\n|S250 ok c2VjcmV0LXBs\r\n|CNOOP\r\n",
			"C> [redacted]  (3 lines " + noteUnknown + ")\nS< 250 ok [redacted]\nC> NOOP"},
		{"smtp a gap makes the context unknown again", ProtoSMTP,
			"S220 mx\r\n|GC|Cpart\r\n|CcGFzcw==\r\n|S235 ok\r\n|CNOOP\r\n",
			"S< 220 mx\nC> [gap: 1 bytes not captured]\nC> [redacted]  (" + noteUnknown + ")\nS< 235 ok\nC> NOOP"},
		{"smtp AUTH with a tab and in lower case", ProtoSMTP,
			"S220 mx\r\n|Cauth\tplain\tAGFsaWNlAHNlY3JldA==\r\n|S235 ok\r\n|C AUTH LOGIN dXNlcg==\r\n|S503 already\r\n",
			"S< 220 mx\nC> auth\tplain [redacted]\nS< 235 ok\nC>  AUTH LOGIN [redacted]\nS< 503 already"},
		{"smtp echo of a credential taken for a command", ProtoSMTP,
			"S220 mx\r\n|CAUTH LOGIN\r\nYWJj\r\n|S504 5.5.4 unrecognized mechanism\r\n|S500 5.5.2 Syntax errors, YWJJ command unrecognized\r\n",
			"S< 220 mx\nC> AUTH LOGIN\nC> [redacted]\nS< 504 5.5.4 unrecognized mechanism\nS< 500 5.5.2 Syntax errors, [redacted] command unrecognized"},
		{"smtp a line past a refused AUTH that is no command is hidden", ProtoSMTP,
			"S220 mx\r\n|CAUTH NOPE\r\n|S504 5.5.4 unknown mechanism\r\n|CcGFzcw==\r\n|S501 bad\r\n|Cmore junk\r\n|S500 no\r\n|CNOOP\r\n|S250 ok\r\n|Cjunk\r\n",
			"S< 220 mx\nC> AUTH NOPE\nS< 504 5.5.4 unknown mechanism\nC> [redacted]  (" + noteAfter + ")\nS< 501 bad\nC> [redacted]  (" + noteAfter + ")\nS< 500 no\nC> NOOP\nS< 250 ok\nC> junk"},
		{"smtp AUTH pipelined behind STARTTLS in the clear", ProtoSMTP,
			"S220 mx\r\n|CSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n|S220 go\r\n",
			"S< 220 mx\nC> STARTTLS\nC> AUTH PLAIN [redacted]\nS< 220 go"},
		{"pop3 PASS with a tab, a leading space, in lower case", ProtoPOP3,
			"S+OK ready\r\n|CPASS\tsecret\r\n|S-ERR no\r\n|C PASS secret\r\n|S-ERR no\r\n|Cpass secret\r\n|S-ERR no\r\n",
			"S< +OK ready\nC> PASS [redacted]\nS< -ERR no\nC>  PASS [redacted]\nS< -ERR no\nC> pass [redacted]\nS< -ERR no"},
		{"pop3 APOP with tabs, or its digest alone", ProtoPOP3,
			"S+OK ready <1@x>\r\n|CAPOP\talice\t0123abcd\r\n|S-ERR no\r\n|CAPOP 0123abcd\r\n|S-ERR no\r\n",
			"S< +OK ready <1@x>\nC> APOP\talice [redacted]\nS< -ERR no\nC> APOP [redacted]\nS< -ERR no"},
		{"pop3 client lines before the first reply are hidden", ProtoPOP3,
			"CAGFsaWNlAHB3\r\n|S+OK Logged in.\r\n|CSTAT\r\n|S+OK 0 0\r\n",
			"C> [redacted]  (" + noteUnknown + ")\nS< +OK Logged in.\nC> STAT\nS< +OK 0 0"},
		{"pop3 a line answered by a challenge is hidden", ProtoPOP3,
			"S+OK ready\r\n|CAUTHX PLAIN\r\n|S+ \r\n|CAGFsaWNlAHB3\r\n|S+OK\r\n",
			"S< +OK ready\nC> [redacted]  (" + noteAnswer + ")\nS< +   (a SASL challenge without a captured AUTH command: client lines are hidden until the final reply)\nC> [redacted]\nS< +OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, seed := range []uint64{0, 1, 5} {
				f := runScript(tt.proto, []byte(tt.script), seed)
				if got := transcript(f); got != tt.want {
					t.Errorf("events (seed %d) =\n%s\nwant\n%s", seed, got, tt.want)
				}
			}
		})
	}
}
