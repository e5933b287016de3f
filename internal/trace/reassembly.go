package trace

import (
	"slices"
	"sort"
	"time"
)

// segClass says what a segment meant to the reassembler.
type segClass uint8

const (
	segEmpty      segClass = iota // no payload and no sequence space
	segNew                        // new bytes at or beyond the next expected byte
	segOutOfOrder                 // new bytes below data already seen: it fills a hole
	segRetransmit                 // some or all of its bytes were seen before
)

// sink receives a direction's byte stream in order.
type sink interface {
	// data is called with the next bytes of the stream; b is only valid
	// during the call.
	data(b []byte, ts time.Time)
	// gap is called when n bytes of the stream were never captured.
	gap(n int64, ts time.Time)
}

// piece is a run of sequence space waiting in the reassembler: captured
// bytes, or (data == nil) bytes known to be missing from the capture (a
// segment cut short by the snap length).
type piece struct {
	off  int64
	n    int64
	data []byte
}

// reassembler rebuilds one direction of a TCP connection from segments in
// any order, with duplicates and overlaps: the first copy of a byte wins.
// It is not safe for concurrent use.
type reassembler struct {
	started bool
	nextSeq uint32 // sequence number of the next byte to deliver
	next    int64  // stream offset of nextSeq
	maxEnd  int64  // highest offset+length seen
	pending []piece
	pendBuf int // captured bytes held in pending (the analyzer caps their sum over all flows)
}

// start sets the sequence number of the stream's first byte (ISN+1 after a
// SYN, or the first segment's sequence number when the capture starts
// mid-connection). Later calls are ignored.
func (r *reassembler) start(seq uint32) {
	if r.started {
		return
	}
	r.started = true
	r.nextSeq = seq
}

// offset maps a sequence number to a stream offset, taking the nearer of
// the two directions around the next expected byte (so wrap-around works).
func (r *reassembler) offset(seq uint32) int64 {
	return r.next + int64(int32(seq-r.nextSeq))
}

// add takes one segment: seq is its sequence number, data its captured
// payload and missing the payload bytes that were on the wire but not in
// the capture. In-order bytes go to out at once, others wait. data is
// retained until delivered; the caller must not modify it.
func (r *reassembler) add(seq uint32, data []byte, missing int, ts time.Time, out sink) segClass {
	n := int64(len(data)) + int64(missing)
	if n == 0 {
		return segEmpty
	}
	r.start(seq)
	off := r.offset(seq)
	end := off + n
	if end <= r.next {
		return segRetransmit
	}
	class := segNew
	var fresh []piece
	for _, p := range [2]piece{{off, int64(len(data)), data}, {off + int64(len(data)), int64(missing), nil}} {
		if p.n == 0 {
			continue
		}
		var covered bool
		fresh, covered = r.freshParts(fresh, p)
		if covered {
			class = segRetransmit
		}
	}
	if class == segNew && off < r.maxEnd {
		class = segOutOfOrder
	}
	for _, f := range fresh {
		r.insert(f)
	}
	r.maxEnd = max(r.maxEnd, end)
	r.deliver(ts, out)
	return class
}

// freshParts appends to dst the parts of p that are neither delivered nor
// pending, and reports whether any part of p was.
func (r *reassembler) freshParts(dst []piece, p piece) ([]piece, bool) {
	covered := false
	if p.off < r.next {
		covered = true
		p = cut(p, min(r.next, p.off+p.n), p.off+p.n)
		if p.n == 0 {
			return dst, covered
		}
	}
	pos, end := p.off, p.off+p.n
	// pending is sorted and non-overlapping, so its ends are sorted too.
	i := sort.Search(len(r.pending), func(i int) bool { q := r.pending[i]; return q.off+q.n > pos })
	for _, q := range r.pending[i:] {
		if q.off >= end {
			break
		}
		if q.off > pos {
			dst = append(dst, cut(p, pos, q.off))
		}
		pos = max(pos, q.off+q.n)
		covered = true
	}
	if pos < end {
		dst = append(dst, cut(p, pos, end))
	}
	return dst, covered
}

// cut returns the part [from, to) of p.
func cut(p piece, from, to int64) piece {
	q := piece{off: from, n: to - from}
	if p.data != nil {
		q.data = p.data[from-p.off : to-p.off]
	}
	return q
}

// insert adds a piece that overlaps nothing pending, keeping pending sorted.
func (r *reassembler) insert(p piece) {
	i := sort.Search(len(r.pending), func(i int) bool { return r.pending[i].off > p.off })
	r.pending = slices.Insert(r.pending, i, p)
	r.pendBuf += len(p.data)
}

// deliver hands every piece that starts at the next expected byte to out.
func (r *reassembler) deliver(ts time.Time, out sink) {
	k := 0
	for k < len(r.pending) && r.pending[k].off == r.next {
		p := r.pending[k]
		if p.data != nil {
			out.data(p.data, ts)
		} else {
			out.gap(p.n, ts)
		}
		r.next += p.n
		r.nextSeq += uint32(p.n)
		r.pendBuf -= len(p.data)
		k++
	}
	if k > 0 {
		r.pending = slices.Delete(r.pending, 0, k)
	}
}

// skipTo gives up the bytes before off as missing.
func (r *reassembler) skipTo(off int64, ts time.Time, out sink) {
	if off <= r.next {
		return
	}
	out.gap(off-r.next, ts)
	r.nextSeq += uint32(off - r.next)
	r.next = off
}

// flush delivers everything still waiting, reporting each unfilled hole as
// missing. Called at the end of the capture, and when the analyzer's cap
// on held bytes gives up this direction's holes.
func (r *reassembler) flush(ts time.Time, out sink) {
	for len(r.pending) > 0 {
		r.skipTo(r.pending[0].off, ts, out)
		r.deliver(ts, out)
	}
}
