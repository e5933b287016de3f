package mailhost

import (
	"bytes"
	"errors"
	"io"
)

var dot = []byte{'.'}

// writeDotStuffed writes data as a multi-line POP3 (or SMTP DATA) body: a
// '.' that starts a line is doubled, where a line starts at the beginning
// of data and after every LF; CRLF is appended when data does not already
// end with CRLF (so the terminator starts a line for every reader); then
// the ".\r\n" terminator. Nothing else is changed, bare LFs included.
func writeDotStuffed(w io.Writer, data []byte) error {
	for len(data) > 0 {
		if data[0] == '.' {
			if _, err := w.Write(dot); err != nil {
				return err
			}
		}
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 {
			n = len(data)
		}
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// dotTerminate writes the CRLF that a body not ending in CRLF needs, then
// the terminator line.
func dotTerminate(w io.Writer, data []byte) error {
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\r\n")) {
		if _, err := w.Write([]byte("\r\n")); err != nil {
			return err
		}
	}
	_, err := w.Write([]byte(".\r\n"))
	return err
}

// appendDotStuffed is writeDotStuffed plus dotTerminate into a byte slice.
func appendDotStuffed(dst, data []byte) []byte {
	b := bytes.NewBuffer(dst)
	_ = writeDotStuffed(b, data)
	_ = dotTerminate(b, data)
	return b.Bytes()
}

var errNoTerminator = errors.New("mailhost: multi-line body has no terminator")

// dotUnstuff is the reader's side of appendDotStuffed: it takes lines (split
// after LF) until the line ".\r\n", removes one leading '.' from every
// other line that has one, and returns the body and the bytes after the
// terminator.
func dotUnstuff(b []byte) (body, rest []byte, err error) {
	out := []byte{}
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			break
		}
		line := b[:n]
		b = b[n:]
		if string(line) == ".\r\n" {
			return out, b, nil
		}
		if line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return nil, nil, errNoTerminator
}

// topOf returns the header section of msg, the empty line that ends it and
// the first n lines of the body (POP3 TOP). A message without an empty line
// is all header. Lines end after LF.
func topOf(msg []byte, n int) []byte {
	i := 0
	for i < len(msg) {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			return msg
		}
		line := msg[i : i+j+1]
		i += j + 1
		if string(line) == "\r\n" || string(line) == "\n" {
			break
		}
	}
	for ; n > 0 && i < len(msg); n-- {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			return msg
		}
		i += j + 1
	}
	return msg[:i]
}
