package smtpc

import (
	"bytes"
	"encoding/binary"
	"io"
)

// maxLine is the longest body line allowed, CRLF excluded (RFC 5322 2.1.1,
// RFC 5321 4.5.3.1.6).
const maxLine = 998

// encoder turns a body into the DATA transparency format (RFC 5321 4.5.2):
// every line end (LF, CR or CRLF) becomes CRLF, a line starting with '.' gets
// a second '.', the last line is terminated, and no line may exceed 998
// octets. It works on whole runs: input that is already CRLF and needs no
// stuffing is handed to write unchanged, so clean text costs two IndexByte
// scans per line and one write per chunk.
//
// The encoder never emits a byte of a line before it has seen the line's end
// (or decided it is too long), which is what lets a streamed body fail with
// ErrLineTooLong before the offending line reaches the wire.
type encoder struct {
	write     func(p []byte) error // sink; errors end the encoding
	check8bit bool                 // fail with ErrNeeds8BitMIME on octets > 127
	bdat      bool                 // BDAT chunks: no dot-stuffing (RFC 3030 2)
	saw8bit   bool                 // an octet > 127 was seen
	out       int64                // octets written
	lines     int64                // lines completed (for error messages)
}

var crlf = []byte("\r\n")
var dot = []byte(".")

func (e *encoder) emit(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	e.out += int64(len(p))
	return e.write(p)
}

// encode consumes complete lines from p and returns how many bytes it used.
// Unless final, it stops before a line whose end is not in p (a partial line,
// or a trailing CR that may be the first half of CRLF); the caller passes
// those bytes again with more data. With final, everything is consumed and a
// last unterminated line is terminated.
func (e *encoder) encode(p []byte, final bool) (int, error) {
	pos, run := 0, 0 // run: start of input not yet written that needs no change
	for pos < len(p) {
		rest := p[pos:]
		// Look at most one maximal line ahead, so a body without LF (or
		// with bare CRs only) costs linear time, not quadratic.
		win := rest
		if len(win) > maxLine+2 {
			win = win[:maxLine+2]
		}
		nl := bytes.IndexByte(win, '\n')
		seg := win
		if nl >= 0 {
			seg = win[:nl]
		}
		cr := bytes.IndexByte(seg, '\r')
		lineLen, termLen, isCRLF := 0, 0, false
		switch {
		case nl >= 0 && cr >= 0 && cr == len(seg)-1:
			lineLen, termLen, isCRLF = cr, 2, true
		case cr >= 0:
			if cr == len(rest)-1 && !final {
				lineLen = -1 // trailing CR: wait for the next byte
				if cr > maxLine {
					return pos, e.tooLong(run, pos, p)
				}
				break
			}
			lineLen, termLen = cr, 1
		case nl >= 0:
			lineLen, termLen = nl, 1
		default:
			if len(rest) > maxLine {
				return pos, e.tooLong(run, pos, p)
			}
			if !final {
				lineLen = -1
				break
			}
			lineLen = len(rest)
		}
		if lineLen < 0 {
			break
		}
		if lineLen > maxLine {
			return pos, e.tooLong(run, pos, p)
		}
		line := rest[:lineLen]
		if e.check8bit && has8bit(line) {
			e.saw8bit = true
			if err := e.emit(p[run:pos]); err != nil {
				return pos, err
			}
			return pos, withStatus(ErrInvalidParam, ErrNeeds8BitMIME)
		}
		needDot := !e.bdat && lineLen > 0 && line[0] == '.'
		e.lines++
		if isCRLF && !needDot {
			pos += lineLen + 2
			continue
		}
		if needDot {
			if err := e.emit(p[run:pos]); err != nil {
				return pos, err
			}
			if err := e.emit(dot); err != nil {
				return pos, err
			}
			run = pos
		}
		if isCRLF {
			pos += lineLen + 2
			continue
		}
		if err := e.emit(p[run : pos+lineLen]); err != nil {
			return pos, err
		}
		if err := e.emit(crlf); err != nil {
			return pos, err
		}
		pos += lineLen + termLen
		run = pos
	}
	if err := e.emit(p[run:pos]); err != nil {
		return pos, err
	}
	return pos, nil
}

// tooLong flushes the clean lines before the offending one (they are
// complete and valid) and reports ErrLineTooLong.
func (e *encoder) tooLong(run, pos int, p []byte) error {
	if err := e.emit(p[run:pos]); err != nil {
		return err
	}
	return errorf(ErrInvalidParam, "smtpc: body line %d: %w", e.lines+1, ErrLineTooLong)
}

// encodeReader streams r through the encoder using buf (at least 2 KiB) as
// its only lookahead: memory stays bounded whatever the body size.
func (e *encoder) encodeReader(r io.Reader, buf []byte) error {
	return eachWindow(r, buf, e.encode)
}

// eachWindow reads r through buf and hands each fill to f, with final set
// once r is exhausted; f returns how many bytes it used and the rest is kept
// for the next fill. Filling the whole buffer first means a reader that
// returns a few bytes per Read does not make each line be rescanned. It
// returns f's first error, or a *bodyError when r fails.
func eachWindow(r io.Reader, buf []byte, f func(p []byte, final bool) (int, error)) error {
	n := 0
	for {
		m, rerr := io.ReadFull(r, buf[n:])
		n += m
		final := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !final {
			return &bodyError{err: rerr}
		}
		used, err := f(buf[:n], final)
		if err != nil || final {
			return err
		}
		n = copy(buf, buf[used:n])
	}
}

// bodyError is a failure to read the caller's body reader.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "smtpc: read body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// has8bit reports whether p has an octet above 127, eight bytes at a time.
func has8bit(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// scanBody checks a whole in-memory body before any traffic: it returns
// ErrLineTooLong for a line over 998 octets and reports whether the body has
// 8-bit octets.
func scanBody(p []byte) (eightBit bool, err error) {
	e := encoder{write: func([]byte) error { return nil }}
	if _, err := e.encode(p, true); err != nil {
		return false, err
	}
	return has8bit(p), nil
}
