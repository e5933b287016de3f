// Package trace reads an Ethernet capture (a board's pcap, or anybody's)
// and reports its TCP flows and the SMTP and POP3 dialogues inside them:
// the library behind `simboard trace`. It mirrors no NetX Duo service; it
// is the tool a firmware engineer uses to see what the board said on the
// wire, without opening Wireshark.
//
// Start with [Analyze], then print with [Report.WriteText] or
// [Report.WriteJSON].
//
// # Input
//
// pcap (microsecond or nanosecond, either byte order) and pcapng, chosen by
// magic number, optionally gzip-compressed, read with gopacket's pcapgo.
// Link types: Ethernet (with 802.1Q tags), Linux cooked captures SLL and
// SLL2 (`tcpdump -i any`), raw IP and BSD loopback. IPv4 and IPv6 (with
// extension headers); IP fragments are counted, not reassembled. Damaged
// input gives an error, never a panic; a capture cut short still gives the
// report of the packets before the cut (see ErrTruncated).
//
// # Flows
//
// Each TCP 4-tuple is a flow (a new SYN after FIN or RST starts another).
// The client is the end that sent the SYN; without a handshake in the
// capture, the end not on a port of Options.Ports; failing that, the end
// with the higher port. Per direction a flow counts segments, payload
// bytes as captured, bytes reassembled in order, missing bytes,
// retransmissions (segments carrying bytes already seen), out-of-order
// segments (new bytes below bytes already seen) and resets.
//
// Each direction is reassembled by sequence number: duplicates, overlaps
// and segments in any order are put right (the first copy of a byte wins),
// holes that never fill are reported as gaps, and segments cut by the snap
// length count their missing bytes. The bytes held behind holes are capped
// once for the whole capture (Options.MaxHeldBytes, 32 MiB by default):
// past the cap the streams holding the most give up their holes as
// missing, the gap events say so and the report carries a note.
//
// # Dialogues
//
// Flows on Options.Ports (25, 587 SMTP; 465 SMTP over TLS; 110 POP3; 995
// POP3 over TLS by default), or whose server greets with "220 " / "220-"
// (SMTP) or "+OK" (POP3), get their dialogue as events: each client
// command, each server reply (an SMTP multi-line reply is one event; so is
// a POP3 listing such as LIST, UIDL or CAPA with its lines), with the time
// of its first line. Message bodies (SMTP DATA and BDAT, POP3 RETR and TOP)
// are summarised as size and line count, never shown. After STARTTLS or
// STLS is accepted, and on implicit-TLS ports from the start, each side is
// one "TLS, N bytes" event.
//
// Credentials never reach the output: SMTP and POP3 AUTH initial responses
// and every SASL continuation line (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, any
// mechanism), the POP3 PASS argument and the APOP digest are replaced by
// "[redacted]", with the verb found as an attacker would write it (after
// spaces or tabs, separated by tabs, in any case). While an AUTH exchange
// is unanswered every client line is treated as a credential. A capture may
// start in the middle of an exchange, or lose its AUTH command in a gap, so
// until the server's first final reply (and again after a gap in either
// direction) every client line is hidden whole; a client line answered by
// an SMTP 334, 235, 535 (or another AUTH-only code) or a POP3 "+"
// challenge is hidden after the fact, and so is every client line after
// such a challenge until the final reply. A credential once found is also
// removed from every later line of the flow (a server that echoes what it
// took for a command). Captured text is shown as printable ASCII, with
// other bytes as \xNN, so a capture cannot send escape sequences to a
// terminal.
//
// # JSON
//
// WriteJSON writes one object; the field names below are stable.
//
//	format      "pcap" or "pcapng"
//	link_type   e.g. "Ethernet", "Linux cooked v2 (SLL2)"
//	start, end  first and last packet time, RFC 3339 with nanoseconds
//	packets     {total, tcp, udp, arp, icmpv4, icmpv6, ip_fragments, other,
//	            malformed, truncated}
//	tcp         {flows, segments, bytes, retransmissions, out_of_order,
//	            resets, missing_bytes} summed over the flows
//	flows       [flow...] in order of first packet
//	notes       [string...] about the whole report, e.g. the reassembly
//	            cap was reached (absent when none)
//
//	flow:
//	  id              1, 2, ...
//	  client, server  "198.51.100.2:49152", "[2001:db8::1]:110"
//	  roles           "handshake", "port", "content" or "guess"
//	  protocol        "smtp", "smtps", "pop3", "pop3s" or ""
//	  detected_by     "port" or "content" (absent when protocol is "")
//	  first, last     times of the first and last packet
//	  syn, fin, rst   seen in either direction
//	  client_to_server, server_to_client:
//	                  {segments, bytes, stream_bytes, missing_bytes,
//	                   retransmissions, out_of_order, resets, syn, fin}
//	  events          [event...] in time order
//	  events_dropped  events beyond Options.MaxEvents or the event memory
//	                  cap (Options.MaxEventBytes, 64 MiB by default)
//
//	event:
//	  time        RFC 3339 time
//	  t           seconds since start, a plain decimal number
//	  from        "client" or "server"
//	  kind        "command", "reply", "auth", "data", "tls" or "gap"
//	  verb        command verb in upper case; POP3 status "+OK", "-ERR", "+"
//	  code        SMTP reply code
//	  text        rest of the (first) line, redacted
//	  lines       the lines as sent (CRLF removed), redacted
//	  bytes       data: message size; tls, gap: byte count
//	  line_count  data: lines in the message; a command hidden before the
//	              dialogue's context is known: how many consecutive client
//	              lines it stands for
//	  redacted    true when a credential was replaced
//	  note        anything unusual (cut lines, missing bytes, capture end)
//
// Fields of an event that do not apply are omitted.
package trace
