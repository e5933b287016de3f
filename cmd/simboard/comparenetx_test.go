package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// FuzzAnalyzeBody: every issue names a line of the body (1-based, in order,
// the final-CRLF note last), and each kind holds for that line.
func FuzzAnalyzeBody(f *testing.F) {
	for _, s := range []string{"a\r\n.b\r\n", "x\ny\r\n", ".\r\n", strings.Repeat("z", 1000) + "\r\n", "\r", "", "..\n.\r.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lines := bytes.SplitAfter(body, []byte("\n"))
		last := 0
		for _, is := range analyzeBody(body) {
			if is.Line < last || is.Line < 1 {
				t.Fatalf("issues out of order: %+v after line %d", is, last)
			}
			last = is.Line
			if is.Kind == "final-crlf" {
				if !bytes.HasSuffix(body, []byte("\r\n")) {
					t.Fatalf("final-crlf for a body not ending in CRLF")
				}
				continue
			}
			if is.Line > len(lines) {
				t.Fatalf("issue %+v beyond the %d lines", is, len(lines))
			}
			l := lines[is.Line-1]
			switch is.Kind {
			case "leading-dot", "lone-dot":
				if len(l) == 0 || l[0] != '.' {
					t.Fatalf("%s on line %q", is.Kind, l)
				}
			case "bare-lf":
				if !bytes.HasSuffix(l, []byte("\n")) || bytes.HasSuffix(l, []byte("\r\n")) {
					t.Fatalf("bare-lf on line %q", l)
				}
			case "long-line":
				if len(bytes.TrimRight(l, "\r\n")) <= compareMaxLine {
					t.Fatalf("long-line on a %d-octet line", len(l))
				}
			}
		}
	})
}

// tcpFrame builds an Ethernet/IPv4/TCP frame to port 25.
func tcpFrame(seq uint32, flags byte, payload []byte) []byte {
	f := make([]byte, 14+20+20+len(payload))
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(40+len(payload)))
	ip[9] = 6
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[2:], 25)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12] = 5 << 4
	tcp[13] = flags
	copy(tcp[20:], payload)
	return f
}

// TestRecordLinkStream: the recorded stream places segments by sequence
// number, so a retransmission or reordering does not change it.
func TestRecordLinkStream(t *testing.T) {
	r := &recordLink{port: 25}
	r.record(tcpFrame(1000, 0x02, nil))
	r.record(tcpFrame(1001+6, 0x18, []byte("MAIL\r\n")))
	r.record(tcpFrame(1001, 0x18, []byte("EHLO\r\n")))
	r.record(tcpFrame(1001, 0x18, []byte("EHLO\r\n"))) // retransmission
	if got := string(r.stream()); got != "EHLO\r\nMAIL\r\n" {
		t.Fatalf("stream = %q", got)
	}
}

// FuzzRecordLink: arbitrary frames never panic the recorder, and the stream
// never grows beyond the 4 MiB gap it accepts plus what the frames carry.
func FuzzRecordLink(f *testing.F) {
	f.Add(tcpFrame(7, 0x02, nil), tcpFrame(8, 0x18, []byte("hello")))
	f.Add([]byte{0, 1, 2}, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		r := &recordLink{port: 25}
		r.record(a)
		r.record(b)
		if n := len(r.stream()); n > 2*(4<<20)+len(a)+len(b) {
			t.Fatalf("stream of %d octets", n)
		}
	})
}
