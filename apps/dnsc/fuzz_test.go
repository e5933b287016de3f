package dnsc

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseReply feeds arbitrary replies to the reply parser for an A query
// and an AAAA query. Properties: it never panics; a success holds at least
// one address, every one of the asked family; a failure always carries a
// DNS Status (so the caller gets a NetX code, never a bare error).
func FuzzParseReply(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("mail.simboard.test.", dns.TypeA)
	q.Id = 0x1234
	ok := new(dns.Msg)
	ok.SetReply(q)
	ok.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "mail.simboard.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 51, 100, 1)}}
	b, _ := ok.Pack()
	f.Add(b, false)
	nx := new(dns.Msg)
	nx.SetRcode(q, dns.RcodeNameError)
	b, _ = nx.Pack()
	f.Add(b, false)
	loop := append([]byte(nil), b...)
	loop = append(loop, 0xC0, byte(len(loop)), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
	loop[7] = 1
	f.Add(loop, false)
	f.Add([]byte{0x12, 0x34, 0x80}, true)

	srv := netip.MustParseAddr("198.51.100.1")
	f.Fuzz(func(t *testing.T, buf []byte, six bool) {
		qq := q.Copy()
		if six {
			qq.Question[0].Qtype = dns.TypeAAAA
		}
		r, _, err := parseReply(qq, buf, srv)
		if err != nil {
			var s Status
			if !errors.As(err, &s) || s.Name() == "" {
				t.Fatalf("parseReply error %v carries no DNS status", err)
			}
			return
		}
		if len(r.addrs) == 0 {
			t.Fatalf("parseReply succeeded with no address")
		}
		for _, a := range r.addrs {
			if a.Is4() == six {
				t.Fatalf("parseReply for %s returned %v", dns.TypeToString[qq.Question[0].Qtype], a)
			}
		}
	})
}
