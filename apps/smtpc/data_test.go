package smtpc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// stuff runs the encoder over in (one shot) and returns its output.
func stuff(in []byte) ([]byte, error) {
	var out bytes.Buffer
	e := encoder{write: func(p []byte) error { out.Write(p); return nil }}
	_, err := e.encode(in, true)
	return out.Bytes(), err
}

// normalise is the reference: every LF, CR or CRLF becomes CRLF and a last
// unterminated line is terminated.
func normalise(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, crlf) {
		out = append(out, crlf...)
	}
	return out
}

func TestEncoder(t *testing.T) {
	long := strings.Repeat("x", maxLine)
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"empty", "", "", nil},
		{"one line", "hello", "hello\r\n", nil},
		{"crlf kept", "a\r\nb\r\n", "a\r\nb\r\n", nil},
		{"bare LF", "a\nb\n", "a\r\nb\r\n", nil},
		{"bare CR", "a\rb\r", "a\r\nb\r\n", nil},
		{"mixed", "a\r\n\nb\r\rc", "a\r\n\r\nb\r\n\r\nc\r\n", nil},
		{"dot first", ".hidden\r\n", "..hidden\r\n", nil},
		{"dot lines", ".a\n..b\n.\n", "..a\r\n...b\r\n..\r\n", nil},
		{"dot after LF", "x\n.y", "x\r\n..y\r\n", nil},
		{"lone dot", ".", "..\r\n", nil},
		{"dot mid line", "a.b\r\n", "a.b\r\n", nil},
		{"CR CR LF", "a\r\r\n", "a\r\n\r\n", nil},
		{"998 octets", long + "\r\n", long + "\r\n", nil},
		{"998 and a stuffed dot", "." + long[1:] + "\n", ".." + long[1:] + "\r\n", nil},
		{"999 octets", long + "y\r\n", "", ErrLineTooLong},
		{"999 last line", "ok\n" + long + "y", "ok\r\n", ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stuff([]byte(tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("encode(%q) error = %v, want %v and NX_SMTP_INVALID_PARAM", tt.in, err, tt.err)
				}
				if !strings.HasPrefix(string(got), tt.want) || strings.Contains(string(got), "yy") {
					t.Errorf("encode(%q) wrote %q before failing, want only the valid lines %q", tt.in, got, tt.want)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("encode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// Streaming through a small lookahead with any read sizes gives the same
// bytes as one shot, and a long line fails before any of it is written.
func TestEncodeReader(t *testing.T) {
	body := []byte(".start\nline two\r\n\r\n..dots\rbare cr\r\n" + strings.Repeat("0123456789", 90) + "\nend")
	want, _ := stuff(body)
	readers := map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(body) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) },
		"half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(body)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(body)) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			e := encoder{write: func(p []byte) error { out.Write(p); return nil }}
			if err := e.encodeReader(mk(), make([]byte, 2048)); err != nil {
				t.Fatalf("encodeReader() = %v", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("encodeReader() = %q, want %q", out.Bytes(), want)
			}
			if e.out != int64(len(want)) {
				t.Errorf("encoder counted %d octets, want %d", e.out, len(want))
			}
		})
	}
	t.Run("long line never sent", func(t *testing.T) {
		var out bytes.Buffer
		e := encoder{write: func(p []byte) error { out.Write(p); return nil }}
		in := "fine\n" + strings.Repeat("z", 5000) + "\n"
		err := e.encodeReader(iotest.HalfReader(strings.NewReader(in)), make([]byte, 2048))
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("encodeReader(long line) = %v, want ErrLineTooLong", err)
		}
		if got := out.String(); got != "fine\r\n" {
			t.Errorf("encodeReader(long line) wrote %q, want only %q", got, "fine\r\n")
		}
	})
	t.Run("8-bit refused", func(t *testing.T) {
		var out bytes.Buffer
		e := encoder{check8bit: true, write: func(p []byte) error { out.Write(p); return nil }}
		err := e.encodeReader(strings.NewReader("ascii\ncaf\xc3\xa9\n"), make([]byte, 2048))
		if !errors.Is(err, ErrNeeds8BitMIME) || out.String() != "ascii\r\n" {
			t.Fatalf("encodeReader(8-bit) = %v after %q, want ErrNeeds8BitMIME after %q", err, out.String(), "ascii\r\n")
		}
	})
	t.Run("reader error", func(t *testing.T) {
		e := encoder{write: func([]byte) error { return nil }}
		boom := errors.New("boom")
		if err := e.encodeReader(iotest.ErrReader(boom), make([]byte, 2048)); !errors.Is(err, boom) {
			t.Fatalf("encodeReader(failing reader) = %v, want %v", err, boom)
		}
	})
}

func TestHas8bit(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{{"", false}, {"plain ascii text!", false}, {"12345678\x80", true}, {"\xff", true}, {"abcdefgh\x7f", false}, {"é", true}} {
		if got := has8bit([]byte(tt.in)); got != tt.want {
			t.Errorf("has8bit(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzDotStuffer: unstuffing the output gives back the normalised input; no
// output line starts with a single '.'; every line ends in CRLF; streaming
// in pieces gives the same bytes.
func FuzzDotStuffer(f *testing.F) {
	for _, s := range []string{"", ".", "a\nb", ".\r\n.", "a\r\rb\n\n", "..x\r", "\r\n.\r\n", "x\r"} {
		f.Add([]byte(s), uint16(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint16) {
		if hasLongLine(in) {
			if _, err := stuff(in); !errors.Is(err, ErrLineTooLong) {
				t.Fatalf("encode(line over 998) = %v, want ErrLineTooLong", err)
			}
			return
		}
		out, err := stuff(in)
		if err != nil {
			t.Fatalf("encode(%q) = %v", in, err)
		}
		if got, want := unstuff(out), normalise(in); !bytes.Equal(got, want) {
			t.Fatalf("unstuff(encode(%q)) = %q, want %q", in, got, want)
		}
		if len(out) > 0 && !bytes.HasSuffix(out, crlf) {
			t.Fatalf("encode(%q) = %q does not end in CRLF", in, out)
		}
		for _, line := range bytes.SplitAfter(out, crlf) {
			if len(line) >= 1 && line[0] == '.' && (len(line) < 2 || line[1] != '.') {
				t.Fatalf("encode(%q) has a line starting with a single dot: %q", in, line)
			}
			if i := bytes.IndexAny(line[:max(len(line)-2, 0)], "\r\n"); i >= 0 {
				t.Fatalf("encode(%q) has a bare CR or LF in line %q", in, line)
			}
		}
		var streamed bytes.Buffer
		e := encoder{write: func(p []byte) error { streamed.Write(p); return nil }}
		r := &stepReader{data: in, step: int(step%64) + 1}
		if err := e.encodeReader(r, make([]byte, 2048)); err != nil || !bytes.Equal(streamed.Bytes(), out) {
			t.Fatalf("streamed (step %d) = %q, %v; want %q", r.step, streamed.Bytes(), err, out)
		}
		// BDAT (no stuffing): the output is exactly the normalised input,
		// and a counting pass over any window gives the octets the
		// writing pass then emits (the BDAT size announced before them).
		var chunked bytes.Buffer
		b := encoder{bdat: true, write: func(p []byte) error { chunked.Write(p); return nil }}
		window := int(step%4096) + 1000
		for off := 0; ; {
			end := min(off+window, len(in))
			final := end == len(in)
			count := b
			count.write, count.out = func([]byte) error { return nil }, 0
			used, err := count.encode(in[off:end], final)
			if err != nil {
				t.Fatalf("BDAT count(%q) = %v", in, err)
			}
			before := b.out
			if u, err := b.encode(in[off:end], final); err != nil || u != used || b.out-before != count.out {
				t.Fatalf("BDAT write pass used %d, wrote %d, %v; the count pass used %d and counted %d", u, b.out-before, err, used, count.out)
			}
			off += used
			if final {
				break
			}
		}
		if !bytes.Equal(chunked.Bytes(), normalise(in)) {
			t.Fatalf("BDAT encode(%q) = %q, want %q", in, chunked.Bytes(), normalise(in))
		}
	})
}

func hasLongLine(in []byte) bool {
	n := 0
	for _, c := range in {
		if c == '\r' || c == '\n' {
			n = 0
			continue
		}
		if n++; n > maxLine {
			return true
		}
	}
	return false
}

// stepReader returns at most step bytes per Read.
type stepReader struct {
	data []byte
	step int
}

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.data)
	r.data = r.data[n:]
	return n, nil
}
