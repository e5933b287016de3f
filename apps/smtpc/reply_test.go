package smtpc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/simboard/simboard/nx"
)

// chunkSource delivers fixed chunks, then a timeout (nx.ErrNoPacket).
type chunkSource struct {
	chunks [][]byte
	calls  int
}

func (c *chunkSource) Recv(_ context.Context, _ nx.Wait) ([]byte, error) {
	c.calls++
	if len(c.chunks) == 0 {
		return nil, nx.ErrNoPacket
	}
	b := c.chunks[0]
	c.chunks = c.chunks[1:]
	return b, nil
}

func chunks(parts ...string) *chunkSource {
	c := &chunkSource{}
	for _, p := range parts {
		c.chunks = append(c.chunks, []byte(p))
	}
	return c
}

func TestReplyReader(t *testing.T) {
	tests := []struct {
		name     string
		src      *chunkSource
		code     int
		lines    []string
		enhanced string
		msg      string
		status   error // wanted status, nil for success
	}{
		{"single", chunks("250 ok\r\n"), 250, []string{"ok"}, "", "ok", nil},
		{"code only", chunks("354\r\n"), 354, []string{""}, "", "", nil},
		{"bare LF", chunks("220 hi\n"), 220, []string{"hi"}, "", "hi", nil},
		{"multi-line one chunk", chunks("250-a\r\n250-b\r\n250 c\r\n"), 250, []string{"a", "b", "c"}, "", "a\nb\nc", nil},
		{"split in code", chunks("2", "50-a\r\n25", "0 b\r\n"), 250, []string{"a", "b"}, "", "a\nb", nil},
		{"split in CRLF", chunks("250-a\r", "\n250 b\r", "\n"), 250, []string{"a", "b"}, "", "a\nb", nil},
		{"byte by byte", chunks("5", "5", "0", " ", "5", ".", "1", ".", "1", " ", "x", "\r", "\n"), 550, []string{"5.1.1 x"}, "5.1.1", "x", nil},
		{"enhanced multi", chunks("452-4.2.2 full\r\n452 4.2.2 try later\r\n"), 452, []string{"4.2.2 full", "4.2.2 try later"}, "4.2.2", "full\ntry later", nil},
		{"enhanced wrong class", chunks("550 4.1.1 odd\r\n"), 550, []string{"4.1.1 odd"}, "", "4.1.1 odd", nil},
		{"leading space (NetX packet)", chunks("250-AUTH LOGIN\r\n 250 SIZE\r\n"), 250, []string{"AUTH LOGIN", "SIZE"}, "", "AUTH LOGIN\nSIZE", nil},
		{"four digits", chunks("2200"), 0, nil, "", "", ErrServerErrorReply},
		{"long code (NetX abnormal)", chunks("22222220-expresslogic.com\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"not a code", chunks("hello\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"1xx", chunks("150 x\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"bad separator", chunks("250x\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"changing code", chunks("250-a\r\n251 b\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"too short", chunks("25\r\n"), 0, nil, "", "", ErrServerErrorReply},
		{"line too long", chunks("250 " + strings.Repeat("x", maxReplyLine+10) + "\r\n"), 0, nil, "", "", ErrOversizeServerReply},
		{"line never ends", chunks("250 "+strings.Repeat("x", 3000), strings.Repeat("y", 3000)), 0, nil, "", "", ErrOversizeServerReply},
		{"reply never ends", chunks(strings.Repeat("250-more\r\n", maxReplyLines+1)), 0, nil, "", "", ErrOversizeServerReply},
		{"missing final line", chunks("250-a\r\n", "250-b\r\n"), 0, nil, "", "", nx.ErrNoPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rr replyReader
			rep, err := rr.read(context.Background(), tt.src, nx.Ticks(10), "test")
			if tt.status != nil {
				if !errors.Is(err, tt.status) {
					t.Fatalf("read() = %+v, %v; want error %v", rep, err, tt.status)
				}
				var pe *ProtocolError
				if _, isNX := tt.status.(nx.Status); !isNX && !errors.As(err, &pe) {
					t.Errorf("read() error %v is not a *ProtocolError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("read() = %v, want success", err)
			}
			if rep.code != tt.code || strings.Join(rep.lines, "|") != strings.Join(tt.lines, "|") {
				t.Errorf("read() = %d %q, want %d %q", rep.code, rep.lines, tt.code, tt.lines)
			}
			if enh, msg := rep.enhanced(); enh != tt.enhanced || msg != tt.msg {
				t.Errorf("enhanced() = %q, %q; want %q, %q", enh, msg, tt.enhanced, tt.msg)
			}
		})
	}
}

// A malformed start fails without waiting for more data.
func TestReplyReaderFailsEarly(t *testing.T) {
	src := chunks("2200")
	var rr replyReader
	if _, err := rr.read(context.Background(), src, nx.WaitForever, "greeting"); !errors.Is(err, ErrServerErrorReply) {
		t.Fatalf("read(2200) = %v, want NX_SMTP_SERVER_ERROR_REPLY", err)
	}
	if src.calls != 1 {
		t.Errorf("read(2200) received %d times, want 1 (no wait for the line end)", src.calls)
	}
}

// Bytes after a reply stay buffered for the next one (two replies in one packet).
func TestReplyReaderKeepsLeftover(t *testing.T) {
	src := chunks("250 first\r\n354 second\r\n221 th", "ird\r\n")
	var rr replyReader
	for _, want := range []int{250, 354, 221} {
		rep, err := rr.read(context.Background(), src, nx.Ticks(10), "test")
		if err != nil || rep.code != want {
			t.Fatalf("read() = %d, %v; want %d", rep.code, err, want)
		}
	}
	if rr.pending() != 0 {
		t.Errorf("pending() = %d after all replies, want 0", rr.pending())
	}
}

// FuzzReplyParser: a reply split at any byte into two packets parses the
// same as in one packet, and a successful parse is consistent with the
// input (same code on every line, text preserved).
func FuzzReplyParser(f *testing.F) {
	for _, s := range []string{
		"250 ok\r\n", "250-a\r\n250-b\r\n250 c\r\n", "220-x\r\n220 y\n", "2200",
		"22222220-expresslogic.com ESMTP\r\n", "250-AUTH LOGIN\r\n 250 SIZE\r\n",
		"550 5.1.1 <bob@example.com>: unknown\r\n", "334 VXNlcm5hbWU6\r\n", "\r\n", "250-\r\n250 \r\n",
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		at := int(cut) % (len(in) + 1)
		var one, two replyReader
		src2 := &chunkSource{chunks: [][]byte{in[:at], in[at:]}}
		r1, e1 := one.read(context.Background(), &chunkSource{chunks: [][]byte{in}}, nx.Ticks(1), "fuzz")
		r2, e2 := two.read(context.Background(), src2, nx.Ticks(1), "fuzz")
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("one packet: %v; split at %d: %v", e1, at, e2)
		}
		if e1 != nil {
			return
		}
		if r1.code != r2.code || strings.Join(r1.lines, "\n") != strings.Join(r2.lines, "\n") {
			t.Fatalf("one packet: %d %q; split at %d: %d %q", r1.code, r1.lines, at, r2.code, r2.lines)
		}
		unread := 0
		for _, c := range src2.chunks {
			unread += len(c)
		}
		if one.pending() != two.pending()+unread {
			t.Fatalf("leftover: one packet %d, split %d+%d unreceived", one.pending(), two.pending(), unread)
		}
		if r1.code < 200 || r1.code > 599 || len(r1.lines) == 0 || len(r1.lines) > maxReplyLines {
			t.Fatalf("parsed %d with %d lines from %q", r1.code, len(r1.lines), in)
		}
		for _, l := range r1.lines {
			if !strings.Contains(string(in), l) {
				t.Fatalf("line %q not in input %q", l, in)
			}
		}
	})
}
