package sntpc

import (
	"encoding/binary"
	"fmt"
	"time"
)

// NTP message sizes NetX accepts (NX_SNTP_TIME_MESSAGE_MIN_SIZE and
// NX_SNTP_TIME_MESSAGE_MAX_SIZE: 48 bytes, plus up to 20 of authenticator).
const (
	MessageMinSize = 48
	MessageMaxSize = 68
)

// NTP modes.
const (
	ModeClient    = 3
	ModeServer    = 4 // PROTOCOL_MODE_SERVER_UNICAST
	ModeBroadcast = 5
)

// Version is the NTP version the client sends and expects back
// (NX_SNTP_CLIENT_NTP_VERSION).
const Version = 3

// ntpEpochOffset is the seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const ntpEpochOffset = 2208988800

// Timestamp is an NTP 64-bit timestamp: seconds since 1900 in the high 32
// bits (era 0, which ends in 2036), binary fraction in the low 32.
type Timestamp uint64

// TimestampOf converts t to an NTP timestamp.
func TimestampOf(t time.Time) Timestamp {
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := (uint64(ns%1e9) << 32) / 1e9
	return Timestamp(sec<<32 | frac)
}

// Time converts the timestamp to a time.Time.
func (ts Timestamp) Time() time.Time {
	sec := int64(ts>>32) - ntpEpochOffset
	frac := int64((uint64(ts&0xFFFFFFFF) * 1e9) >> 32)
	return time.Unix(sec, frac).UTC()
}

// Packet is an NTP/SNTP message header (RFC 4330 §4, the layout beevik/ntp
// and NetX's NX_SNTP_TIME_MESSAGE use). Root delay and dispersion are in
// NTP short format (16.16 seconds).
type Packet struct {
	Leap           uint8 // 0 none, 1/2 leap second pending, 3 clock not synchronised
	Version        uint8
	Mode           uint8
	Stratum        uint8 // 0 = kiss-o'-death, 1 primary, 2–15 secondary
	Poll           int8
	Precision      int8
	RootDelay      uint32
	RootDispersion uint32
	RefID          [4]byte // kiss code when Stratum is 0
	RefTime        Timestamp
	OrigTime       Timestamp
	RxTime         Timestamp
	TxTime         Timestamp
}

// Append appends the 48-byte wire form of p to b.
func (p *Packet) Append(b []byte) []byte {
	b = append(b, p.Leap<<6|(p.Version&7)<<3|p.Mode&7, p.Stratum, byte(p.Poll), byte(p.Precision))
	b = binary.BigEndian.AppendUint32(b, p.RootDelay)
	b = binary.BigEndian.AppendUint32(b, p.RootDispersion)
	b = append(b, p.RefID[:]...)
	for _, ts := range []Timestamp{p.RefTime, p.OrigTime, p.RxTime, p.TxTime} {
		b = binary.BigEndian.AppendUint64(b, uint64(ts))
	}
	return b
}

// ParsePacket parses an NTP message of MessageMinSize to MessageMaxSize
// bytes (anything past 48 is an authenticator, ignored). Errors wrap
// ErrInvalidTimePacket.
func ParsePacket(b []byte) (Packet, error) {
	if len(b) < MessageMinSize || len(b) > MessageMaxSize {
		return Packet{}, fmt.Errorf("sntpc: %d-byte time message, want %d to %d: %w", len(b), MessageMinSize, MessageMaxSize, ErrInvalidTimePacket)
	}
	var p Packet
	p.Leap = b[0] >> 6
	p.Version = (b[0] >> 3) & 7
	p.Mode = b[0] & 7
	p.Stratum = b[1]
	p.Poll = int8(b[2])
	p.Precision = int8(b[3])
	p.RootDelay = binary.BigEndian.Uint32(b[4:])
	p.RootDispersion = binary.BigEndian.Uint32(b[8:])
	copy(p.RefID[:], b[12:16])
	p.RefTime = Timestamp(binary.BigEndian.Uint64(b[16:]))
	p.OrigTime = Timestamp(binary.BigEndian.Uint64(b[24:]))
	p.RxTime = Timestamp(binary.BigEndian.Uint64(b[32:]))
	p.TxTime = Timestamp(binary.BigEndian.Uint64(b[40:]))
	return p, nil
}

// shortDuration converts NTP short format (16.16 s) to a duration.
func shortDuration(v uint32) time.Duration {
	return time.Duration((uint64(v) * uint64(time.Second)) >> 16)
}
