package trace

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Secrets used in the test session; none may appear in any output.
const (
	pwPlain = "Smtp-Pl4in-Secret"
	pwPass  = "Pop3-Pass-Secret w1th space"
	pwLogin = "Login-Secret-3"
	pwSASL  = "Pop3-Sasl-Secret4"
	pwAPOP  = "Apop-Secret5"
	apopTS  = "<1896.697170952@host.example.test>"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func apopDigest() string {
	sum := md5.Sum([]byte(apopTS + pwAPOP))
	return hex.EncodeToString(sum[:])
}

// secrets are the byte strings that must never be in a report.
func secrets() []string {
	return []string{pwPlain, pwPass, "w1th space", pwLogin, pwSASL, pwAPOP, apopDigest(),
		b64("\x00alice\x00" + pwPlain), b64(pwLogin), b64("\x00alice\x00" + pwSASL), b64("alice")}
}

// The message bodies of the session, as sent (dot-stuffed) and as
// delivered.
const (
	smtpBodyA = "From: alice@example.test\r\nSubject: test\r\n\r\nline one\r\n"
	smtpBodyB = "..starts with a dot\r\nlast line\r\n.\r\n"
	// delivered: smtpBodyA + ".starts with a dot\r\nlast line\r\n"
	smtpBodySize  = len(smtpBodyA) + len(".starts with a dot\r\nlast line\r\n")
	smtpBodyLines = 6

	popMsg1 = "Subject: hello\r\n\r\n..dot line\r\n"
	popMsg2 = "end\r\n.\r\n"
	// delivered: "Subject: hello\r\n\r\n.dot line\r\nend\r\n"
	popMsgSize  = len("Subject: hello\r\n\r\n.dot line\r\nend\r\n")
	popMsgLines = 4
)

// session builds the capture the golden files describe:
//
//	flow 1  SMTP submission (587) over IPv4: EHLO with a multi-line reply
//	        split across segments, AUTH PLAIN, a retransmitted MAIL FROM,
//	        DATA with a dot-stuffed line and an out-of-order pair, QUIT
//	flow 2  POP3 (110) over IPv6: USER/PASS, STAT, LIST, RETR with the
//	        terminator split across segments, QUIT, then a client RST
//	flow 3  SMTP on port 2525 (found by its greeting): STARTTLS, then TLS
//	flow 4  SMTP (25): AUTH LOGIN, pipelined MAIL/RCPT/DATA refused
//	flow 5  POP3 (110) over IPv4: APOP refused, AUTH PLAIN with a challenge
//	flow 6  a SYN to a closed port answered by RST
//
// plus ARP, ICMPv4 echo and an ICMPv6 neighbour solicitation.
func session(t testing.TB) *capBuilder {
	b := newCapBuilder(t)
	b.arp(layers.ARPRequest, boardMAC, "198.51.100.2", nil, "198.51.100.1")
	b.arp(layers.ARPReply, hostMAC, "198.51.100.1", boardMAC, "198.51.100.2")
	b.icmpEcho("198.51.100.2", "198.51.100.1", false)
	b.icmpEcho("198.51.100.1", "198.51.100.2", true)

	s := b.conn("198.51.100.2:49152", "198.51.100.1:587", 1000, 5000)
	s.handshake()
	s.send(1, "220 mail.example.test ESMTP ready\r\n")
	s.send(0, "EHLO board\r\n")
	s.send(1, "250-mail.example.test\r\n250-PIPEL")
	s.send(1, "INING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
	s.send(0, "AUTH PLAIN "+b64("\x00alice\x00"+pwPlain)+"\r\n")
	s.send(1, "235 2.7.0 Authentication successful\r\n")
	mail := s.send(0, "MAIL FROM:<alice@example.test>\r\n")
	s.resend(mail)
	s.send(1, "250 2.1.0 Ok\r\n")
	s.send(0, "RCPT TO:<bob@example.test>\r\n")
	s.send(1, "250 2.1.5 Ok\r\n")
	s.send(0, "DATA\r\n")
	s.send(1, "354 End data with <CR><LF>.<CR><LF>\r\n")
	s.sendSwapped(0, smtpBodyA, smtpBodyB)
	s.send(1, "250 2.0.0 Ok: queued as 4F2A1\r\n")
	s.send(0, "QUIT\r\n")
	s.send(1, "221 2.0.0 Bye\r\n")
	s.fin(1)
	s.fin(0)
	s.ack(1)

	b.neighborSolicit()
	p := b.conn("[2001:db8::2]:49153", "[2001:db8::1]:110", 7000, 9000)
	p.handshake()
	p.send(1, "+OK POP3 ready\r\n")
	p.send(0, "USER alice\r\n")
	p.send(1, "+OK\r\n")
	p.send(0, "PASS "+pwPass+"\r\n")
	p.send(1, "+OK Logged in.\r\n")
	p.send(0, "STAT\r\n")
	p.send(1, fmt.Sprintf("+OK 1 %d\r\n", popMsgSize))
	p.send(0, "LIST\r\n")
	p.send(1, fmt.Sprintf("+OK 1 messages:\r\n1 %d\r\n.\r\n", popMsgSize))
	p.send(0, "RETR 1\r\n")
	p.send(1, fmt.Sprintf("+OK %d octets\r\n", popMsgSize)+popMsg1)
	p.send(1, popMsg2[:len(popMsg2)-2])
	p.send(1, popMsg2[len(popMsg2)-2:])
	p.send(0, "QUIT\r\n")
	p.send(1, "+OK Logging out.\r\n")
	p.rst(0)

	x := b.conn("198.51.100.2:49154", "198.51.100.1:2525", 11000, 13000)
	x.handshake()
	x.send(1, "220 relay.example.test ESMTP\r\n")
	x.send(0, "EHLO board\r\n")
	x.send(1, "250-relay.example.test\r\n250 STARTTLS\r\n")
	x.send(0, "STARTTLS\r\n")
	x.send(1, "220 2.0.0 Ready to start TLS\r\n")
	x.send(0, "\x16\x03\x01\x00\x05hello")
	x.send(1, "\x16\x03\x03\x00\x0bserverhello")
	x.send(0, "\x17\x03\x03\x00\x04data")
	x.fin(0)
	x.fin(1)

	l := b.conn("198.51.100.2:49155", "198.51.100.1:25", 15000, 17000)
	l.handshake()
	l.send(1, "220 mx.example.test ESMTP\r\n")
	l.send(0, "EHLO board\r\n")
	l.send(1, "250-mx.example.test\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n")
	l.send(0, "AUTH LOGIN\r\n")
	l.send(1, "334 VXNlcm5hbWU6\r\n")
	l.send(0, b64("alice")+"\r\n")
	l.send(1, "334 UGFzc3dvcmQ6\r\n")
	l.send(0, b64(pwLogin)+"\r\n")
	l.send(1, "235 2.7.0 Authentication successful\r\n")
	l.send(0, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n")
	l.send(1, "250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.test>: user unknown\r\n554 5.5.1 Error: no valid recipients\r\n")
	l.send(0, "QUIT\r\n")
	l.send(1, "221 2.0.0 Bye\r\n")
	l.fin(1)
	l.fin(0)

	a := b.conn("198.51.100.2:49156", "198.51.100.1:110", 19000, 21000)
	a.handshake()
	a.send(1, "+OK POP3 ready "+apopTS+"\r\n")
	a.send(0, "APOP alice "+apopDigest()+"\r\n")
	a.send(1, "-ERR [AUTH] Authentication failed.\r\n")
	a.send(0, "AUTH PLAIN\r\n")
	a.send(1, "+ \r\n")
	a.send(0, b64("\x00alice\x00"+pwSASL)+"\r\n")
	a.send(1, "+OK Logged in.\r\n")
	a.send(0, "CAPA\r\n")
	a.send(1, "+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN\r\n.\r\n")
	a.send(0, "QUIT\r\n")
	a.send(1, "+OK Logging out.\r\n")
	a.fin(1)
	a.fin(0)

	r := b.conn("198.51.100.2:49157", "198.51.100.1:2526", 23000, 0)
	r.emit(r.frame(0, 23000, nil, true, false, false, false))
	r.seq[0]++
	r.emit(r.frame(1, 0, nil, false, true, false, true))
	return b
}

func analyzeBytes(t *testing.T, data []byte, opts Options) *Report {
	t.Helper()
	rep, err := Analyze(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Analyze() = %v", err)
	}
	return rep
}

func renderBoth(t *testing.T, rep *Report) (text, js []byte) {
	t.Helper()
	var tb, jb bytes.Buffer
	if err := rep.WriteText(&tb); err != nil {
		t.Fatalf("WriteText() = %v", err)
	}
	if err := rep.WriteJSON(&jb); err != nil {
		t.Fatalf("WriteJSON() = %v", err)
	}
	return tb.Bytes(), jb.Bytes()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking):\n--- got\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	pcap := session(t).pcap(ethernetEncap)
	golden(t, "session.pcap", pcap)
	rep := analyzeBytes(t, pcap, Options{})
	text, js := renderBoth(t, rep)
	golden(t, "session.txt", text)
	golden(t, "session.json", js)
}

func TestRedaction(t *testing.T) {
	b := session(t)
	for _, e := range encaps {
		t.Run(e.name, func(t *testing.T) {
			rep := analyzeBytes(t, b.pcap(e), Options{})
			text, js := renderBoth(t, rep)
			for _, s := range secrets() {
				for name, out := range map[string][]byte{"text": text, "json": js} {
					if bytes.Contains(out, []byte(s)) {
						t.Errorf("%s output contains the secret %q", name, s)
					}
				}
			}
			if n := bytes.Count(text, []byte(redacted)); n != 6 {
				t.Errorf("text output has %d %q, want 6 (AUTH PLAIN, PASS, 2 LOGIN lines, APOP, SASL line)", n, redacted)
			}
		})
	}
}

func findFlow(t *testing.T, rep *Report, server string) *Flow {
	t.Helper()
	for _, f := range rep.Flows {
		if f.Server.String() == server {
			return f
		}
	}
	t.Fatalf("no flow with server %s", server)
	return nil
}

func findEvent(f *Flow, kind Kind, from Side) *Event {
	for i := range f.Events {
		if e := &f.Events[i]; e.Kind == kind && e.From == from {
			return e
		}
	}
	return nil
}

func TestSessionFacts(t *testing.T) {
	rep := analyzeBytes(t, session(t).pcap(ethernetEncap), Options{})

	wantCounts := Counts{Total: rep.Packets.Total, TCP: rep.Packets.Total - 5, ARP: 2, ICMPv4: 2, ICMPv6: 1}
	if rep.Packets != wantCounts {
		t.Errorf("Packets = %+v, want %+v", rep.Packets, wantCounts)
	}
	if rep.TCP.Flows != 6 || rep.TCP.Retransmissions != 1 || rep.TCP.OutOfOrder != 1 || rep.TCP.Resets != 2 || rep.TCP.MissingBytes != 0 {
		t.Errorf("TCP = %+v, want 6 flows, 1 retransmission, 1 out-of-order, 2 resets, 0 missing", rep.TCP)
	}

	smtp := findFlow(t, rep, "198.51.100.1:587")
	if smtp.Protocol != ProtoSMTP || smtp.DetectedBy != "port" || smtp.Roles != "handshake" {
		t.Errorf("flow 587: protocol %v by %q, roles %q; want smtp by port, handshake", smtp.Protocol, smtp.DetectedBy, smtp.Roles)
	}
	if c := smtp.ClientToServer; c.Retransmissions != 1 || c.OutOfOrder != 1 || c.Bytes-c.StreamBytes != int64(len("MAIL FROM:<alice@example.test>\r\n")) {
		t.Errorf("flow 587 client->server = %+v, want 1 retransmission of MAIL FROM and 1 out-of-order", c)
	}
	if d := findEvent(smtp, KindData, Client); d == nil || d.Bytes != int64(smtpBodySize) || d.LineCount != smtpBodyLines || d.Note != "" {
		t.Errorf("flow 587 data event = %+v, want %d bytes, %d lines", d, smtpBodySize, smtpBodyLines)
	}
	if e := findEvent(smtp, KindReply, Server); e == nil || e.Code != 220 {
		t.Errorf("flow 587 first reply = %+v, want the 220 greeting", e)
	}
	var ehlo *Event
	for i := range smtp.Events {
		if e := &smtp.Events[i]; e.Code == 250 && len(e.Lines) > 1 {
			ehlo = e
		}
	}
	if ehlo == nil || strings.Join(ehlo.Lines, "|") != "250-mail.example.test|250-PIPELINING|250-AUTH PLAIN LOGIN|250 8BITMIME" {
		t.Errorf("EHLO reply = %+v, want the four lines grouped", ehlo)
	}

	pop := findFlow(t, rep, "[2001:db8::1]:110")
	if pop.Protocol != ProtoPOP3 || !pop.RST || pop.ClientToServer.Resets != 1 {
		t.Errorf("flow pop3/IPv6: protocol %v, rst %v, client resets %d; want pop3, true, 1", pop.Protocol, pop.RST, pop.ClientToServer.Resets)
	}
	if d := findEvent(pop, KindData, Server); d == nil || d.Bytes != int64(popMsgSize) || d.LineCount != popMsgLines {
		t.Errorf("RETR data event = %+v, want %d bytes, %d lines", d, popMsgSize, popMsgLines)
	}

	tls := findFlow(t, rep, "198.51.100.1:2525")
	if tls.Protocol != ProtoSMTP || tls.DetectedBy != "content" {
		t.Errorf("flow 2525: protocol %v by %q, want smtp by content", tls.Protocol, tls.DetectedBy)
	}
	c, s := findEvent(tls, KindTLS, Client), findEvent(tls, KindTLS, Server)
	if c == nil || c.Bytes != 10+9 || s == nil || s.Bytes != 16 {
		t.Errorf("flow 2525 TLS events = %+v / %+v, want 19 client bytes and 16 server bytes", c, s)
	}

	refused := findFlow(t, rep, "198.51.100.1:2526")
	if refused.Protocol != ProtoNone || refused.ServerToClient.Resets != 1 || len(refused.Events) != 0 {
		t.Errorf("refused flow = %+v, want no protocol, one server RST, no events", refused)
	}

	for _, f := range rep.Flows {
		for _, st := range []StreamStats{f.ClientToServer, f.ServerToClient} {
			if st.StreamBytes > st.Bytes {
				t.Errorf("flow %d: stream bytes %d > captured bytes %d", f.ID, st.StreamBytes, st.Bytes)
			}
		}
	}
}

func TestLinkTypesAgree(t *testing.T) {
	b := session(t)
	base := analyzeBytes(t, b.pcap(ethernetEncap), Options{})
	for _, e := range append(encaps[1:], encap{name: "pcapng"}) {
		t.Run(e.name, func(t *testing.T) {
			var data []byte
			if e.name == "pcapng" {
				data = b.pcapng()
			} else {
				data = b.pcap(e)
			}
			rep := analyzeBytes(t, data, Options{})
			if len(rep.Flows) != len(base.Flows) {
				t.Fatalf("%d flows, want %d", len(rep.Flows), len(base.Flows))
			}
			if rep.TCP != base.TCP {
				t.Errorf("TCP = %+v, want %+v", rep.TCP, base.TCP)
			}
			// Captures without ARP start later: compare absolute times only.
			noRel := func(f *Flow) []byte {
				c := *f
				c.Events = append([]Event(nil), f.Events...)
				for i := range c.Events {
					c.Events[i].Rel = 0
				}
				b, _ := json.Marshal(c)
				return b
			}
			for i, f := range rep.Flows {
				g, w := noRel(f), noRel(base.Flows[i])
				if !bytes.Equal(g, w) {
					t.Errorf("flow %d differs from the Ethernet capture:\n got %s\nwant %s", f.ID, g, w)
				}
			}
		})
	}
}

func TestGzip(t *testing.T) {
	b := session(t)
	for name, data := range map[string][]byte{"pcap": b.pcap(ethernetEncap), "pcapng": b.pcapng()} {
		t.Run(name, func(t *testing.T) {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			plain, zipped := analyzeBytes(t, data, Options{}), analyzeBytes(t, z.Bytes(), Options{})
			pj, _ := json.Marshal(plain)
			zj, _ := json.Marshal(zipped)
			if !bytes.Equal(pj, zj) {
				t.Errorf("gzip-compressed %s gives a different report", name)
			}
		})
	}
}

func TestImplicitTLS(t *testing.T) {
	b := newCapBuilder(t)
	for _, port := range []string{"465", "995"} {
		c := b.conn("198.51.100.2:41000", "198.51.100.1:"+port, 1, 1000)
		c.handshake()
		c.send(0, "\x16\x03\x01\x00\x10client hello....")
		c.send(1, "\x16\x03\x03\x00\x10server hello")
		c.send(0, "AUTH PLAIN c2VjcmV0\r\n") // inside TLS: never parsed
		c.fin(0)
		c.fin(1)
	}
	rep := analyzeBytes(t, b.pcap(ethernetEncap), Options{})
	for i, want := range []Protocol{ProtoSMTPS, ProtoPOP3S} {
		f := rep.Flows[i]
		if f.Protocol != want {
			t.Errorf("flow %d protocol = %v, want %v", f.ID, f.Protocol, want)
		}
		text := transcript(f)
		if want := "C> [TLS, 42 bytes]\nS< [TLS, 17 bytes]"; text != want {
			t.Errorf("flow %d events =\n%s\nwant\n%s", f.ID, text, want)
		}
	}
}

func TestPortOverride(t *testing.T) {
	data := session(t).pcap(ethernetEncap)
	ports := DefaultPorts()
	ports[2525] = ProtoSMTP
	delete(ports, 110)
	rep := analyzeBytes(t, data, Options{Ports: ports})
	if f := findFlow(t, rep, "198.51.100.1:2525"); f.DetectedBy != "port" {
		t.Errorf("flow 2525 with Ports[2525]=smtp: detected by %q, want port", f.DetectedBy)
	}
	// Without port 110 listed, POP3 is still found by its greeting.
	if f := findFlow(t, rep, "198.51.100.1:110"); f.Protocol != ProtoPOP3 || f.DetectedBy != "content" {
		t.Errorf("flow 110 without Ports[110]: %v by %q, want pop3 by content", f.Protocol, f.DetectedBy)
	}
}

func TestMaxEvents(t *testing.T) {
	data := session(t).pcap(ethernetEncap)
	full := findFlow(t, analyzeBytes(t, data, Options{MaxEvents: -1}), "198.51.100.1:587")
	rep := analyzeBytes(t, data, Options{MaxEvents: 3})
	f := findFlow(t, rep, "198.51.100.1:587")
	if len(f.Events) != 3 || f.EventsDropped != len(full.Events)-3 {
		t.Errorf("MaxEvents 3: %d events kept, %d dropped; want 3 and %d", len(f.Events), f.EventsDropped, len(full.Events)-3)
	}
}

func TestSnapLength(t *testing.T) {
	b := newCapBuilder(t)
	c := b.conn("198.51.100.2:40000", "198.51.100.1:25", 1, 100)
	c.handshake()
	c.send(1, "220 mx ESMTP\r\n")
	c.send(0, "HELO b\r\n")
	c.send(1, "250 mx\r\n")
	c.send(0, "DATA\r\n")
	c.send(1, "354 go\r\n")
	c.snapLimit = 20 + 20 + 10 // IPv4 + TCP + 10 payload bytes
	body := strings.Repeat("0123456789abcdefghij\r\n", 5) + ".\r\n"
	c.send(0, body)
	c.snapLimit = 0
	c.send(1, "250 ok\r\n")
	c.send(0, "QUIT\r\n")
	rep := analyzeBytes(t, b.pcap(ethernetEncap), Options{})
	f := rep.Flows[0]
	if got, want := f.ClientToServer.MissingBytes, int64(len(body)-10); got != want {
		t.Errorf("missing bytes = %d, want %d", got, want)
	}
	if rep.Packets.Truncated != 1 {
		t.Errorf("truncated packets = %d, want 1", rep.Packets.Truncated)
	}
	if g := findEvent(f, KindGap, Client); g == nil || g.Bytes != int64(len(body)-10) {
		t.Errorf("gap event = %+v, want %d bytes", g, len(body)-10)
	}
	// The server's 250 ends the body whose terminator was not captured,
	// and QUIT is read as a command again.
	last := f.Events[len(f.Events)-1]
	if last.Verb != "QUIT" {
		t.Errorf("last event = %+v, want QUIT", last)
	}
	if d := findEvent(f, KindData, Client); d == nil || !strings.Contains(d.Note, "missing") {
		t.Errorf("data event = %+v, want a note about missing bytes", d)
	}
}

func TestDamagedInput(t *testing.T) {
	good := session(t).pcap(ethernetEncap)
	ng := session(t).pcapng()
	tests := []struct {
		name    string
		in      []byte
		wantErr error  // wrapped sentinel, or nil
		wantMsg string // substring of the error, "" = no error
		partial bool   // a report comes with the error
	}{
		{"empty", nil, nil, "empty input", false},
		{"text", []byte("hello, this is not a capture"), nil, "not a pcap or pcapng", false},
		{"short", good[:3], nil, "too short", false},
		{"header cut", good[:20], nil, "file header cut short", false},
		{"header only", good[:24], nil, "", false},
		{"record cut", good[:len(good)-7], ErrTruncated, "cut short", true},
		{"record header cut", good[:24+10], ErrTruncated, "after 0 packets", true},
		{"huge record", append(bytes.Clone(good[:24]), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f), ErrCorrupt, "exceeds snap length", true},
		{"pcapng cut", ng[:len(ng)-9], ErrTruncated, "", true},
		{"pcapng bad block", corruptNg(ng), ErrCorrupt, "bad length", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Analyze(bytes.NewReader(tt.in), Options{})
			if tt.wantMsg == "" && tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Analyze() = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Analyze() error = %v, want one containing %q wrapping %v", err, tt.wantMsg, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "trace: ") {
				t.Errorf("Analyze() error = %q, want the trace: prefix", err)
			}
			if (rep != nil) != tt.partial {
				t.Errorf("Analyze() report = %v, want a partial report: %v", rep != nil, tt.partial)
			}
		})
	}
}

// corruptNg damages the length of the second block of a pcapng file.
func corruptNg(ng []byte) []byte {
	out := bytes.Clone(ng)
	shb := int(uint32(out[4]) | uint32(out[5])<<8 | uint32(out[6])<<16 | uint32(out[7])<<24)
	out[shb+4], out[shb+5], out[shb+6], out[shb+7] = 3, 0, 0, 0
	return out
}

func TestProtocolText(t *testing.T) {
	for _, p := range []Protocol{ProtoNone, ProtoSMTP, ProtoSMTPS, ProtoPOP3, ProtoPOP3S} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatalf("%v.MarshalText() = %v", p, err)
		}
		var q Protocol
		if err := q.UnmarshalText(b); err != nil || q != p {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, q, err, p)
		}
	}
	if _, err := ParseProtocol("imap"); err == nil {
		t.Errorf("ParseProtocol(imap) = nil error, want one")
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"EHLO board", "EHLO board"},
		{"a\tb", "a\tb"},
		{"\x1b[2Jboom", `\x1b[2Jboom`},
		{"caf\xc3\xa9", `caf\xc3\xa9`},
		{"nul\x00", `nul\x00`},
	}
	for _, tt := range tests {
		if got := clean([]byte(tt.in)); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
