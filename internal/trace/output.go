package trace

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// WriteText writes the report for people: a summary, then one block per
// flow with a header line, a line per direction and the dialogue, each
// event as
//
//	12.345678 C> EHLO board
//	12.345901 S< 250-mail.example
//	          S< 250 AUTH PLAIN LOGIN
//
// with time in seconds since the first packet, "C>" for the client and
// "S<" for the server. It is safe for concurrent use with other readers of
// r and returns the first write error.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	span := r.End.Sub(r.Start).Seconds()
	fmt.Fprintf(bw, "capture: %s, %s, %d packets, %.6f s", r.Format, r.LinkType, r.Packets.Total, span)
	if !r.Start.IsZero() {
		fmt.Fprintf(bw, " from %s", r.Start.UTC().Format(time.RFC3339Nano))
	}
	c := r.Packets
	fmt.Fprintf(bw, "\npackets: tcp %d, udp %d, arp %d, icmpv4 %d, icmpv6 %d, ip fragments %d, other %d, malformed %d, truncated %d\n",
		c.TCP, c.UDP, c.ARP, c.ICMPv4, c.ICMPv6, c.Fragments, c.Other, c.Malformed, c.Truncated)
	t := r.TCP
	fmt.Fprintf(bw, "tcp: flows %d, segments %d, payload bytes %d, retransmissions %d, out-of-order %d, resets %d, missing bytes %d\n",
		t.Flows, t.Segments, t.Bytes, t.Retransmissions, t.OutOfOrder, t.Resets, t.MissingBytes)
	for _, n := range r.Notes {
		fmt.Fprintf(bw, "note: %s\n", n)
	}
	for _, f := range r.Flows {
		f.writeText(bw, r.Start)
	}
	return bw.Flush()
}

func (f *Flow) writeText(w *bufio.Writer, start time.Time) {
	proto := "tcp"
	if f.Protocol != ProtoNone {
		proto = f.Protocol.String() + " (by " + f.DetectedBy + ")"
	}
	var flags []string
	for _, fl := range []struct {
		on   bool
		name string
	}{{f.SYN, "SYN"}, {f.FIN, "FIN"}, {f.RST, "RST"}} {
		if fl.on {
			flags = append(flags, fl.name)
		}
	}
	if len(flags) == 0 {
		flags = []string{"none"}
	}
	fmt.Fprintf(w, "\nflow %d: %s -> %s %s, roles by %s, %.6f-%.6f, flags %s\n", f.ID, f.Client, f.Server, proto, f.Roles,
		f.First.Sub(start).Seconds(), f.Last.Sub(start).Seconds(), strings.Join(flags, ","))
	for _, d := range []struct {
		name string
		s    *StreamStats
	}{{"client->server", &f.ClientToServer}, {"server->client", &f.ServerToClient}} {
		s := d.s
		fmt.Fprintf(w, "  %s: segments %d, bytes %d, stream %d, retransmissions %d, out-of-order %d, missing %d, resets %d\n",
			d.name, s.Segments, s.Bytes, s.StreamBytes, s.Retransmissions, s.OutOfOrder, s.MissingBytes, s.Resets)
	}
	for i := range f.Events {
		f.Events[i].writeText(w)
	}
	if n := f.EventsDropped - f.capDropped; n > 0 {
		fmt.Fprintf(w, "  (%d more events not kept: Options.MaxEvents)\n", n)
	}
	if f.capDropped > 0 {
		fmt.Fprintf(w, "  (%d more events not kept: the events of all flows reached the event memory cap)\n", f.capDropped)
	}
}

func (e *Event) writeText(w *bufio.Writer) {
	arrow := "C>"
	if e.From == Server {
		arrow = "S<"
	}
	var lines []string
	switch e.Kind {
	case KindData:
		lines = []string{fmt.Sprintf("[data: %d bytes, %d lines]", e.Bytes, e.LineCount)}
	case KindTLS:
		lines = []string{fmt.Sprintf("[TLS, %d bytes]", e.Bytes)}
	case KindGap:
		lines = []string{fmt.Sprintf("[gap: %d bytes not captured]", e.Bytes)}
	default:
		lines = e.Lines
	}
	if e.Note != "" {
		if len(lines) == 0 {
			lines = []string{""}
		}
		lines = slices.Clone(lines)
		lines[len(lines)-1] += "  (" + e.Note + ")"
	}
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(w, "  %10.6f %s %s\n", float64(e.Rel), arrow, l)
		} else {
			fmt.Fprintf(w, "  %10s %s %s\n", "", arrow, l)
		}
	}
}

// WriteJSON writes the report as one indented JSON object followed by a
// newline. Field names are stable; the package comment documents them.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("trace: encode report: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("trace: write report: %w", err)
	}
	return nil
}
