package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Protocol is the application protocol of a flow.
type Protocol uint8

const (
	ProtoNone  Protocol = iota // not SMTP or POP3 (or not recognised)
	ProtoSMTP                  // SMTP; STARTTLS may turn it into TLS
	ProtoSMTPS                 // SMTP inside TLS from the first byte (port 465)
	ProtoPOP3                  // POP3; STLS may turn it into TLS
	ProtoPOP3S                 // POP3 inside TLS from the first byte (port 995)
)

var protoNames = [...]string{"", "smtp", "smtps", "pop3", "pop3s"}

// String returns "smtp", "smtps", "pop3", "pop3s", or "" for ProtoNone.
func (p Protocol) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText encodes p as String does.
func (p Protocol) MarshalText() ([]byte, error) {
	if int(p) >= len(protoNames) {
		return nil, fmt.Errorf("trace: unknown protocol %d", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText is ParseProtocol for encoding packages and flag.TextVar.
func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := ParseProtocol(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParseProtocol parses "smtp", "smtps", "pop3" or "pop3s" (and "" as
// ProtoNone), for command-line port overrides such as 2525=smtp.
func ParseProtocol(s string) (Protocol, error) {
	for i, n := range protoNames {
		if s == n {
			return Protocol(i), nil
		}
	}
	return ProtoNone, fmt.Errorf("trace: unknown protocol %q (want smtp, smtps, pop3 or pop3s)", s)
}

// DefaultPorts returns a new map of the well-known server ports: 25 and 587
// SMTP, 465 SMTP over TLS, 110 POP3, 995 POP3 over TLS.
func DefaultPorts() map[uint16]Protocol {
	return map[uint16]Protocol{25: ProtoSMTP, 587: ProtoSMTP, 465: ProtoSMTPS, 110: ProtoPOP3, 995: ProtoPOP3S}
}

// DefaultMaxEvents is the per-flow event limit when Options.MaxEvents is 0.
const DefaultMaxEvents = 10000

// DefaultMaxEventBytes is the cap on the memory of all flows' events when
// Options.MaxEventBytes is 0.
const DefaultMaxEventBytes = 64 << 20

// DefaultMaxHeldBytes is the cap on bytes held for reassembly when
// Options.MaxHeldBytes is 0: eight times gVisor's largest send buffer
// (4 MiB), so a capture's real reordering never reaches it.
const DefaultMaxHeldBytes = 32 << 20

// Options tunes Analyze. The zero value is ready to use.
type Options struct {
	// Ports maps a server TCP port to the protocol spoken on it.
	// nil = DefaultPorts(). A non-nil map replaces the defaults entirely
	// (start from DefaultPorts() to add a port). Flows on other ports are
	// still recognised by their greeting ("220 " or "220-" for SMTP, "+OK"
	// for POP3), except on port 21 where "220" is FTP.
	Ports map[uint16]Protocol

	// MaxEvents caps the dialogue events kept per flow; the others are
	// counted in Flow.EventsDropped. 0 = DefaultMaxEvents; negative = no
	// limit.
	MaxEvents int

	// MaxHeldBytes caps the captured payload bytes held, summed over all
	// flows and directions, while reassembly waits for segments missing
	// from the capture (a hole before them). When a segment takes the sum
	// past the cap, the streams holding the most give up their holes as
	// missing bytes (gap events noted as such) until the sum is at most
	// half the cap, and Report.Notes says so. 0 or negative =
	// DefaultMaxHeldBytes.
	MaxHeldBytes int64

	// MaxEventBytes caps the memory of the dialogue events kept, summed
	// over all flows (an estimate: each event's text plus a fixed
	// overhead). A capture whose flows lost their start can turn every
	// line of a large transfer into an event, so MaxEvents alone does not
	// bound memory across many flows. Events past the cap are counted in
	// Flow.EventsDropped and Report.Notes says so. 0 or negative =
	// DefaultMaxEventBytes.
	MaxEventBytes int64
}

// ErrTruncated and ErrCorrupt are wrapped by the error Analyze returns,
// together with a partial report, when the capture ends in the middle of a
// record (ErrTruncated, e.g. a capture that was still being written) or a
// record after the file header is malformed (ErrCorrupt). The report
// covers the packets before that point.
var (
	ErrTruncated = errors.New("capture cut short in the middle of a packet")
	ErrCorrupt   = errors.New("capture damaged")
)

// Report is what Analyze found in a capture. Its JSON form is documented in
// the package comment.
type Report struct {
	Format   string    `json:"format"`    // "pcap" or "pcapng"
	LinkType string    `json:"link_type"` // link type of the (first) interface, e.g. "Ethernet"; "" if none
	Start    time.Time `json:"start"`     // timestamp of the first packet; zero if none
	End      time.Time `json:"end"`       // latest packet timestamp; zero if none
	Packets  Counts    `json:"packets"`
	TCP      TCPTotals `json:"tcp"`
	Flows    []*Flow   `json:"flows"` // in order of each flow's first packet
	// Notes says what the reader must know about the whole report, such
	// as holes given up at the reassembly cap (Options.MaxHeldBytes).
	Notes []string `json:"notes,omitempty"`
}

// Counts counts the packets of a capture by kind. Every packet is counted in
// Total and in exactly one of the other fields except Truncated.
type Counts struct {
	Total     int `json:"total"`
	TCP       int `json:"tcp"`
	UDP       int `json:"udp"`
	ARP       int `json:"arp"`
	ICMPv4    int `json:"icmpv4"`
	ICMPv6    int `json:"icmpv6"`
	Fragments int `json:"ip_fragments"` // IPv4 or IPv6 fragments (not reassembled)
	Other     int `json:"other"`        // well formed, none of the above (IGMP, LLDP, other link types...)
	Malformed int `json:"malformed"`    // could not be decoded down to its transport header
	Truncated int `json:"truncated"`    // captured shorter than the packet on the wire (also counted above)
}

// TCPTotals sums the TCP statistics of every flow.
type TCPTotals struct {
	Flows           int   `json:"flows"`
	Segments        int   `json:"segments"`
	Bytes           int64 `json:"bytes"` // payload bytes as captured, retransmissions included
	Retransmissions int   `json:"retransmissions"`
	OutOfOrder      int   `json:"out_of_order"`
	Resets          int   `json:"resets"` // RST segments
	MissingBytes    int64 `json:"missing_bytes"`
}

// Flow is one TCP connection: a 4-tuple from its first packet until its
// end or a new SYN on the same 4-tuple after it closed.
type Flow struct {
	ID     int            `json:"id"` // 1, 2, ... in order of first packet
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Roles says how Client and Server were told apart: "handshake"
	// (SYN seen), "port" (the server port is in Options.Ports),
	// "content" (the server's greeting) or "guess" (the lower port is
	// the server's).
	Roles      string    `json:"roles"`
	Protocol   Protocol  `json:"protocol"`              // "" when neither SMTP nor POP3
	DetectedBy string    `json:"detected_by,omitempty"` // "port" or "content"
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	SYN        bool      `json:"syn"` // a SYN was seen in either direction
	FIN        bool      `json:"fin"`
	RST        bool      `json:"rst"`
	// ClientToServer and ServerToClient describe each direction.
	ClientToServer StreamStats `json:"client_to_server"`
	ServerToClient StreamStats `json:"server_to_client"`
	// Events is the application dialogue in time order (empty unless
	// Protocol is set), with credentials redacted.
	Events        []Event `json:"events"`
	EventsDropped int     `json:"events_dropped"` // events beyond Options.MaxEvents or Options.MaxEventBytes

	capDropped int // the part of EventsDropped due to MaxEventBytes
}

// Resets is the number of RST segments in both directions.
func (f *Flow) Resets() int { return f.ClientToServer.Resets + f.ServerToClient.Resets }

// StreamStats describes one direction of a flow.
type StreamStats struct {
	Segments int `json:"segments"`
	// Bytes counts TCP payload bytes as captured, retransmissions included.
	Bytes int64 `json:"bytes"`
	// StreamBytes counts the distinct bytes reassembled in sequence order.
	StreamBytes int64 `json:"stream_bytes"`
	// MissingBytes counts sequence space never captured: holes given up
	// and segments cut short by the snap length.
	MissingBytes int64 `json:"missing_bytes"`
	// Retransmissions counts segments carrying bytes seen before.
	Retransmissions int `json:"retransmissions"`
	// OutOfOrder counts segments carrying only new bytes that lie below
	// bytes already seen (they fill a hole). A segment lost before the
	// capture point and resent after a timeout also counts here.
	OutOfOrder int  `json:"out_of_order"`
	Resets     int  `json:"resets"` // RST segments
	SYN        bool `json:"syn"`
	FIN        bool `json:"fin"`
}

// Side says which end of a flow sent something.
type Side uint8

const (
	Client Side = iota // shown as "C>"
	Server             // shown as "S<"
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// MarshalText encodes s as String does.
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Kind is the kind of a dialogue event.
type Kind string

const (
	KindCommand Kind = "command" // a client command line
	KindReply   Kind = "reply"   // a server reply: SMTP (possibly multi-line) or POP3 status (with its listing)
	KindAuth    Kind = "auth"    // a client SASL continuation line (always redacted)
	KindData    Kind = "data"    // a message body (SMTP DATA/BDAT, POP3 RETR/TOP), summarised
	KindTLS     Kind = "tls"     // everything after STARTTLS/STLS, or the whole flow on 465/995
	KindGap     Kind = "gap"     // bytes of the stream missing from the capture
)

// Event is one step of an SMTP or POP3 dialogue.
type Event struct {
	Time time.Time `json:"time"`
	Rel  Seconds   `json:"t"` // seconds since Report.Start
	From Side      `json:"from"`
	Kind Kind      `json:"kind"`
	// Verb is the command verb in upper case (EHLO, RETR), or for a POP3
	// reply its status: "+OK", "-ERR", or "+" for a SASL challenge.
	Verb string `json:"verb,omitempty"`
	Code int    `json:"code,omitempty"` // SMTP reply code
	// Text is the rest of the (first) line after the verb, status or
	// code and its separator.
	Text string `json:"text,omitempty"`
	// Lines are the lines as sent, without CRLF: one for a command, every
	// line of a multi-line reply or POP3 listing (terminator included).
	// Bytes that are not printable ASCII are shown as \xNN.
	Lines     []string `json:"lines,omitempty"`
	Bytes     int64    `json:"bytes,omitempty"`      // data: message size (dot-unstuffed, CRLF line ends); tls, gap: byte count
	LineCount int      `json:"line_count,omitempty"` // data: lines in the message; a hidden run of client lines: how many
	Redacted  bool     `json:"redacted,omitempty"`   // a credential was replaced by "[redacted]"
	Note      string   `json:"note,omitempty"`       // anything unusual about this event
}

// Seconds is a time offset in seconds, encoded in JSON as a plain decimal
// number (never in exponent form).
type Seconds float64

// MarshalJSON encodes s with as many digits as needed and no exponent.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(s), 'f', -1, 64), nil
}
