package pop3c

import "bytes"

// decState is where the message decoder stands in the multi-line stream. The
// state alone says which bytes are withheld (seen but not yet emitted because
// they may belong to the terminator), so no look-back buffer is needed and the
// terminator may split anywhere across packets and segments.
type decState uint8

const (
	decStart      decState = iota // first line of the message: nothing withheld
	decStartDot                   // first line began with '.' (dropped)
	decStartDotCR                 // first line is ".\r" so far
	decData                       // inside a line: nothing withheld
	decCR                         // "\r" withheld
	decLS                         // "\r\n" withheld, at the start of a line
	decLSDot                      // "\r\n" withheld, the line began with '.' (dropped)
	decLSDotCR                    // "\r\n" withheld, the line is ".\r" so far
	decDone                       // terminator seen
)

// decoder turns the body of a POP3 multi-line response (RFC 1939 §3) into the
// message data: lines starting with '.' lose that dot (dot-unstuffing), and the
// terminator CRLF "." CRLF ends the data and is not part of it. As in NetX,
// the CRLF before the final "." belongs to the terminator, so a last packet
// holding exactly "\r\n.\r\n" yields no data; a message whose first line is
// the terminator (".\r\n" straight after the +OK line) is empty.
//
// Lines start only after CRLF: a bare LF is data. The zero value is ready for
// a new message.
type decoder struct {
	st decState
	// lastCRLF is set with decDone when the terminator followed a CRLF that
	// ended the message's last line (it was withheld, not emitted); it is
	// false for an empty message (".\r\n" as the first line).
	lastCRLF bool
}

func (d *decoder) reset() { *d = decoder{} }

func (d *decoder) done() bool { return d.st == decDone }

var crlf = []byte("\r\n")

// decode appends to out the message bytes that in completes, and returns the
// extended out, the number of bytes of in consumed, and whether the terminator
// was reached (then n is just past it and the rest of in belongs to whatever
// follows the response). Bytes that may still turn out to be part of the
// terminator are withheld in the decoder state and emitted by a later call.
func (d *decoder) decode(out, in []byte) ([]byte, int, bool) {
	i := 0
	for i < len(in) {
		switch d.st {
		case decData:
			j := bytes.IndexByte(in[i:], '\r')
			if j < 0 {
				return append(out, in[i:]...), len(in), false
			}
			out = append(out, in[i:i+j]...)
			i += j + 1
			d.st = decCR
		case decCR:
			switch in[i] {
			case '\n':
				d.st = decLS
				i++
			case '\r':
				out = append(out, '\r') // the earlier CR was data; this one is withheld
				i++
			default:
				out = append(out, '\r')
				d.st = decData
			}
		case decLS:
			switch in[i] {
			case '.':
				d.st = decLSDot
				i++
			default:
				out = append(out, crlf...)
				d.st = decData
			}
		case decLSDot:
			if in[i] == '\r' {
				d.st = decLSDotCR // ".\r": still undecided
				i++
				continue
			}
			out = append(out, crlf...) // not the terminator: the dot is dropped
			d.st = decData
		case decLSDotCR:
			if in[i] == '\n' {
				d.st = decDone
				d.lastCRLF = true
				return out, i + 1, true
			}
			out = append(out, crlf...)
			d.st = decCR // ".\r" + other: dot dropped, the CR is withheld as data
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
				d.st = decDone
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
// handed to the caller as is instead of being copied. It leaves the decoder in
// the state decode would (decData) when it returns true.
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
	last := in[len(in)-1]
	if last == '\r' || (last == '\n' && len(in) >= 2 && in[len(in)-2] == '\r') {
		return false
	}
	if bytes.Contains(in, crlfDot) {
		return false
	}
	d.st = decData
	return true
}

var crlfDot = []byte("\r\n.")

// stuff is the inverse of decoder for tests and tools: it dot-stuffs data
// (a '.' is added to every line that starts with '.', lines starting after
// CRLF and at the beginning) and appends the terminator "\r\n.\r\n". For any
// data, decoding stuff(data) yields data again.
func stuff(dst, data []byte) []byte {
	lineStart := true
	for i := 0; i < len(data); i++ {
		c := data[i]
		if lineStart && c == '.' {
			dst = append(dst, '.')
		}
		dst = append(dst, c)
		lineStart = c == '\n' && i > 0 && data[i-1] == '\r'
	}
	return append(dst, "\r\n.\r\n"...)
}
