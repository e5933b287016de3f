package sntpc

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzParsePacketAndCheck: a message parses iff its size is within NetX's
// bounds, a parsed message re-encodes to the same 48 bytes, and a reply the
// sanity checks accept has mode 4, version 3, leap below 3, an allowed
// non-zero stratum, and the request's transmit time as origin; a rejected
// one always carries an SNTP status.
func FuzzParsePacketAndCheck(f *testing.F) {
	sent := TimestampOf(time.Unix(1_800_000_000, 0))
	good := Packet{Version: Version, Mode: ModeServer, Stratum: 1, OrigTime: sent, RxTime: sent + 1<<32, TxTime: sent + 1<<32 + 5}
	f.Add(good.Append(nil))
	bad := good
	bad.Leap = 3
	f.Add(bad.Append(nil))
	bad = good
	bad.Stratum, bad.RefID = 0, [4]byte{'R', 'A', 'T', 'E'}
	f.Add(bad.Append(nil))
	f.Add([]byte{0x1c})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if (err == nil) != (len(b) >= MessageMinSize && len(b) <= MessageMaxSize) {
			t.Fatalf("ParsePacket(%d bytes) = %v", len(b), err)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidTimePacket) {
				t.Fatalf("ParsePacket error %v is not %v", err, ErrInvalidTimePacket)
			}
			return
		}
		if got := p.Append(nil); !bytes.Equal(got, b[:MessageMinSize]) {
			t.Fatalf("re-encoded % x, want % x", got, b[:MessageMinSize])
		}
		err = check(p, sent, nil, checkConfig{maxStratum: DefaultMaxStratum, maxDispersion: DefaultMaxDispersion, first: true})
		if err != nil {
			var s Status
			if !errors.As(err, &s) || s.Name() == "" {
				t.Fatalf("check error %v carries no SNTP status", err)
			}
			return
		}
		if p.Mode != ModeServer || p.Version != Version || p.Leap == 3 || p.Stratum == 0 || p.Stratum > DefaultMaxStratum || p.OrigTime != sent || p.TxTime < p.RxTime {
			t.Fatalf("check accepted %+v", p)
		}
	})
}

func TestTimestampRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Date(2026, 12, 3, 5, 0, 0, 123456789, time.UTC)} {
		got := TimestampOf(tm).Time()
		if d := got.Sub(tm); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("TimestampOf(%v).Time() = %v", tm, got)
		}
	}
}
