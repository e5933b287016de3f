package smtpc

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/simboard/simboard/netstack"
)

// action is what a scripted server does after a step's replies.
type action int

const (
	actNone   action = iota
	actClose         // close the connection (FIN)
	actReset         // reset the connection (RST where the conn supports it)
	actSilent        // send nothing more; wait for the client to go away
)

// emptyLine as scriptStep.want expects an empty client line.
const emptyLine = "\x00empty"

// scriptStep is one turn of a scripted SMTP server, as the NetX regression
// tests' server threads replay canned packets.
type scriptStep struct {
	want string // the client's next line must start with this (case-insensitive); "" = send without reading
	data bool   // read the message (up to the line ".") before replying
	// chunks, on a BDAT step, reads the chunk the command announces; with
	// more BDAT commands following, each is read and answered with 250
	// until one carries LAST, then send is written.
	chunks bool
	send   []string      // replies, each written with its own Write (one segment)
	gap    time.Duration // pause between the writes of send (a server silent between two packets)
	delay  time.Duration // pause after the replies, before act
	act    action
	tls    *tls.Config // after the replies, run a TLS server handshake (STARTTLS)
}

// scriptResult is what the scripted server saw.
type scriptResult struct {
	lines []string // client command lines, CRLF stripped (message excluded)
	data  []byte   // the message as received, dot-stuffed, without the final ".\r\n" (BDAT: the chunks joined)
	bdats []string // BDAT command lines
	extra []string // lines received after the script ended
	err   error    // first deviation from the script
}

// runScript plays steps on conn and then reads until the client closes.
// reset, when not nil, resets the connection for actReset.
func runScript(conn net.Conn, steps []scriptStep, reset func()) scriptResult {
	return runScriptHooks(conn, steps, reset, nil)
}

// runScriptHooks is runScript calling hooks[i] once step i has read its line.
func runScriptHooks(conn net.Conn, steps []scriptStep, reset func(), hooks map[int]func()) (res scriptResult) {
	raw := conn
	defer raw.Close() // not a TLS close_notify: net.Pipe would block on it
	if bc, board := conn.(*netstack.Conn); board {
		_ = bc.SetDeadlineAfter(60 * time.Second) // on the board's clock (simulated in virtual mode)
	} else {
		_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	}
	br := bufio.NewReader(conn)
	readLine := func() (string, error) {
		l, err := br.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err
	}
	for i, st := range steps {
		if st.want != "" {
			l, err := readLine()
			if err != nil {
				res.err = fmt.Errorf("step %d: want %q, read: %v", i, st.want, err)
				return res
			}
			res.lines = append(res.lines, l)
			if st.want == emptyLine {
				if l != "" {
					res.err = fmt.Errorf("step %d: got %q, want an empty line", i, l)
					return res
				}
			} else if !strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(st.want)) {
				res.err = fmt.Errorf("step %d: got %q, want prefix %q", i, l, st.want)
				return res
			}
		}
		if h := hooks[i]; h != nil {
			h()
		}
		if st.chunks {
			line := res.lines[len(res.lines)-1]
			for {
				res.bdats = append(res.bdats, line)
				f := strings.Fields(line)
				n, err := strconv.Atoi(f[min(1, len(f)-1)])
				if err != nil || len(f) < 2 {
					res.err = fmt.Errorf("step %d: bad BDAT line %q", i, line)
					return res
				}
				chunk := make([]byte, n)
				if _, err := io.ReadFull(br, chunk); err != nil {
					res.err = fmt.Errorf("step %d: reading a %d-octet chunk: %v", i, n, err)
					return res
				}
				res.data = append(res.data, chunk...)
				if len(f) == 3 && strings.EqualFold(f[2], "LAST") || len(st.send) > 0 && !strings.HasPrefix(st.send[0], "250") {
					break
				}
				if _, err := conn.Write([]byte("250 2.0.0 chunk ok\r\n")); err != nil {
					res.err = fmt.Errorf("step %d: write: %v", i, err)
					return res
				}
				if line, err = readLine(); err != nil || !strings.HasPrefix(line, "BDAT ") {
					res.err = fmt.Errorf("step %d: want the next BDAT, got %q, %v", i, line, err)
					return res
				}
			}
		}
		if st.data {
			var msg bytes.Buffer
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					res.err = fmt.Errorf("step %d: reading message: %v", i, err)
					res.data = msg.Bytes()
					return res
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			res.data = msg.Bytes()
		}
		for k, r := range st.send {
			if k > 0 && st.gap > 0 {
				testSleep(st.gap)
			}
			if _, err := conn.Write([]byte(r)); err != nil {
				res.err = fmt.Errorf("step %d: write: %v", i, err)
				return res
			}
		}
		if st.tls != nil {
			tc := tls.Server(conn, st.tls)
			if err := tc.Handshake(); err != nil {
				res.err = fmt.Errorf("step %d: tls handshake: %v", i, err)
				return res
			}
			conn, br = tc, bufio.NewReader(tc)
		}
		if st.delay > 0 {
			testSleep(st.delay)
		}
		switch st.act {
		case actClose:
			return res
		case actReset:
			if reset != nil {
				reset()
			}
			return res
		case actSilent:
			for {
				l, err := readLine()
				if l != "" {
					res.extra = append(res.extra, l)
				}
				if err != nil {
					return res
				}
			}
		}
	}
	for {
		l, err := readLine()
		if l != "" {
			res.extra = append(res.extra, l)
		}
		if err != nil {
			return res
		}
	}
}

// unstuff reverses DATA transparency: a line starting with '.' loses it.
func unstuff(p []byte) []byte {
	var out []byte
	for len(p) > 0 {
		n := len(p)
		if i := bytes.Index(p, crlf); i >= 0 {
			n = i + 2
		}
		line := p[:n]
		p = p[n:]
		if line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}
