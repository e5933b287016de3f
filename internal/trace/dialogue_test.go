package trace

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var timeCol = regexp.MustCompile(`^ +([0-9]+\.[0-9]{6})? +`)

// transcript renders a flow's events as text without the time column.
func transcript(f *Flow) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	for i := range f.Events {
		f.Events[i].writeText(w)
	}
	w.Flush()
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		out = append(out, timeCol.ReplaceAllString(l, ""))
	}
	return strings.Join(out, "\n")
}

func TestDialogues(t *testing.T) {
	tests := []struct {
		name   string
		proto  Protocol
		script string
		want   string
	}{
		{"smtp DATA refused, next command read as a command", ProtoSMTP,
			"S220 mx\r\n|CDATA\r\n|S503 need RCPT\r\n|CQUIT\r\n|S221 bye\r\n",
			"S< 220 mx\nC> DATA\nS< 503 need RCPT\nC> QUIT\nS< 221 bye"},
		{"smtp BDAT chunks", ProtoSMTP,
			"S220 mx\r\n|CBDAT 8\r\nab\r\ncd\r\n|S250 ok\r\n|CBDAT 0 LAST\r\n|S250 done\r\n",
			"S< 220 mx\nC> BDAT 8\nC> [data: 8 bytes, 2 lines]\nS< 250 ok\nC> BDAT 0 LAST\nC> [data: 0 bytes, 0 lines]\nS< 250 done"},
		{"smtp STARTTLS refused stays plain", ProtoSMTP,
			"S220 mx\r\n|CSTARTTLS\r\n|S454 not now\r\n|CQUIT\r\n",
			"S< 220 mx\nC> STARTTLS\nS< 454 not now\nC> QUIT"},
		{"smtp client hello captured before the 220", ProtoSMTP,
			"S220 mx\r\n|CSTARTTLS\r\n|C\x16\x03\x01\x00\x02hi|S220 go\r\n|S\x16\x03\x03",
			"S< 220 mx\nC> STARTTLS\nC> [TLS, 7 bytes]\nS< 220 go\nS< [TLS, 3 bytes]"},
		{"smtp AUTH cancelled", ProtoSMTP,
			"S220 mx\r\n|CAUTH CRAM-MD5\r\n|S334 PDEyMzQ+\r\n|C*\r\n|S501 cancelled\r\n|CNOOP\r\n",
			"S< 220 mx\nC> AUTH CRAM-MD5\nS< 334 PDEyMzQ+\nC> *\nS< 501 cancelled\nC> NOOP"},
		{"smtp XOAUTH2 with initial response", ProtoSMTP,
			"S220 mx\r\n|CAUTH XOAUTH2 dXNlcj1zZWNyZXQ=\r\n|S334 eyJzdGF0dXMiOiI0MDEifQ==\r\n|C\r\n|S535 no\r\n",
			"S< 220 mx\nC> AUTH XOAUTH2 [redacted]\nS< 334 eyJzdGF0dXMiOiI0MDEifQ==\nC> [redacted]\nS< 535 no"},
		{"smtp unanswered AUTH keeps redacting", ProtoSMTP,
			"S220 mx\r\n|CAUTH LOGIN\r\n|Cc2VjcmV0\r\n|Cc2VjcmV0Mg==\r\n",
			"S< 220 mx\nC> AUTH LOGIN\nC> [redacted]\nC> [redacted]"},
		{"smtp unsolicited 421 and a malformed line", ProtoSMTP,
			"S220 mx\r\n|S421 timeout\r\n|Sgarbage\r\n",
			"S< 220 mx\nS< 421 timeout\nS< garbage  (not an SMTP reply line)"},
		{"smtp escapes and a partial last line", ProtoSMTP,
			"S220 \x1b[31mred\r\n|CEHLO caf\xc3\xa9",
			"S< 220 \\x1b[31mred\nC> EHLO caf\\xc3\\xa9  (no line end before the capture ended)"},
		{"smtp body cut by the end of the capture", ProtoSMTP,
			"S220 mx\r\n|CDATA\r\n|S354 go\r\n|Cline\r\npart",
			"S< 220 mx\nC> DATA\nS< 354 go\nC> [data: 10 bytes, 2 lines]  (the capture ended before the end of the message)"},
		{"smtp bare LF line ends", ProtoSMTP,
			"S220 mx\n|CDATA\n|S354 go\n|Ca\n..b\n.\n|S250 ok\n",
			"S< 220 mx\nC> DATA\nS< 354 go\nC> [data: 7 bytes, 2 lines]\nS< 250 ok"},
		{"pop3 TOP, UIDL listing, DELE error", ProtoPOP3,
			"S+OK ready\r\n|CTOP 1 0\r\n|S+OK\r\nSubject: x\r\n\r\n.\r\n|CUIDL\r\n|S+OK\r\n1 abc\r\n.\r\n|CDELE 9\r\n|S-ERR no such message\r\n",
			"S< +OK ready\nC> TOP 1 0\nS< +OK\nS< [data: 14 bytes, 2 lines]\nC> UIDL\nS< +OK\nS< 1 abc\nS< .\nC> DELE 9\nS< -ERR no such message"},
		{"pop3 RETR refused is not multi-line", ProtoPOP3,
			"S+OK ready\r\n|CRETR 5\r\n|S-ERR no such message\r\n|CQUIT\r\n|S+OK bye\r\n",
			"S< +OK ready\nC> RETR 5\nS< -ERR no such message\nC> QUIT\nS< +OK bye"},
		{"pop3 pipelined", ProtoPOP3,
			"S+OK ready\r\n|CSTAT\r\nLIST 1\r\nRETR 1\r\n|S+OK 1 3\r\n+OK 1 3\r\n+OK\r\nab\r\n.\r\n",
			"S< +OK ready\nC> STAT\nC> LIST 1\nC> RETR 1\nS< +OK 1 3\nS< +OK 1 3\nS< +OK\nS< [data: 4 bytes, 1 lines]"},
		{"pop3 STLS", ProtoPOP3,
			"S+OK ready\r\n|CSTLS\r\n|S+OK Begin TLS\r\n\x16\x03\x03|C\x16\x03\x01\x00",
			"S< +OK ready\nC> STLS\nS< +OK Begin TLS\nS< [TLS, 3 bytes]\nC> [TLS, 4 bytes]"},
		{"pop3 AUTH with initial response and PASS with spaces", ProtoPOP3,
			"S+OK ready\r\n|CAUTH PLAIN AGEAYg==\r\n|S-ERR no\r\n|CUSER a\r\n|S+OK\r\n|CPASS two words\r\n|S+OK\r\n",
			"S< +OK ready\nC> AUTH PLAIN [redacted]\nS< -ERR no\nC> USER a\nS< +OK\nC> PASS [redacted]\nS< +OK"},
		{"pop3 challenge outside AUTH hides the client's lines until the final reply", ProtoPOP3,
			"S+OK ready\r\n|S+ hello\r\n|Cc2VjcmV0\r\n|S-ERR no\r\n|CQUIT\r\n",
			"S< +OK ready\nS< + hello  (a SASL challenge without a captured AUTH command: client lines are hidden until the final reply)\n" +
				"C> [redacted]\nS< -ERR no\nC> QUIT"},
		{"pop3 malformed status line", ProtoPOP3,
			"S+OK ready\r\n|S+hello\r\n",
			"S< +OK ready\nS< +hello  (not a POP3 status line)"},
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

func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", 5000)
	f := runScript(ProtoSMTP, []byte("S220 mx\r\n|CAUTH PLAIN "+long+"\r\n|S235 ok\r\n|CHELO "+strings.Repeat("y", 5000)+"\r\n"), 0)
	if len(f.Events) != 4 {
		t.Fatalf("%d events, want 4", len(f.Events))
	}
	if e := f.Events[1]; e.Text != "PLAIN "+redacted || !strings.Contains(e.Note, "cut") {
		t.Errorf("long AUTH line = %+v, want redacted with a note", e)
	}
	if e := f.Events[3]; len(e.Lines[0]) != maxLine || !strings.Contains(e.Note, "cut") {
		t.Errorf("long HELO line kept %d bytes (note %q), want %d and a note", len(e.Lines[0]), e.Note, maxLine)
	}
}

func TestMultiLineCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("S+OK ready\r\n|CUIDL\r\n|S+OK\r\n")
	for i := range maxGroupLines + 50 {
		b.WriteString("1 x" + strings.Repeat("y", i%3) + "\r\n")
	}
	b.WriteString(".\r\n")
	f := runScript(ProtoPOP3, []byte(b.String()), 0)
	e := f.Events[len(f.Events)-1]
	if len(e.Lines) != maxGroupLines || !strings.Contains(e.Note, "52 more lines") {
		t.Errorf("listing kept %d lines, note %q; want %d and 52 more (50 + status, terminator)", len(e.Lines), e.Note, maxGroupLines)
	}
}
