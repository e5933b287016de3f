package pop3c

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// refDecode is a line-by-line reference for decoder: split the stream into
// lines after each LF, stop at the line ".\r\n", drop one leading dot from
// every other line, and drop the line ending of the last line (it belongs
// to the terminator). ok is false when the stream has no terminator.
func refDecode(wire []byte) (data []byte, rest []byte, ok bool) {
	var out []byte
	var lastEOL int
	for len(wire) > 0 {
		i := bytes.IndexByte(wire, '\n')
		if i < 0 {
			return nil, nil, false
		}
		line := wire[:i+1]
		wire = wire[i+1:]
		if string(line) == ".\r\n" {
			return out[:len(out)-lastEOL], wire, true
		}
		if line[0] == '.' {
			line = line[1:]
		}
		lastEOL = 1
		if bytes.HasSuffix(line, []byte("\r\n")) {
			lastEOL = 2
		}
		out = append(out, line...)
	}
	return nil, nil, false
}

// decodeSplit runs the decoder over wire cut at the given offsets.
func decodeSplit(wire []byte, cuts ...int) (data []byte, consumed int, done bool) {
	var d decoder
	prev := 0
	cuts = append(cuts, len(wire))
	for _, c := range cuts {
		if c < prev {
			continue
		}
		chunk := wire[prev:c]
		var n int
		data, n, done = d.decode(data, chunk)
		consumed += n
		if done {
			return data, consumed, true
		}
		prev = c
	}
	return data, consumed, false
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name, wire, want string
	}{
		{"empty message", ".\r\n", ""},
		{"empty via CRLF.CRLF", "\r\n.\r\n", ""},
		{"one line", "hello\r\n.\r\n", "hello"},
		{"two lines", "a\r\nb\r\n.\r\n", "a\r\nb"},
		{"blank line kept", "a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb"},
		{"trailing blank line", "a\r\n\r\n.\r\n", "a\r\n"},
		{"stuffed dot", "..\r\n.\r\n", "."},
		{"stuffed dot line", "a\r\n..b\r\n.\r\n", "a\r\n.b"},
		{"unstuffed dot is dropped", "a\r\n.b\r\n.\r\n", "a\r\nb"},
		{"first line stuffed", "..x\r\n.\r\n", ".x"},
		{"dot CR not LF", "a\r\n.\rb\r\n.\r\n", "a\r\n\rb"},
		{"dot CR CR LF", "a\r\n.\r\r\n.\r\n", "a\r\n\r"},
		{"bare LF starts a line", "a\n.\nb\r\n.\r\n", "a\n\nb"},
		{"bare LF stuffed", "a\n..b\r\n.\r\n", "a\n.b"},
		{"bare LF before terminator", "a\n.\r\n", "a"},
		{"bare LF last line", "a\n\r\n.\r\n", "a\n"},
		{"bare CR is data", "a\rb\r\n.\r\n", "a\rb"},
		{"CR run", "a\r\r\r\n.\r\n", "a\r\r"},
		{"dot not at line start", "a.b\r\n.\r\n", "a.b"},
		{"NetX last packet", "ed;\r\n d=x;\r\nencoding:fr\r\n.\r\n", "ed;\r\n d=x;\r\nencoding:fr"},
		{"terminator after data stuffed as terminator", "x\r\n..\r\n.\r\n", "x\r\n."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := []byte(tt.wire + "+OK next")
			ref, rest, ok := refDecode(wire)
			if !ok || string(ref) != tt.want || string(rest) != "+OK next" {
				t.Fatalf("refDecode(%q) = %q, %q, %v; the table is wrong", wire, ref, rest, ok)
			}
			// Every single split point, and every pair of split points.
			for i := 0; i <= len(wire); i++ {
				for j := i; j <= len(wire); j++ {
					got, n, done := decodeSplit(wire, i, j)
					if !done || string(got) != tt.want || n != len(tt.wire) {
						t.Fatalf("decode(%q split at %d,%d) = %q, consumed %d, done %v; want %q, %d, true",
							wire, i, j, got, n, done, tt.want, len(tt.wire))
					}
				}
			}
			// Byte at a time.
			cuts := make([]int, len(wire))
			for i := range cuts {
				cuts[i] = i
			}
			if got, _, _ := decodeSplit(wire, cuts...); string(got) != tt.want {
				t.Errorf("decode(%q byte by byte) = %q, want %q", wire, got, tt.want)
			}
		})
	}
}

func TestDecoderUnterminated(t *testing.T) {
	for _, wire := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", ".", ".\r", "\r\n..\r\n"} {
		got, n, done := decodeSplit([]byte(wire))
		if done || n != len(wire) {
			t.Errorf("decode(%q) = %q, %d, done %v; want not done, all consumed", wire, got, n, done)
		}
	}
}

func TestDecoderLastEOL(t *testing.T) {
	tests := []struct {
		wire string
		want uint8
	}{
		{".\r\n", 0},
		{"\r\n.\r\n", 2},
		{"a\r\n.\r\n", 2},
		{"a\n.\r\n", 1},
	}
	for _, tt := range tests {
		var d decoder
		_, _, done := d.decode(nil, []byte(tt.wire))
		if !done || d.lastEOL != tt.want {
			t.Errorf("decode(%q): done %v lastEOL %d, want true, %d", tt.wire, done, d.lastEOL, tt.want)
		}
	}
}

func TestStuffRoundTrip(t *testing.T) {
	for _, data := range []string{"", ".", "..", "\r\n", "\r\n.", ".\r\n.", "a\r\n.\r\nb", "x\r", "\r", "\n", "\n.\n", "..\r\n..\r\n", "a\r\n\r\n.\r\n", "\r\r\n.", "a\n.\r\n"} {
		wire := stuff(nil, []byte(data))
		got, n, done := decodeSplit(wire)
		if !done || n != len(wire) || string(got) != data {
			t.Errorf("decode(stuff(%q) = %q) = %q, %d, %v; want %q, %d, true", data, wire, got, n, done, data, len(wire))
		}
	}
}

func TestPassThrough(t *testing.T) {
	tests := []struct {
		name  string
		st    decState
		chunk string
		want  bool
	}{
		{"mid-line data", decData, "abc def", true},
		{"ends with LF after CR", decData, "abc\r\n", false},
		{"ends with CR", decData, "abc\r", false},
		{"ends with bare LF", decData, "abc\n", false},
		{"dot after bare LF", decData, "a\n.b", false},
		{"complete lines inside", decData, "a\r\nb\r\nc", true},
		{"dot line inside", decData, "a\r\n.b", false},
		{"start plain", decStart, "Received: x", true},
		{"start dot", decStart, ".x", false},
		{"withheld CR", decCR, "abc", false},
		{"withheld CRLF", decLS, "abc", false},
		{"empty", decData, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder{st: tt.st}
			ref := decoder{st: tt.st}
			got := d.passThrough([]byte(tt.chunk))
			if got != tt.want {
				t.Fatalf("passThrough(%q) in state %d = %v, want %v", tt.chunk, tt.st, got, tt.want)
			}
			if got {
				out, n, done := ref.decode(nil, []byte(tt.chunk))
				if string(out) != tt.chunk || n != len(tt.chunk) || done || ref.st != d.st {
					t.Errorf("decode(%q) = %q, %d, %v, state %d; passThrough claimed identity and state %d",
						tt.chunk, out, n, done, ref.st, d.st)
				}
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		line string
		kind replyKind
		text string
	}{
		{"+OK", replyOK, ""},
		{"+OK 2 320", replyOK, "2 320"},
		{"-ERR no such message", replyErr, "no such message"},
		{"-ERR", replyErr, ""},
		{"+ ", replyCont, ""},
		{"+", replyCont, ""},
		{"+OKAY", replyBad, ""},
		{"-ERROR x", replyBad, ""},
		{"", replyBad, ""},
		{"\n", replyBad, ""}, // NetX's abnormal-packet test input
		{"OK", replyBad, ""},
		{"ok 1", replyBad, ""},
	}
	for _, tt := range tests {
		kind, text := parseStatus([]byte(tt.line))
		if kind != tt.kind || string(text) != tt.text {
			t.Errorf("parseStatus(%q) = %d, %q; want %d, %q", tt.line, kind, text, tt.kind, tt.text)
		}
	}
}

func TestParseListings(t *testing.T) {
	stat := []struct {
		in    string
		n     int
		size  int64
		valid bool
	}{
		{"1 187402", 1, 187402, true},
		{"2 320 extra words", 2, 320, true},
		{"  3\t4", 3, 4, true},
		{"1", 0, 0, false},
		{"", 0, 0, false},
		{"x 1", 0, 0, false},
		{"1 -5", 0, 0, false},
		{"-1 5", 0, 0, false},
		{"1 99999999999999999999", 0, 0, false},
	}
	for _, tt := range stat {
		n, size, ok := parseStat([]byte(tt.in))
		if n != tt.n || size != tt.size || ok != tt.valid {
			t.Errorf("parseStat(%q) = %d, %d, %v; want %d, %d, %v", tt.in, n, size, ok, tt.n, tt.size, tt.valid)
		}
	}
	uidl := []struct {
		in    string
		n     int
		uid   string
		valid bool
	}{
		{"1 whqtswO00WBw418f9t5JxYwZ", 1, "whqtswO00WBw418f9t5JxYwZ", true},
		{"2 QhdPYR:00WBw1Ph7x7", 2, "QhdPYR:00WBw1Ph7x7", true},
		{"0 abc", 0, "", false},
		{"1", 0, "", false},
		{"1 " + string(bytes.Repeat([]byte("u"), 71)), 0, "", false},
		{"1 caf\xc3\xa9", 0, "", false},
	}
	for _, tt := range uidl {
		n, uid, ok := parseUIDListing([]byte(tt.in))
		if n != tt.n || uid != tt.uid || ok != tt.valid {
			t.Errorf("parseUIDListing(%q) = %d, %q, %v; want %d, %q, %v", tt.in, n, uid, ok, tt.n, tt.uid, tt.valid)
		}
	}
}

func TestAPOP(t *testing.T) {
	// RFC 1939 §7's example.
	greeting := []byte("POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
	ts := timestamp(greeting)
	if string(ts) != "<1896.697170952@dbc.mtview.ca.us>" {
		t.Fatalf("timestamp(%q) = %q", greeting, ts)
	}
	if got, want := apopDigest(ts, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb"; got != want {
		t.Errorf("apopDigest(%q, tanstaaf) = %s, want %s", ts, got, want)
	}
	for _, g := range []string{"ready", "ready <>", "ready <a b>", "ready <abc", "ready >x<"} {
		if ts := timestamp([]byte(g)); ts != nil {
			t.Errorf("timestamp(%q) = %q, want nil", g, ts)
		}
	}
}

func TestStatusError(t *testing.T) {
	if got, want := ErrServerErrorStatus.Error(), "pop3c: NX_POP3_SERVER_ERROR_STATUS (0xB4)"; got != want {
		t.Errorf("ErrServerErrorStatus.Error() = %q, want %q", got, want)
	}
	for s := Status(0xB1); s <= 0xB8; s++ {
		if s.Name() == "" {
			t.Errorf("Status(%#x).Name() = \"\"", uint32(s))
		}
	}
	if got := Status(0xB9).Error(); got != "pop3c: status 0xB9" {
		t.Errorf("Status(0xB9).Error() = %q", got)
	}
}

func ExampleStatus() {
	fmt.Println(ErrClientInvalidIndex)
	// Output: pop3c: NX_POP3_CLIENT_INVALID_INDEX (0xB8)
}

// TestDecodeAllocs gates the decoder's hot path at zero allocations.
func TestDecodeAllocs(t *testing.T) {
	wire := []byte(strings.Repeat("Received: from somewhere by elsewhere\r\n..stuffed\r\n", 40))
	out := make([]byte, 0, 2*len(wire))
	var d decoder
	allocs := testing.AllocsPerRun(100, func() {
		d.st = decData
		out, _, _ = d.decode(out[:0], wire)
		_ = d.passThrough(wire[:100])
	})
	if allocs != 0 {
		t.Errorf("decode allocates %.1f times per run, want 0", allocs)
	}
}

// FuzzReplyError: any -ERR text gives a *ReplyError whose RFC 2449 code and
// message put back together are the text, with Code 0 and
// ErrServerErrorStatus reachable.
func FuzzReplyError(f *testing.F) {
	for _, s := range []string{"[AUTH] bad", "[SYS/TEMP]", "no", "[", "[]x", "[IN-USE]  locked ]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		err := replyError("PASS", []byte(text))
		var re *ReplyError
		if !errors.As(err, &re) || !errors.Is(err, ErrServerErrorStatus) || re.Code != 0 || re.Stage != "PASS" {
			t.Fatalf("replyError(%q) = %v", text, err)
		}
		if strings.Contains(re.Enhanced, "]") {
			t.Fatalf("Enhanced %q holds ']'", re.Enhanced)
		}
		if re.Enhanced == "" && re.Msg != text {
			t.Fatalf("Msg = %q, want the whole text %q", re.Msg, text)
		}
		if re.Enhanced != "" && (!strings.HasPrefix(text, "["+re.Enhanced+"]") || !strings.HasSuffix(text, re.Msg)) {
			t.Fatalf("code %q, msg %q do not come from %q", re.Enhanced, re.Msg, text)
		}
	})
}
