package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// --compare-netx (demo and send): the same mail, on the same seed, once in
// smtpc's default profile and once in ProfileNetX (NetX Duo's bytes, packets
// and statuses), each on a fresh board and built-in mail host on an
// in-process Wire. It reports what an engineer must know before porting: the
// body lines NetX would corrupt, the statuses that differ, the bytes on the
// wire that differ, what the server delivered, and the pool peak of each
// profile (only ProfileNetX's transfers to a NetX Duo build).

// compareSpec is the workload.
type compareSpec struct {
	From, To, Subject, Domain string
	Priority                  smtpc.Priority
	Body                      []byte
	Seed                      int64
	Payload, Packets          int
	IPv6                      bool
	Loss, Reorder, Duplicate  float64
	Delay, Jitter             time.Duration
	Rate                      int64
	Log                       *slog.Logger
	// Virtual runs each profile in its own sim.Sim (seeded with Seed);
	// Timeout bounds each profile's run (simulated time when Virtual).
	Virtual bool
	Timeout time.Duration
}

// bodyIssue is one body line NetX Duo sends differently from a correct client.
type bodyIssue struct {
	Line    int    `json:"line"`
	Kind    string `json:"kind"` // "leading-dot", "lone-dot", "bare-lf", "bare-cr", "long-line", "final-crlf"
	Message string `json:"message"`
}

// lineDiff is one line present in only one profile's stream.
type lineDiff struct {
	Profile string `json:"profile"` // "default" or "netx"
	Line    int    `json:"line"`    // line number in that profile's stream
	Text    string `json:"text"`    // Go-quoted, shortened
}

// profileRun is one profile's outcome.
type profileRun struct {
	Profile         string `json:"profile"`
	Status          uint32 `json:"status"`
	StatusName      string `json:"status_name"`
	Error           string `json:"error,omitempty"`
	Accepted        bool   `json:"accepted"`
	WireOctets      int    `json:"wire_octets"`      // client to server, TCP payload
	DeliveredOctets int    `json:"delivered_octets"` // the message the server stored
	PoolPeak        int    `json:"pool_peak"`        // most packets of the board's pool in use at once
	PoolTotal       int    `json:"pool_total"`
	PayloadSize     int    `json:"payload_size"`
	// The profile's own run: its clock, simulated seconds (virtual time:
	// each profile runs in its own Sim) and wall seconds.
	Clock           string   `json:"clock"`
	Simulated       *float64 `json:"simulated_s,omitempty"`
	Wall            float64  `json:"wall_s"`
	wire, delivered []byte
}

// compareReport is the whole comparison (the --json output).
type compareReport struct {
	Seed          int64       `json:"seed"`
	Recipient     string      `json:"recipient"`
	BodyOctets    int         `json:"body_octets"`
	BodyIssues    []bodyIssue `json:"body_issues"`
	Default       profileRun  `json:"default"`
	NetX          profileRun  `json:"netx"`
	StatusDiffers bool        `json:"status_differs"`
	WireDiff      []lineDiff  `json:"wire_diff"`
	WireDiffMore  int         `json:"wire_diff_more"` // differing lines not listed
	DeliveredDiff []lineDiff  `json:"delivered_diff"`
	DeliveredMore int         `json:"delivered_diff_more"`
	Transfers     string      `json:"pool_figures_transfer"` // the profile whose pool figures hold on a NetX Duo build
	clockReport               // both runs: simulated and wall seconds summed (clock.go)
}

// maxLine is RFC 5322's line limit, CRLF excluded.
const compareMaxLine = 998

// analyzeBody lists every body line NetX Duo's nx_smtp_mail_send sends
// unchanged where a correct client would not (no dot-stuffing, no CRLF
// repair, no line-length check, "\r\n.\r\n" appended).
func analyzeBody(body []byte) []bodyIssue {
	var out []bodyIssue
	for n, rest := 1, body; len(rest) > 0; n++ {
		end := bytes.IndexByte(rest, '\n')
		line, term := rest, ""
		if end >= 0 {
			line, rest = rest[:end], rest[end+1:]
			term = "\n"
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line, term = line[:len(line)-1], "\r\n"
			}
		} else {
			rest = nil
		}
		switch {
		case string(line) == ".":
			out = append(out, bodyIssue{n, "lone-dot", fmt.Sprintf("line %d is a lone '.': NetX sends it unstuffed and the server ends the message there", n)})
		case len(line) > 0 && line[0] == '.':
			out = append(out, bodyIssue{n, "leading-dot", fmt.Sprintf("line %d starts with '.': NetX sends it unstuffed and the server drops the dot", n)})
		}
		if term == "\n" {
			out = append(out, bodyIssue{n, "bare-lf", fmt.Sprintf("line %d ends with a bare LF: NetX sends it as is (no CRLF repair); the server does not see a line end there", n)})
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			out = append(out, bodyIssue{n, "bare-cr", fmt.Sprintf("line %d holds a bare CR: NetX sends it as is", n)})
		}
		if len(line) > compareMaxLine {
			out = append(out, bodyIssue{n, "long-line", fmt.Sprintf("line %d is %d octets long (limit 998): NetX sends it as is; a server may refuse or split it", n, len(line))})
		}
	}
	if bytes.HasSuffix(body, []byte("\r\n")) {
		out = append(out, bodyIssue{bytes.Count(body, []byte("\n")) + 1, "final-crlf", "the body ends with CRLF: NetX's end marker \"\\r\\n.\\r\\n\" adds an empty last line"})
	}
	return out
}

// compareNetX runs the workload in both profiles.
func compareNetX(ctx context.Context, sp compareSpec) (*compareReport, error) {
	rep := &compareReport{Seed: sp.Seed, Recipient: sp.To, BodyOctets: len(sp.Body), BodyIssues: analyzeBody(sp.Body), Transfers: "netx"}
	var err error
	if rep.Default, err = runCompareTimed(ctx, sp, smtpc.ProfileDefault); err != nil {
		return nil, err
	}
	if rep.NetX, err = runCompareTimed(ctx, sp, smtpc.ProfileNetX); err != nil {
		return nil, err
	}
	rep.Clock, rep.Wall = rep.Default.Clock, round3(rep.Default.Wall+rep.NetX.Wall)
	if sp.Virtual {
		s := math.Round((*rep.Default.Simulated+*rep.NetX.Simulated)*1e6) / 1e6
		rep.Simulated = &s
	}
	rep.StatusDiffers = rep.Default.Status != rep.NetX.Status
	rep.WireDiff, rep.WireDiffMore = diffLines(rep.Default.wire, rep.NetX.wire, 40)
	rep.DeliveredDiff, rep.DeliveredMore = diffLines(rep.Default.delivered, rep.NetX.delivered, 40)
	return rep, nil
}

// runCompareTimed runs one profile on its own clock: in virtual time a Sim
// of its own, so the two profiles start from the same simulated instant and
// seed and neither's events shift the other's.
func runCompareTimed(ctx context.Context, sp compareSpec, profile smtpc.Profile) (profileRun, error) {
	rc := newRunClock(sp.Virtual, sp.Seed, sp.Timeout)
	var run profileRun
	err := rc.run(ctx, func(ctx context.Context) error {
		var err error
		run, err = runCompareProfile(ctx, sp, profile, rc)
		return err
	})
	t := rc.report("")
	run.Clock, run.Simulated, run.Wall = t.Clock, t.Simulated, t.Wall
	return run, err
}

func runCompareProfile(ctx context.Context, sp compareSpec, profile smtpc.Profile, rc *runClock) (profileRun, error) {
	run := profileRun{Profile: "default", PayloadSize: sp.Payload}
	if profile == smtpc.ProfileNetX {
		run.Profile = "netx"
	}
	clk := rc.clock()
	wire, err := driver.NewWire(driver.WireOptions{Seed: sp.Seed, Logger: sp.Log, Clock: clk})
	if err != nil {
		return run, err
	}
	defer wire.Close()
	imp := driver.PortOptions{Loss: sp.Loss, Delay: sp.Delay, Jitter: sp.Jitter, Reorder: sp.Reorder, Duplicate: sp.Duplicate, RateBitsPerSecond: sp.Rate}
	boardPort, err := wire.Attach(withName(imp, "board"))
	if err != nil {
		return run, err
	}
	hostPort, err := wire.Attach(withName(imp, "mailhost"))
	if err != nil {
		return run, err
	}
	rec := &recordLink{Link: boardPort, port: 25}
	bcfg := boardConfig{name: "board", link: rec, addr: boardAddr, payload: sp.Payload, packets: sp.Packets,
		rxPayload: sp.Payload, rxPackets: sp.Packets, logger: sp.Log, clock: clk, rand: rc.rand("board")}
	hcfg := boardConfig{name: "mailhost", link: hostPort, addr: hostAddr, payload: 1536, packets: 1024,
		rxPayload: 1536, rxPackets: 1024, logger: sp.Log, clock: clk, rand: rc.rand("mailhost")}
	server := hostAddr.Addr()
	if sp.IPv6 {
		bcfg.addr6, hcfg.addr6 = boardAddr6, hostAddr6
		server = hostAddr6.Addr()
	}
	brd, err := bootBoard(bcfg)
	if err != nil {
		return run, fmt.Errorf("boot board: %w", err)
	}
	users := map[string]string{strings.SplitN(sp.To, "@", 2)[0]: "x"}
	host, err := mailhost.New(mailhost.Options{Domain: demoDomain, Users: users, AllowInsecureAuth: true,
		MaxMessageBytes: int64(len(sp.Body)) + 1<<20, Logger: sp.Log, Clock: clk})
	if err != nil {
		brd.Close()
		return run, err
	}
	peer, err := startMailPeer(hcfg, host)
	if err != nil {
		brd.Close()
		return run, err
	}
	cl, err := smtpc.Create(smtpc.Options{IP: brd.ip, Pool: brd.pool, From: sp.From, ClientDomain: sp.Domain,
		Auth: smtpc.AuthNone, ServerAddr: server, Port: 25, TLS: smtpc.TLSOff, Profile: profile, Logger: sp.Log})
	if err == nil {
		// A fixed Date and Message-ID: the default profile's header is the
		// same on every run of the same seed.
		_, err = cl.Send(ctx, &smtpc.Message{To: []string{sp.To}, Subject: sp.Subject, Priority: sp.Priority,
			Body: bytes.NewReader(sp.Body), Date: time.Unix(1700000000+sp.Seed, 0).UTC(),
			MessageID: fmt.Sprintf("compare-netx-%d@%s", sp.Seed, demoDomain)})
		cl.Delete()
	}
	run.Status = smtpc.NetXStatus(err)
	run.StatusName = compareStatusName(run.Status)
	if err != nil {
		run.Error = describe(err)
	} else {
		run.Accepted = true
	}
	if ctx.Err() != nil {
		peer.Close()
		brd.Close()
		return run, ctx.Err()
	}
	in := brd.pool.Info()
	run.PoolPeak, run.PoolTotal = in.Total-in.LowWater, in.Total
	run.wire = rec.stream()
	run.WireOctets = len(run.wire)
	if rcv := host.Store().Received(); len(rcv) > 0 {
		run.delivered = rcv[0].Data
		run.DeliveredOctets = len(run.delivered)
	}
	perr := peer.Close()
	if berr := brd.Close(); berr != nil || perr != nil {
		return run, errors.Join(perr, berr)
	}
	return run, nil
}

func compareStatusName(st uint32) string {
	if st == 0 {
		return "NX_SUCCESS"
	}
	if n := smtpc.Status(st).Name(); n != "" {
		return n
	}
	if n := nx.Status(st).Name(); n != "" {
		return n
	}
	return fmt.Sprintf("0x%02X", st)
}

// recordLink passes frames through and keeps the TCP payload the board sends
// to port, placed by sequence number (a retransmission overwrites its own
// bytes), for the first connection to that port.
type recordLink struct {
	driver.Link
	port uint16
	mu   sync.Mutex
	isn  uint32
	open bool
	buf  []byte
}

func (r *recordLink) WriteFrame(frame []byte) error {
	r.record(frame)
	return r.Link.WriteFrame(frame)
}

// ReadFrameContext keeps the inner link's cancellable reads.
func (r *recordLink) ReadFrameContext(ctx context.Context, buf []byte) (int, error) {
	if cr, ok := r.Link.(driver.ContextReader); ok {
		return cr.ReadFrameContext(ctx, buf)
	}
	return 0, fmt.Errorf("compare: %w", errors.ErrUnsupported)
}

func (r *recordLink) record(f []byte) {
	if len(f) < 14 {
		return
	}
	var seg []byte
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		ip := f[14:]
		if len(ip) < 20 || ip[9] != 6 {
			return
		}
		ihl := int(ip[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || tot > len(ip) || tot < ihl {
			return
		}
		seg = ip[ihl:tot]
	case 0x86DD:
		ip := f[14:]
		if len(ip) < 40 || ip[6] != 6 {
			return
		}
		pl := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+pl > len(ip) {
			return
		}
		seg = ip[40 : 40+pl]
	default:
		return
	}
	if len(seg) < 20 || binary.BigEndian.Uint16(seg[2:4]) != r.port {
		return
	}
	off := int(seg[12]>>4) * 4
	if off < 20 || off > len(seg) {
		return
	}
	seq, flags := binary.BigEndian.Uint32(seg[4:8]), seg[13]
	r.mu.Lock()
	defer r.mu.Unlock()
	if flags&0x02 != 0 { // SYN
		if !r.open {
			r.isn, r.open = seq, true
		}
		return
	}
	data := seg[off:]
	if !r.open || len(data) == 0 {
		return
	}
	pos := int(seq - r.isn - 1)
	if pos < 0 || pos > len(r.buf)+4<<20 { // before the stream, or far beyond any window
		return
	}
	if end := pos + len(data); end > len(r.buf) {
		r.buf = append(r.buf, make([]byte, end-len(r.buf))...)
	}
	copy(r.buf[pos:], data)
}

func (r *recordLink) stream() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.buf...)
}

// splitLines cuts p after every LF (a line keeps its terminator).
func splitLines(p []byte) []string {
	var out []string
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			out = append(out, string(p))
			break
		}
		out = append(out, string(p[:i+1]))
		p = p[i+1:]
	}
	return out
}

// diffLines returns the lines only one side has, by a longest common
// subsequence of lines, at most limit of them (and how many more there are).
// Streams of more than 4000 lines are compared line by line instead.
func diffLines(a, b []byte, limit int) ([]lineDiff, int) {
	la, lb := splitLines(a), splitLines(b)
	var out []lineDiff
	more := 0
	add := func(profile string, n int, s string) {
		if len(out) >= limit {
			more++
			return
		}
		out = append(out, lineDiff{Profile: profile, Line: n, Text: shorten(s)})
	}
	if len(la) > 4000 || len(lb) > 4000 {
		for i := 0; i < len(la) || i < len(lb); i++ {
			switch {
			case i >= len(la):
				add("netx", i+1, lb[i])
			case i >= len(lb):
				add("default", i+1, la[i])
			case la[i] != lb[i]:
				add("default", i+1, la[i])
				add("netx", i+1, lb[i])
			}
		}
		return out, more
	}
	// lcs[i][j]: common lines of la[i:] and lb[j:].
	lcs := make([][]int32, len(la)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(lb)+1)
	}
	for i := len(la) - 1; i >= 0; i-- {
		for j := len(lb) - 1; j >= 0; j-- {
			if la[i] == lb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max32(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(la) || j < len(lb) {
		switch {
		case i < len(la) && j < len(lb) && la[i] == lb[j]:
			i, j = i+1, j+1
		case i < len(la) && (j == len(lb) || lcs[i+1][j] >= lcs[i][j+1]):
			add("default", i+1, la[i])
			i++
		default:
			add("netx", j+1, lb[j])
			j++
		}
	}
	return out, more
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// shorten quotes s, keeping at most 70 octets of it.
func shorten(s string) string {
	if len(s) > 70 {
		return strconv.Quote(s[:50]) + fmt.Sprintf("...(%d octets)...", len(s)) + strconv.Quote(s[len(s)-12:])
	}
	return strconv.Quote(s)
}

// printCompare writes the human-readable report.
func printCompare(w io.Writer, r *compareReport) {
	fmt.Fprintf(w, "compare-netx: one mail to %s (body %d octets, seed %d) sent in the default profile and in ProfileNetX (NetX Duo's bytes, packets and statuses)\n",
		r.Recipient, r.BodyOctets, r.Seed)
	fmt.Fprintln(w, "\nbody lines NetX Duo would corrupt")
	if len(r.BodyIssues) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, b := range r.BodyIssues {
		fmt.Fprintf(w, "  %s\n", b.Message)
	}
	fmt.Fprintln(w, "\nstatus (what nx_smtp_mail_send returns)")
	for _, p := range []profileRun{r.Default, r.NetX} {
		fmt.Fprintf(w, "  %-8s 0x%02X %s", p.Profile, p.Status, p.StatusName)
		if p.Error != "" {
			fmt.Fprintf(w, ": %s", p.Error)
		}
		fmt.Fprintln(w)
	}
	if r.StatusDiffers {
		fmt.Fprintln(w, "  the statuses differ: the MCU returns the netx one")
	} else {
		fmt.Fprintln(w, "  the statuses are the same")
	}
	fmt.Fprintf(w, "\nbytes on the wire, board to server, that differ (default %d octets, netx %d octets; - default only, + netx only)\n",
		r.Default.WireOctets, r.NetX.WireOctets)
	printDiff(w, r.WireDiff, r.WireDiffMore)
	fmt.Fprintf(w, "\nmessage the server stored (default %d octets, netx %d octets)\n", r.Default.DeliveredOctets, r.NetX.DeliveredOctets)
	printDiff(w, r.DeliveredDiff, r.DeliveredMore)
	fmt.Fprintln(w, "\npool peak (most packets of the board's pool in use at once)")
	fmt.Fprintf(w, "  default  %d of %d x %d B  (smtpc's own packetization: does not transfer to a NetX Duo build)\n", r.Default.PoolPeak, r.Default.PoolTotal, r.Default.PayloadSize)
	fmt.Fprintf(w, "  netx     %d of %d x %d B  (NetX Duo's packetization: transfers to a NetX Duo build with this pool)\n", r.NetX.PoolPeak, r.NetX.PoolTotal, r.NetX.PayloadSize)
	fmt.Fprintln(w, "\nruns (each profile on its own board, mail host and Wire, from the same seed)")
	for _, p := range []profileRun{r.Default, r.NetX} {
		if p.Simulated != nil {
			fmt.Fprintf(w, "  %-8s simulated %s in %.2f s\n", p.Profile, simSeconds(*p.Simulated), p.Wall)
		} else {
			fmt.Fprintf(w, "  %-8s real time: %.1f s\n", p.Profile, p.Wall)
		}
	}
	fmt.Fprintln(w)
	printTimes(w, r.clockReport)
}

func printDiff(w io.Writer, d []lineDiff, more int) {
	if len(d) == 0 {
		fmt.Fprintln(w, "  identical")
		return
	}
	for _, l := range d {
		sign := "-"
		if l.Profile == "netx" {
			sign = "+"
		}
		fmt.Fprintf(w, "  %s %-7s line %4d  %s\n", sign, l.Profile, l.Line, l.Text)
	}
	if more > 0 {
		fmt.Fprintf(w, "  ... %d more differing lines\n", more)
	}
}

// writeCompare prints r as text or JSON.
func writeCompare(w io.Writer, r *compareReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printCompare(w, r)
	return nil
}

// runSendCompare is `simboard send --compare-netx`: send's message, on the
// in-memory Wire with the built-in mail host, in both profiles.
func runSendCompare(e *cmdEnv, n *netFlags, f *sendFlags, virtual bool) error {
	rcpts := splitList(f.to + "," + f.cc + "," + f.bcc)
	if len(rcpts) != 1 {
		return usagef("--compare-netx sends to one recipient (NetX Duo's limit): give one --to and no --cc or --bcc")
	}
	if n.tap != "" {
		return usagef("--compare-netx runs on the in-memory Wire with the built-in mail host: drop --tap")
	}
	ctx, cancel := context.WithTimeout(e.ctx, n.timeout) // reading --body - (real time)
	defer cancel()
	body := []byte("Hello from a simboard board.\r\n")
	switch f.body {
	case "":
	case "-":
		b, err := io.ReadAll(newCtxReader(ctx, e.stdin))
		if err != nil {
			return err
		}
		body = b
	default:
		b, err := os.ReadFile(f.body)
		if err != nil {
			return err
		}
		body = b
	}
	rep, err := compareNetX(e.ctx, compareSpec{From: f.from, To: rcpts[0], Subject: f.subject, Domain: f.domain, Priority: f.prio,
		Body: body, Seed: n.seed, Payload: n.payload, Packets: n.packets, Log: n.logger(e.stderr), Virtual: virtual, Timeout: n.timeout})
	if err != nil {
		return err
	}
	rep.Reproduce = e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(n.seed)})
	return writeCompare(e.stdout, rep, n.json)
}

// runDemoCompare is `simboard demo --compare-netx`: the demo's body to its
// first recipient, in both profiles, on the demo's seed and impairments.
func runDemoCompare(e *cmdEnv, f demoFlags, virtual bool) error {
	rep, err := compareNetX(e.ctx, compareSpec{From: "board@" + demoDomain, To: "rcpt1@" + demoDomain, Subject: "simboard demo",
		Domain: "board." + demoDomain, Priority: smtpc.PriorityNormal, Body: demoBody(f.bodySize), Seed: f.seed,
		Payload: f.payload, Packets: f.poolPackets, IPv6: f.ipv6, Loss: f.loss, Delay: f.delay, Jitter: f.jitter, Reorder: f.reorder,
		Duplicate: f.duplicate, Rate: f.rateBits, Log: f.logger(e.stderr), Virtual: virtual, Timeout: f.timeout})
	if err != nil {
		return err
	}
	rep.Reproduce = e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(f.seed)})
	return writeCompare(e.stdout, rep, f.json)
}

// netxMessageData decodes what pop3c's MailItemMessageGet returns (NetX's
// packets: dot-stuffed, the terminator included) into the message: the
// terminator and the line ending before it removed, lines dot-unstuffed.
func netxMessageData(raw []byte) []byte {
	switch {
	case bytes.Equal(raw, []byte(".\r\n")):
		return []byte{}
	case bytes.HasSuffix(raw, []byte("\r\n.\r\n")):
		raw = raw[:len(raw)-5]
	}
	out := make([]byte, 0, len(raw))
	for _, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}
