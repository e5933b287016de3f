package trace

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

const (
	bulkLine  = "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	bulkLines = 16384
)

// bulkCapture is one SMTP session carrying a 1 MB message (16384 lines) in 1448-byte
// segments, plus the mixed test session.
func bulkCapture(tb testing.TB) []byte {
	b := session(tb)
	c := b.conn("198.51.100.2:50000", "198.51.100.1:25", 1, 1<<31)
	c.handshake()
	c.send(1, "220 mx ESMTP\r\n")
	c.send(0, "EHLO board\r\n")
	c.send(1, "250 mx\r\n")
	c.send(0, "MAIL FROM:<a@example.test>\r\n")
	c.send(1, "250 ok\r\n")
	c.send(0, "RCPT TO:<b@example.test>\r\n")
	c.send(1, "250 ok\r\n")
	c.send(0, "DATA\r\n")
	c.send(1, "354 go\r\n")
	body := strings.Repeat(bulkLine, bulkLines) + ".\r\n"
	for len(body) > 0 {
		n := min(1448, len(body))
		c.send(0, body[:n])
		body = body[n:]
		if len(body)%(4*1448) == 0 {
			c.ack(1)
		}
	}
	c.send(1, "250 queued\r\n")
	return b.pcap(ethernetEncap)
}

// BenchmarkAnalyze measures Analyze against a baseline that only reads the
// packets with pcapgo, in the same run: the ratio is what decoding,
// reassembly and the dialogues cost.
func BenchmarkAnalyze(b *testing.B) {
	data := bulkCapture(b)
	b.Run("baseline-read-only", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			c, err := openCapture(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, _, _, err := c.next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("analyze", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Analyze(bytes.NewReader(data), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestBulkMessage(t *testing.T) {
	rep := analyzeBytes(t, bulkCapture(t), Options{})
	var f *Flow
	for _, fl := range rep.Flows {
		if fl.Client.Port() == 50000 {
			f = fl
		}
	}
	if f == nil {
		t.Fatal("no bulk flow")
	}
	d := findEvent(f, KindData, Client)
	if d == nil || d.Bytes != int64(len(bulkLine)*bulkLines) || d.LineCount != bulkLines {
		t.Errorf("bulk data event = %+v, want %d bytes, %d lines", d, len(bulkLine)*bulkLines, bulkLines)
	}
	if c := f.ClientToServer; c.StreamBytes != c.Bytes || c.Retransmissions+c.OutOfOrder != 0 {
		t.Errorf("bulk client->server = %+v, want every byte once, in order", c)
	}
}
