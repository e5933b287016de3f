// Package netsvc holds the network services a peer board offers to the board
// under test, as the hosts on a firmware engineer's bench do: a DNS server for
// the mail host's zone (github.com/miekg/dns Server), an NTP server, and a DHCP
// server. They run over the peer board's own sockets (netstack UDP sockets and
// listeners), so every query and reply crosses the Wire and the pcap, and
// every byte is accounted against the peer's pools.
//
// PacketConn adapts a board UDP socket to net.PacketConn for servers written
// against Go's interfaces. Each server's Close stops and joins its goroutines
// and releases every packet it holds.
package netsvc
