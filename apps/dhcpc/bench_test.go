package dhcpc

import (
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkParseReply is the client's parse path for one ACK (dhcpv4
// decoding plus the client's checks).
func BenchmarkParseReply(b *testing.B) {
	ack := seedReply(dhcpv4.MessageTypeAck)
	b.ReportAllocs()
	b.SetBytes(int64(len(ack)))
	for b.Loop() {
		if _, err := parseReply(ack, fuzzMAC, fuzzXID); err != nil {
			b.Fatal(err)
		}
	}
}
