package smtpc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

var ehloChunking = scriptStep{want: "EHLO board.example.com", send: []string{"250-mail.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SIZE 100000000\r\n"}}

func bdatEnvelope(last scriptStep) []scriptStep {
	return []scriptStep{
		{want: "MAIL FROM:<board@example.com>", send: []string{"250 2.1.0 ok\r\n"}},
		{want: "RCPT TO:<a@example.com>", send: []string{"250 2.1.5 ok\r\n"}},
		last,
	}
}

func chunkingOpts() Options {
	o := noAuth(pipeOpts())
	o.Chunking = true
	return o
}

// TestSessionBDAT: with Chunking and CHUNKING offered, the message goes in
// one BDAT LAST whose count is exactly the octets that follow: the header
// and the body with CRLF line ends and no stuffed dots.
func TestSessionBDAT(t *testing.T) {
	body := []byte(".first\n..second\r\nbare\rCR\n.\n")
	m := &mail{to: []string{"a@example.com"}, subject: "chunk", body: body, messageID: "id@example.com"}
	out := runPipe(t, chunkingOpts(), m, steps([]scriptStep{greet, ehloChunking},
		bdatEnvelope(scriptStep{want: "BDAT ", chunks: true, send: []string{"250 2.0.0 Ok: queued as B1\r\n"}}), []scriptStep{quitOK}))
	if out.err != nil || out.srv.err != nil {
		t.Fatalf("session = %v (server %v)\n%s", out.err, out.srv.err, out.transcript)
	}
	want := out.header + ".first\r\n..second\r\nbare\r\nCR\r\n.\r\n"
	if string(out.srv.data) != want {
		t.Errorf("chunk = %q, want %q", out.srv.data, want)
	}
	if wantCmd := "BDAT " + strconv.Itoa(len(want)) + " LAST"; len(out.srv.bdats) != 1 || out.srv.bdats[0] != wantCmd {
		t.Errorf("BDAT commands = %q, want [%q]", out.srv.bdats, wantCmd)
	}
	if !out.res.Accepted || out.res.Octets != int64(len(want)) || out.res.Reply != "2.0.0 Ok: queued as B1" {
		t.Errorf("result = %+v, want accepted, %d octets", out.res, len(want))
	}
	if strings.Contains(out.transcript, "C: DATA") || !strings.Contains(out.transcript, "<chunk: "+strconv.Itoa(len(want))+" octets>") {
		t.Errorf("transcript:\n%s", out.transcript)
	}
}

// TestSessionBDATChunks: a body from a reader goes in lookahead-sized
// chunks, each answered before the next, the last with LAST; joined they are
// the message.
func TestSessionBDATChunks(t *testing.T) {
	body := bigBody(200<<10, 3)
	for _, reader := range []bool{true, false} {
		t.Run(map[bool]string{true: "reader", false: "slice"}[reader], func(t *testing.T) {
			m := &mail{to: []string{"a@example.com"}, subject: "chunks", messageID: "id@example.com", body: body}
			if reader {
				m.body, m.reader = nil, bytes.NewReader(body)
			}
			out := runPipe(t, chunkingOpts(), m, steps([]scriptStep{greet, ehloChunking},
				bdatEnvelope(scriptStep{want: "BDAT ", chunks: true, send: []string{"250 2.0.0 Ok\r\n"}}), []scriptStep{quitOK}))
			if out.err != nil || out.srv.err != nil {
				t.Fatalf("session = %v (server %v)", out.err, out.srv.err)
			}
			if want := out.header + string(normalise(body)); string(out.srv.data) != want {
				t.Fatalf("chunks joined differ from the message: %s", diffAt(out.srv.data, []byte(want)))
			}
			atLeast := 1
			if reader {
				atLeast = len(body) / lookaheadSize // 32 KiB of input per chunk
			}
			if n := len(out.srv.bdats); n < atLeast || !strings.HasSuffix(out.srv.bdats[n-1], " LAST") {
				t.Errorf("BDAT commands = %q, want at least %d, the last with LAST", out.srv.bdats, atLeast)
			}
			for _, l := range out.srv.bdats[:len(out.srv.bdats)-1] {
				if strings.HasSuffix(l, "LAST") {
					t.Errorf("BDAT %q before the last chunk carries LAST", l)
				}
			}
		})
	}
}

// TestSessionBDATRefused: a chunk refused mid-message ends the transfer with
// ErrMessageReply, and as the chunk framing keeps the dialogue in step, the
// session still ends with QUIT.
func TestSessionBDATRefused(t *testing.T) {
	body := bigBody(100<<10, 4)
	m := &mail{to: []string{"a@example.com"}, subject: "refused", reader: bytes.NewReader(body)}
	out := runPipe(t, chunkingOpts(), m, steps([]scriptStep{greet, ehloChunking},
		bdatEnvelope(scriptStep{want: "BDAT ", chunks: true, send: []string{"552 5.3.4 message too big\r\n"}}), []scriptStep{quitOK}))
	var re *ReplyError
	if !errors.Is(out.err, ErrMessageReply) || !errors.As(out.err, &re) || re.Code != 552 {
		t.Fatalf("session = %v, want ErrMessageReply with the 552", out.err)
	}
	if out.srv.err != nil {
		t.Fatalf("server: %v (the client did not QUIT after the refused chunk)", out.srv.err)
	}
	if len(out.srv.bdats) != 1 || strings.HasSuffix(out.srv.bdats[0], "LAST") {
		t.Errorf("BDAT commands = %q, want one chunk before the end", out.srv.bdats)
	}
}

// TestSessionBDATLineTooLong: a line over 998 octets is found while counting
// a chunk, before its BDAT is sent, so nothing of it reaches the server and
// the session ends with QUIT.
func TestSessionBDATLineTooLong(t *testing.T) {
	body := append(bytes.Repeat([]byte("z"), 999), '\n')
	m := &mail{to: []string{"a@example.com"}, subject: "long", body: body}
	out := runPipe(t, chunkingOpts(), m, steps([]scriptStep{greet, ehloChunking},
		bdatEnvelope(quitOK)))
	if !errors.Is(out.err, ErrLineTooLong) {
		t.Fatalf("session = %v, want ErrLineTooLong", out.err)
	}
	if out.srv.err != nil || len(out.srv.bdats) != 0 {
		t.Fatalf("server: %v, BDAT commands %q; want QUIT right after RCPT", out.srv.err, out.srv.bdats)
	}
}

// TestSessionChunkingNotOffered: without CHUNKING in the EHLO reply the
// client sends DATA, dot-stuffed, as always.
func TestSessionChunkingNotOffered(t *testing.T) {
	m := &mail{to: []string{"a@example.com"}, subject: "data", body: []byte(".dot\n")}
	out := runPipe(t, chunkingOpts(), m, steps([]scriptStep{greet, ehloAll}, okEnvelope("a@example.com")))
	if out.err != nil || out.srv.err != nil {
		t.Fatalf("session = %v (server %v)", out.err, out.srv.err)
	}
	if !strings.HasSuffix(string(out.srv.data), "\r\n..dot\r\n") {
		t.Errorf("message = %q, want DATA with the dot stuffed", out.srv.data)
	}
}
