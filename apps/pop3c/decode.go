package pop3c

import "bytes"

// decState is where the message decoder stands in the multi-line stream. The
// state alone (with decoder.eol) says which bytes are withheld — seen but not
// emitted yet because they may belong to the terminator — so no look-back
// buffer is needed and the terminator may split anywhere across packets and
// segments.
type decState uint8

const (
	decStart      decState = iota // first line of the message: nothing withheld
	decStartDot                   // first line began with '.' (dropped)
	decStartDotCR                 // first line is ".\r" so far
	decData                       // inside a line: nothing withheld
	decCR                         // "\r" withheld (a CRLF may follow)
	decLS                         // a line ending (eol) withheld, at the start of a line
	decLSDot                      // eol withheld, the line began with '.' (dropped)
	decLSDotCR                    // eol withheld, the line is ".\r" so far
	decDone                       // terminator seen
)

// decoder turns the body of a POP3 multi-line response (RFC 1939 §3) into the
// message data: lines starting with '.' lose that dot (dot-unstuffing), and the
// terminator "." CRLF on a line of its own ends the data and is not part of
// it. As in NetX, the line ending before the final "." belongs to the
// terminator (CRLF "." CRLF), so a last packet holding exactly "\r\n.\r\n"
// yields no data; a message whose first line is the terminator (".\r\n"
// straight after the +OK line) is empty.
//
// A line starts after CRLF or after a bare LF, as servers stuff them
// (Dovecot, the built-in mailhost, Go's textproto); the terminator line
// itself must end in CRLF. The zero value is ready for a new message.
type decoder struct {
	st  decState
	eol uint8 // withheld line ending in the decLS* states: 2 = CRLF, 1 = LF
	// lastEOL is the line ending the terminator took from the message's last
	// line once decDone is reached (2, 1, or 0 for an empty message).
	lastEOL uint8
}

func (d *decoder) reset() { *d = decoder{} }

var crlf = []byte("\r\n")

// withheld returns the line ending held back in the decLS* states.
func (d *decoder) withheld() []byte { return crlf[2-d.eol:] }

// decode appends to out the message bytes that in completes, and returns the
// extended out, the number of bytes of in consumed, and whether the terminator
// was reached (then n is just past it and the rest of in belongs to whatever
// follows the response). Bytes that may still turn out to be part of the
// terminator are withheld in the decoder state and emitted by a later call.
// The inner loop moves whole lines (bytes.IndexByte for LF).
func (d *decoder) decode(out, in []byte) ([]byte, int, bool) {
	i := 0
	for i < len(in) {
		switch d.st {
		case decData:
			j := bytes.IndexByte(in[i:], '\n')
			if j < 0 {
				rest := in[i:]
				if rest[len(rest)-1] == '\r' {
					out = append(out, rest[:len(rest)-1]...)
					d.st = decCR
				} else {
					out = append(out, rest...)
				}
				return out, len(in), false
			}
			d.eol = 1
			if j > 0 && in[i+j-1] == '\r' {
				d.eol = 2
			}
			out = append(out, in[i:i+j+1-int(d.eol)]...)
			i += j + 1
			d.st = decLS
		case decCR:
			if in[i] == '\n' {
				d.st, d.eol = decLS, 2
				i++
				continue
			}
			out = append(out, '\r') // not a CRLF: the CR was data
			d.st = decData
		case decLS:
			if in[i] == '.' {
				d.st = decLSDot
				i++
				continue
			}
			out = append(out, d.withheld()...)
			d.st = decData
		case decLSDot:
			if in[i] == '\r' {
				d.st = decLSDotCR // ".\r": still undecided
				i++
				continue
			}
			out = append(out, d.withheld()...) // not the terminator: the dot is dropped
			d.st = decData
		case decLSDotCR:
			if in[i] == '\n' {
				d.st, d.lastEOL = decDone, d.eol
				return out, i + 1, true
			}
			out = append(out, d.withheld()...)
			d.st = decCR // ".\r" + other: dot dropped, the CR may start a CRLF
		case decStart:
			if in[i] == '.' {
				d.st = decStartDot
				i++
				continue
			}
			d.st = decData
		case decStartDot:
			if in[i] == '\r' {
				d.st = decStartDotCR
				i++
				continue
			}
			d.st = decData
		case decStartDotCR:
			if in[i] == '\n' {
				d.st, d.lastEOL = decDone, 0
				return out, i + 1, true
			}
			d.st = decCR
		case decDone:
			return out, i, true
		}
	}
	return out, i, d.st == decDone
}

// passThrough reports whether decoding in from the current state would
// produce exactly in and leave nothing withheld, so a received packet can be
// handed to the caller as is instead of being copied. When it returns true it
// leaves the decoder in the state decode would have (decData).
func (d *decoder) passThrough(in []byte) bool {
	if len(in) == 0 {
		return false
	}
	switch d.st {
	case decData:
	case decStart:
		if in[0] == '.' {
			return false
		}
	default:
		return false
	}
	if last := in[len(in)-1]; last == '\r' || last == '\n' {
		return false
	}
	if bytes.Contains(in, lfDot) {
		return false
	}
	d.st = decData
	return true
}

var lfDot = []byte("\n.")

// stuff is the inverse of decoder for tests and tools: it dot-stuffs data
// (a '.' is added to every line that starts with '.', lines starting at the
// beginning and after every LF) and appends the terminator "\r\n.\r\n". For
// any data, decoding stuff(data) yields data again.
func stuff(dst, data []byte) []byte {
	lineStart := true
	for i := 0; i < len(data); i++ {
		c := data[i]
		if lineStart && c == '.' {
			dst = append(dst, '.')
		}
		dst = append(dst, c)
		lineStart = c == '\n'
	}
	return append(dst, "\r\n.\r\n"...)
}
