package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/simboard/simboard/internal/redact"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// independentTCPBytes reads the capture with the package's reader but
// decodes every packet with gopacket.NewPacket (not the analyzer's
// DecodingLayerParser) and sums the TCP payload bytes of the packets whose
// layers the analyzer handles. It stops where Analyze stops.
func independentTCPBytes(t *testing.T, in []byte) int64 {
	c, err := openCapture(bytes.NewReader(in))
	if err != nil {
		return 0
	}
	var sum int64
	for {
		data, _, lt, err := c.next()
		if err != nil {
			return sum
		}
		if !linkSupported(lt) {
			continue
		}
		first, data, ok := firstLayer(lt, data)
		if !ok || first == gopacket.LayerTypeZero {
			continue
		}
		pkt := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true})
		var tcp *layers.TCP
	walk:
		for _, l := range pkt.Layers() {
			switch l.LayerType() {
			case layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLoopback, layers.LayerTypeDot1Q,
				layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6HopByHop,
				layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			case layers.LayerTypeTCP:
				tcp = l.(*layers.TCP)
				break walk
			default:
				break walk
			}
		}
		if tcp != nil && pkt.ErrorLayer() == nil {
			sum += int64(len(tcp.Payload))
		}
	}
}

// FuzzAnalyze checks, on any input, that Analyze returns a report or an
// error as documented, that its counts add up and agree with an
// independent decoding, that the output renders, and that no client line
// shown carries a credential (checkShownCommand).
func FuzzAnalyze(f *testing.F) {
	b := session(f)
	for _, e := range encaps {
		f.Add(b.pcap(e))
	}
	f.Add(b.pcapng())
	good := b.pcap(ethernetEncap)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\xd4\xc3\xb2\xa1garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		// TRACE_FUZZ_COUNT=file appends a line per input: a way to see the
		// workers' real progress while the coordinator shows 0 execs/sec
		// (golang/go#51484).
		if name := os.Getenv("TRACE_FUZZ_COUNT"); name != "" {
			if fh, err := os.OpenFile(fmt.Sprintf("%s.%d", name, os.Getpid()), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(fh, "%d %d\n", time.Now().UnixMilli(), len(in))
				fh.Close()
			}
		}
		rep, err := Analyze(bytes.NewReader(in), Options{})
		if errors.Is(err, errReaderPanic) {
			t.Fatalf("Analyze: %v", err)
		}
		if rep == nil {
			if err == nil {
				t.Fatalf("Analyze() = nil, nil")
			}
			return
		}
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Analyze() = report and %v, want the error to wrap ErrTruncated or ErrCorrupt", err)
		}
		c := rep.Packets
		if sum := c.TCP + c.UDP + c.ARP + c.ICMPv4 + c.ICMPv6 + c.Fragments + c.Other + c.Malformed; sum != c.Total {
			t.Fatalf("packet kinds add up to %d, total %d: %+v", sum, c.Total, c)
		}
		var flowBytes int64
		segs := 0
		for _, fl := range rep.Flows {
			for _, st := range []StreamStats{fl.ClientToServer, fl.ServerToClient} {
				flowBytes += st.Bytes
				segs += st.Segments
				if st.StreamBytes > st.Bytes || st.StreamBytes < 0 || st.MissingBytes < 0 {
					t.Fatalf("flow %d: stream %d, captured %d, missing %d bytes", fl.ID, st.StreamBytes, st.Bytes, st.MissingBytes)
				}
			}
			if len(fl.Events) > DefaultMaxEvents {
				t.Fatalf("flow %d has %d events, limit %d", fl.ID, len(fl.Events), DefaultMaxEvents)
			}
			for _, e := range fl.Events {
				if e.Kind == KindAuth && e.Text != redacted && e.Text != "*" {
					t.Fatalf("auth event shows %q", e.Text)
				}
				checkShownCommand(t, e)
			}
		}
		if want := independentTCPBytes(t, in); flowBytes != want || rep.TCP.Bytes != want {
			t.Fatalf("flows hold %d payload bytes (totals %d), gopacket decodes %d", flowBytes, rep.TCP.Bytes, want)
		}
		if segs != c.TCP || rep.TCP.Segments != c.TCP {
			t.Fatalf("flows hold %d segments (totals %d), %d TCP packets", segs, rep.TCP.Segments, c.TCP)
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatalf("WriteText() = %v", err)
		}
		var js bytes.Buffer
		if err := rep.WriteJSON(&js); err != nil {
			t.Fatalf("WriteJSON() = %v", err)
		}
		var back map[string]any
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatalf("WriteJSON output does not parse: %v", err)
		}
	})
}

// checkShownCommand fails when a client command line as shown still
// carries a credential: read the tolerant way (redact.Command), the part
// after PASS, the APOP name or the AUTH mechanism must be (or hold) the
// marker.
func checkShownCommand(t *testing.T, e Event) {
	t.Helper()
	if e.From != Client || e.Kind != KindCommand {
		return
	}
	for _, l := range e.Lines {
		// clean shows control bytes, which separate words, as \x00-\x1f, \x7f.
		// A line a credential seen earlier was scrubbed from reads
		// differently (AUTH X0000 becomes AUTH X[redacted]); the
		// scrubbing itself is checked by scriptSecrets.
		_, sec, ok := redact.Command(escapes.ReplaceAllString(l, " "))
		if ok && !strings.Contains(sec, redacted) {
			t.Fatalf("a client line shows the credential %q: %+v", sec, e)
		}
	}
}

var escapes = regexp.MustCompile(`\\x(?:[01][0-9a-f]|7f)`) // control bytes only

// runScript feeds a dialogue a script of messages "C..." (client) and
// "S..." (server) separated by '|', each whole or, with a seed, cut into
// pieces of 1 to 7 bytes, all at time t0. "GC" and "GS" (followed by
// anything) are a gap of 1 byte in the client's or the server's stream.
func runScript(proto Protocol, script []byte, seed uint64) *Flow {
	fs := &flowState{f: &Flow{Protocol: proto, Events: []Event{}}, maxEvents: -1}
	var d dialogue
	if proto == ProtoPOP3 {
		d = newPOP3(fs)
	} else {
		d = newSMTP(fs)
	}
	for _, m := range bytes.Split(script, []byte("|")) {
		if len(m) == 0 {
			continue
		}
		side, body := Client, m[1:]
		if m[0] == 'G' {
			if len(m) > 1 && m[1] == 'S' {
				side = Server
			}
			d.gap(side, 1, t0)
			continue
		}
		if m[0] == 'S' {
			side = Server
		}
		for len(body) > 0 {
			n := len(body)
			if seed != 0 {
				n = min(n, int(1+seed%7))
				seed = seed*6364136223846793005 + 1442695040888963407
				seed |= 1
			}
			d.data(side, body[:n], t0)
			body = body[n:]
		}
	}
	d.end(t0)
	return fs.f
}

// scriptSecrets returns the credentials a runScript script identifies
// without doubt: the argument of PASS, the APOP digest and an AUTH initial
// response (redact.Command), a one-word SMTP client line that follows a 334
// reply, a one-word client line sent before the server's first final reply
// or after a gap, and a one-word client line that is no command right
// after an AUTH line. It keeps those of at least redact.MinSecret printable
// characters (no backslash, which clean uses for escapes) that occur once
// in the script, ignoring case: a string the script also sends elsewhere
// may rightly be shown there. It stops at the first BDAT line: a chunk is
// not lines, so the script's lines and the dialogue's part there.
func scriptSecrets(pop bool, script []byte) []string {
	var buf [2][]byte
	var discard [2]bool
	known, challenged, afterAuth := false, false, false
	isVerb := redact.SMTPVerb
	if pop {
		isVerb = redact.POP3Verb
	}
	var found []string
	var all []string // every line of both sides as clean shows it, upper case
scan:
	for _, m := range bytes.Split(script, []byte("|")) {
		if len(m) == 0 {
			continue
		}
		side := 0
		if m[0] == 'G' {
			if len(m) > 1 && m[1] == 'S' {
				side = 1
			}
			buf[side], discard[side], known = nil, true, false
			continue
		}
		if m[0] == 'S' {
			side = 1
		}
		for _, c := range m[1:] {
			if c != '\n' {
				buf[side] = append(buf[side], c)
				continue
			}
			line := string(bytes.TrimSuffix(buf[side], []byte{'\r'}))
			buf[side] = nil
			// as a line, and as a verb (strings.ToUpper turns invalid
			// UTF-8 into U+FFFD, which clean shows as other escapes)
			all = append(all, strings.ToUpper(clean([]byte(line))), strings.ToUpper(clean([]byte(strings.ToUpper(line)))))
			if discard[side] {
				discard[side] = false
				continue
			}
			if side == 1 {
				code, more, _, ok := parseSMTPReply([]byte(line))
				final := !pop && ok && !more
				challenged = final && code == 334
				if final && code != 334 || pop && (strings.HasPrefix(line, "+OK") || strings.HasPrefix(line, "-ERR")) {
					known = true
				}
				continue
			}
			verb, _ := redact.Split(line)
			if !pop && strings.EqualFold(verb, "BDAT") {
				break scan
			}
			if _, sec, ok := redact.Command(line); ok {
				found = append(found, sec)
			}
			if (challenged || !known || afterAuth && !isVerb(verb)) && redact.Token(line) {
				found = append(found, line)
			}
			challenged, afterAuth = false, strings.EqualFold(verb, "AUTH")
		}
	}
	for _, b := range buf {
		all = append(all, strings.ToUpper(clean(b)), strings.ToUpper(clean([]byte(strings.ToUpper(string(b))))))
	}
	var out []string
	for _, sec := range found {
		u := strings.ToUpper(sec)
		if len(sec) < redact.MinSecret || strings.ContainsFunc(sec, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '\\' }) ||
			strings.Contains(strings.ToUpper(redacted), u) {
			continue
		}
		n := 0
		for _, l := range all {
			n += strings.Count(l, u)
		}
		if n == 1 {
			out = append(out, sec)
		}
	}
	return out
}

// FuzzDialogue checks that the SMTP and POP3 dialogues give the same events
// however the byte streams are cut into segments, that credentials stay
// redacted, and that no credential the script identifies (scriptSecrets)
// appears in any event.
func FuzzDialogue(f *testing.F) {
	f.Add(false, []byte("S220 mx\r\n|CEHLO b\r\n|S250-mx\r\n250 AUTH PLAIN\r\n|CAUTH PLAIN AGFsaWNlAHB3\r\n|S235 ok\r\n|CDATA\r\n|S354 go\r\n|Chi\r\n..x\r\n.\r\n|S250 ok\r\n|CBDAT 5 LAST\r\nabcde|S250 ok\r\n|CSTARTTLS\r\n|S220 go\r\n\x16\x03|C\x16\x03\x01"), uint64(7))
	f.Add(false, []byte("S220 mx\r\n|CAUTH LOGIN\r\n|S334 VXNlcm5hbWU6\r\n|CdXNlcg==\r\n|S334 UGFzc3dvcmQ6\r\n|CcGFzcw==\r\n|S535 no\r\n|CQUIT"), uint64(3))
	f.Add(false, []byte("CdXNlcg==\r\n|S334 UGFzc3dvcmQ6\r\n|CcGFzc3dvcmQ=\r\n|S235 ok\r\n|S220 mx\r\n|GC|CcGFzcw==\r\n|S535 no\r\n|CYWJj\r\n|S500 YWJJ unknown\r\n"), uint64(5))
	f.Add(true, []byte("C PASS\tsecret-pw\r\n|S+OK\r\n|CAPOP\tu\t0123abcd\r\n|S+ \r\n|CQUJDREVG\r\n|S-ERR\r\n"), uint64(9))
	f.Add(true, []byte("S+OK hi <1@x>\r\n|CAPOP u 0123abcd\r\n|S-ERR no\r\n|CUSER u\r\n|S+OK\r\n|CPASS p w\r\n|S+OK\r\n|CLIST\r\n|S+OK\r\n1 5\r\n.\r\n|CRETR 1\r\n|S+OK\r\nab\r\n..c\r\n.\r\n|CAUTH PLAIN\r\n|S+ \r\n|Csecret\r\n|S+OK\r\n|CSTLS\r\n|S+OK\r\n"), uint64(11))
	f.Fuzz(func(t *testing.T, pop bool, script []byte, seed uint64) {
		proto := ProtoSMTP
		if pop {
			proto = ProtoPOP3
		}
		whole := runScript(proto, script, 0)
		cut := runScript(proto, script, seed|1)
		if !reflect.DeepEqual(whole.Events, cut.Events) {
			g, _ := json.Marshal(cut.Events)
			w, _ := json.Marshal(whole.Events)
			t.Fatalf("events depend on segmentation:\n cut   %s\n whole %s", g, w)
		}
		for _, sec := range scriptSecrets(pop, script) {
			for _, e := range whole.Events {
				for _, field := range append([]string{e.Verb, e.Text}, e.Lines...) {
					if strings.Contains(strings.ToUpper(field), strings.ToUpper(sec)) {
						t.Fatalf("the credential %q is shown: %+v", sec, e)
					}
				}
			}
		}
		for _, e := range whole.Events {
			checkShownCommand(t, e)
			switch {
			case e.Kind == KindAuth && e.Text != redacted && e.Text != "*":
				t.Fatalf("auth continuation shown: %+v", e)
			case e.Verb == "PASS" && e.Kind == KindCommand && e.Text != "" && e.Text != redacted:
				t.Fatalf("PASS argument shown: %+v", e)
			case e.Verb == "AUTH" && e.Kind == KindCommand && len(strings.Fields(escapes.ReplaceAllString(e.Text, " "))) > 1 && !e.Redacted:
				t.Fatalf("AUTH initial response shown: %+v", e)
			}
		}
	})
}
