package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/packetpool"
)

const (
	demoDomain   = "simboard.test"
	demoMailHost = "mail.simboard.test"
)

var (
	boardAddr  = netip.MustParsePrefix("198.51.100.2/24")
	hostAddr   = netip.MustParsePrefix("198.51.100.1/24")
	boardAddr6 = netip.MustParsePrefix("2001:db8::2/64")
	hostAddr6  = netip.MustParsePrefix("2001:db8::1/64")
)

// demoCmd is `simboard demo`.
type demoCmd struct{ f demoFlags }

func (c *demoCmd) groups() []flagGroup { return []flagGroup{&c.f} }

type demoFlags struct {
	commonFlags
	bodySize    int
	recipients  int
	auth        string
	tls         tlsMode
	loss        float64
	delay       time.Duration
	jitter      time.Duration
	reorder     float64
	duplicate   float64
	rate        string
	seed        int64
	poolPackets int
	poolMemory  int
	payload     int
	ipv6        bool
	pcap        string
	timeout     time.Duration
	boot        netbootFlags // netboot.go: --dhcp
	compareNetX bool         // comparenetx.go
	clock       clockFlags   // clock.go: --clock
	faults      faultList    // faultflag.go: --fault

	// rc is the run's clock (set by run): a sim.Sim in virtual time.
	rc *runClock

	// Parsed by check.
	authType smtpc.AuthType
	rateBits int64
}

func (f *demoFlags) register(fs *flag.FlagSet) {
	f.commonFlags.register(fs)
	fs.Var(&f.faults, "fault", faultUsage)
	fs.IntVar(&f.bodySize, "body-size", 64<<10, "mail body size in `BYTES`, 1..268435456 (lines of 76 characters, some starting with '.')")
	fs.IntVar(&f.recipients, "recipients", 1, "`N` recipients, 1..100 (each gets a mailbox on the mail host)")
	fs.StringVar(&f.auth, "auth", "plain", "SMTP AUTH `MECH`: auto, plain, login, cram-md5, xoauth2 or none")
	registerTLS(fs, &f.tls, nil, tlsOff)
	fs.Float64Var(&f.loss, "loss", 0, "frame loss `PROBABILITY` on the Wire, each direction, in [0, 1) (e.g. 0.05)")
	fs.DurationVar(&f.delay, "delay", 0, "one-way `DELAY` on the Wire (e.g. 2ms)")
	fs.DurationVar(&f.jitter, "jitter", 0, "add a uniform random `DURATION` in [-DURATION, +DURATION] to --delay, per frame\n(never before the frame left, never reordering by itself; e.g. 5ms)")
	fs.Float64Var(&f.reorder, "reorder", 0, "`PROBABILITY` in [0, 1] that a frame is held back and delivered after the next one, each\ndirection (e.g. 0.02)")
	fs.Float64Var(&f.duplicate, "duplicate", 0, "`PROBABILITY` in [0, 1] that a frame is delivered twice, each direction (e.g. 0.01)")
	fs.StringVar(&f.rate, "rate", "", "link `RATE` limit in bits/s, e.g. 10M or 100k (default unlimited)")
	fs.Int64Var(&f.seed, "seed", 1, "`SEED` of everything random in the run: the Wire's impairments and, in virtual time,\nTCP sequence numbers, ports and the mail host's and clients' choices (same seed, same run)")
	fs.IntVar(&f.poolPackets, "pool-packets", 64, "`N` packets in the board's default pool (and its receive pool)")
	fs.IntVar(&f.poolMemory, "pool-memory", 0, "carve each of the board's pools from `BYTES` of memory, as nx_packet_pool_create does on a 32-bit MCU (instead of --pool-packets)")
	fs.IntVar(&f.payload, "payload", 1536, "payload `BYTES` per packet in the board's pools, 256..65536")
	fs.BoolVar(&f.ipv6, "ipv6", false, "talk to the mail host over IPv6 (2001:db8::/64)")
	fs.StringVar(&f.pcap, "pcap", "", "pcap `FILE` to write (default: simboard-demo.pcap in the temp directory)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up after this `DURATION` (of simulated time in virtual time)")
	f.clock.register(fs)
	f.boot.register(fs)
	fs.BoolVar(&f.compareNetX, "compare-netx", false, "send the demo mail in the default profile and in the NetX Duo profile and print where\nthe MCU differs: corrupted body lines, statuses, wire bytes, pool peaks")
}

func (f *demoFlags) check() error {
	if err := f.commonFlags.check(); err != nil {
		return err
	}
	var err error
	if err := f.clock.check(); err != nil {
		return err
	}
	if f.authType, err = parseAuth(f.auth); err != nil {
		return err
	}
	if f.rateBits, err = parseRate(f.rate); err != nil {
		return err
	}
	switch {
	case f.bodySize < 1 || f.bodySize > maxBodySize:
		return usagef("--body-size %d is out of range: use 1..%d (256 MiB)", f.bodySize, maxBodySize)
	case f.recipients < 1 || f.recipients > 100:
		return usagef("--recipients %d is out of range: use 1..100", f.recipients)
	case f.delay < 0:
		return usagef("--delay %v must not be negative", f.delay)
	case f.jitter < 0:
		return usagef("--jitter %v must not be negative", f.jitter)
	}
	if err := checkLoss(f.loss); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"reorder", f.reorder}, {"duplicate", f.duplicate}} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			return usagef("--%s %v must be in [0, 1], e.g. 0.02", p.name, p.v)
		}
	}
	if f.poolMemory != 0 {
		if f.poolMemory < 0 || f.poolMemory > maxPoolBytes {
			return usagef("--pool-memory %d is out of range: use 1..%d bytes", f.poolMemory, maxPoolBytes)
		}
		n := packetpool.NetXPacketCount(f.payload, 0, f.poolMemory)
		if n < minPoolPackets(f.payload) {
			return usagef("--pool-memory %d carves %d packets of --payload %d bytes; a board needs at least %d: use at least --pool-memory %d",
				f.poolMemory, n, f.payload, minPoolPackets(f.payload), minPoolPackets(f.payload)*((packetpool.NetXPacketHeaderSize+f.payload+3)&^3))
		}
		f.poolPackets = n
	}
	if err := checkPool(f.payload, f.poolPackets); err != nil {
		return err
	}
	return checkTimeout(f.timeout)
}

// stage is one timed step of the demo.
type stage struct {
	Name     string  `json:"name"`
	Millis   float64 `json:"ms"`
	Detail   string  `json:"detail"`
	duration time.Duration
}

type poolReport struct {
	Name            string `json:"name"`
	PayloadSize     int    `json:"payload_size"`
	Total           int    `json:"total"`
	Free            int    `json:"free"`
	PeakInUse       int    `json:"peak_in_use"`
	LowWater        int    `json:"low_water"`
	EmptyRequests   int    `json:"empty_requests"`
	Suspensions     int    `json:"empty_suspensions"`
	InvalidReleases int    `json:"invalid_releases"`
	NetXMemoryBytes int    `json:"netx_memory_bytes"`
	NetXCarve       string `json:"netx_carve"` // how nx_packet_pool_create lays the pool out on a 32-bit MCU
}

type demoReport struct {
	Board      string           `json:"board"`
	MailHost   string           `json:"mail_host"`
	Stages     []stage          `json:"stages"`
	Verified   bool             `json:"verified"`
	BodyBytes  int              `json:"body_bytes"`
	MailBytes  int              `json:"mail_bytes"`
	Recipients int              `json:"recipients"`
	Auth       string           `json:"auth"`
	TLS        string           `json:"tls"`
	Pools      []poolReport     `json:"pools"`
	IP         netstack.Info    `json:"ip"`
	Driver     driver.Stats     `json:"driver"`
	Port       driver.PortStats `json:"wire_port"`
	Pcap       string           `json:"pcap"`
	clockReport
}

func (c *demoCmd) run(e *cmdEnv) error {
	f := c.f
	virtual, err := f.clock.virtual("")
	if err != nil {
		return err
	}
	if f.compareNetX {
		return runDemoCompare(e, f, virtual)
	}
	log := f.logger(e.stderr)
	if f.pcap == "" {
		f.pcap = filepath.Join(os.TempDir(), "simboard-demo.pcap")
	}
	f.rc = newRunClock(virtual, f.seed, f.timeout)
	var rep *demoReport
	err = f.rc.run(e.ctx, func(ctx context.Context) error {
		var err error
		rep, err = demo(ctx, f, f.authType, f.rateBits, log, e.stderr)
		return err
	})
	times := f.rc.report(e.reproduce(flagArg{"clock", clockName(virtual)}, flagArg{"seed", fmt.Sprint(f.seed)}))
	if err != nil {
		printTimes(e.stderr, times)
		return err
	}
	rep.clockReport = times
	if f.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printDemo(e.stdout, rep)
	printTimes(e.stdout, times)
	return nil
}

func clockName(virtual bool) string {
	if virtual {
		return clockVirtual
	}
	return clockReal
}

// parseRate reads "10M", "100k", "1G" or a plain number of bits per second.
func parseRate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	orig, mult := s, int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult, s = 1e3, s[:len(s)-1]
	case "m":
		mult, s = 1e6, s[:len(s)-1]
	case "g":
		mult, s = 1e9, s[:len(s)-1]
	}
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil || v <= 0 || v > math.MaxInt64/mult {
		return 0, usagef("bad --rate %q: use e.g. 10M or 100k", orig)
	}
	return v * mult, nil
}

// demoBody builds a body of exactly n bytes: CRLF lines of 76 characters,
// every seventh line starting with '.', so dot-stuffing is exercised.
func demoBody(n int) []byte {
	var b bytes.Buffer
	b.Grow(n)
	for line := 0; b.Len() < n; line++ {
		var l string
		if line%7 == 3 {
			l = fmt.Sprintf(".line %06d starts with a dot and must survive SMTP and POP3 transparency", line)
		} else {
			l = fmt.Sprintf("line %06d of the simboard demo mail: packets chain across the pool ----", line)
		}
		l = (l + strings.Repeat("-", 76))[:76] + "\r\n"
		b.WriteString(l)
	}
	out := b.Bytes()[:n]
	return out
}

func demo(ctx context.Context, f demoFlags, auth smtpc.AuthType, rate int64, log *slog.Logger, stderr io.Writer) (*demoReport, error) {
	rep := &demoReport{BodyBytes: f.bodySize, Recipients: f.recipients, Auth: f.auth, TLS: string(f.tls), Pcap: f.pcap}
	clk, rnd := f.rc.clock(), f.rc.rand // nil: real time
	now := time.Now
	if clk != nil {
		now = clk.Now // stage times are simulated time
	}
	timed := func(name string, start time.Time, detail string) {
		d := now().Sub(start)
		rep.Stages = append(rep.Stages, stage{Name: name, Millis: float64(d.Microseconds()) / 1000, Detail: detail, duration: d})
	}

	// Boot: one Wire, the board (captured) and the mail host's peer board.
	t0 := now()
	wire, err := driver.NewWire(driver.WireOptions{Seed: f.seed, Logger: log, Clock: clk})
	if err != nil {
		return nil, err
	}
	defer wire.Close()
	imp := driver.PortOptions{Loss: f.loss, Delay: f.delay, Jitter: f.jitter, Reorder: f.reorder, Duplicate: f.duplicate, RateBitsPerSecond: rate}
	boardPort, err := wire.Attach(withName(imp, "board"))
	if err != nil {
		return nil, err
	}
	hostPort, err := wire.Attach(withName(imp, "mailhost"))
	if err != nil {
		return nil, err
	}
	bcfg := boardConfig{name: "board", link: boardPort, addr: boardAddr, payload: f.payload, packets: f.poolPackets, memory: f.poolMemory,
		rxPayload: f.payload, rxPackets: f.poolPackets, pcapPath: f.pcap, logger: log, clock: clk, rand: rnd("board")}
	hcfg := boardConfig{name: "mailhost", link: hostPort, addr: hostAddr, payload: 1536, packets: 1024,
		rxPayload: 1536, rxPackets: 1024, logger: log, clock: clk, rand: rnd("mailhost")}
	if f.ipv6 {
		bcfg.addr6, hcfg.addr6 = boardAddr6, hostAddr6
	}
	if f.boot.dhcp {
		bcfg.addr = netip.Prefix{} // 0.0.0.0 until the DHCP client leases one (netboot.go)
	}
	brd, err := bootBoard(bcfg)
	if err != nil {
		return nil, fmt.Errorf("boot board: %w", err)
	}
	boardClosed := false
	defer func() {
		if !boardClosed {
			brd.Close()
		}
	}()
	cert, roots, err := selfSigned(f.rc, demoMailHost, hostAddr.Addr().String(), hostAddr6.Addr().String())
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	var rcpts []string
	for i := 1; i <= f.recipients; i++ {
		u := fmt.Sprintf("rcpt%d", i)
		users[u] = fmt.Sprintf("pw-%s-%d", u, f.seed)
		rcpts = append(rcpts, u+"@"+demoDomain)
	}
	users["board"] = "board-secret"
	host, err := mailhost.New(mailhost.Options{
		Domain: demoDomain, Users: users, Tokens: map[string]string{"board": "board-secret"},
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, AllowInsecureAuth: f.tls == tlsOff,
		MaxMessageBytes: int64(f.bodySize) + 1<<20, Logger: log, Clock: clk, Faults: f.faults, Rand: rnd("mailhost-app"),
	})
	if err != nil {
		return nil, err
	}
	peer, err := startMailPeer(hcfg, host)
	if err != nil {
		return nil, err
	}
	defer peer.Close()
	server := hostAddr.Addr()
	if f.ipv6 {
		server = hostAddr6.Addr()
	}
	rep.Board, rep.MailHost = bcfg.addr.Addr().String(), server.String()
	if f.boot.dhcp {
		rep.Board = "0.0.0.0"
	}
	timed("boot", t0, fmt.Sprintf("board %v, mail host %v on a Wire (seed %d), pools %d x %d B", rep.Board, server, f.seed, f.poolPackets, f.payload))
	var nb *demoNetboot // netboot.go: DHCP, DNS, SNTP before the mail
	defer func() { nb.Close() }()
	if f.boot.dhcp {
		if nb, err = runDemoNetboot(ctx, brd, peer.brd.ip, f.ipv6, f.rc, log, timed); err != nil {
			return nil, err
		}
		rep.Board, server = nb.board, nb.server
	}

	// SMTP: one mail to every recipient, built in packet chains.
	tlsCfg := &tls.Config{RootCAs: roots, ServerName: demoMailHost}
	sopts := smtpc.Options{
		IP: brd.ip, Pool: brd.pool, Username: "board", Password: "board-secret",
		From: "board@" + demoDomain, ClientDomain: "board." + demoDomain, Auth: auth,
		ServerAddr: server, TLSConfig: tlsCfg, Logger: log, Rand: rnd("smtpc"),
	}
	if nb != nil {
		sopts.Now = nb.wallClock(brd.ip) // the Date header from SNTP's time, as firmware does
	}
	sopts.Port = f.tls.smtpPort()
	sopts.TLS = f.tls.clientMode()
	sopts.AllowPlaintextAuth = f.tls == tlsOff // --tls off is the user's consent to clear text
	t1 := now()
	cl, err := smtpc.Create(sopts)
	if err != nil {
		return nil, fmt.Errorf("smtp: create: %w", err)
	}
	body := demoBody(f.bodySize)
	prog := newProgress(stderr, "smtp send", int64(len(body)))
	res, err := cl.Send(ctx, &smtpc.Message{
		To: rcpts, Subject: "simboard demo: héllo from the board", Priority: smtpc.PriorityNormal,
		Body: progressReader{bytes.NewReader(body), prog}, Size: int64(len(body)),
	})
	if derr := cl.Delete(); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("smtp: send: %w", err)
	}
	timed("smtp send", t1, fmt.Sprintf("port %d, AUTH %v, TLS %v, %d recipient(s), %d octets, server said %q",
		sopts.Port, res.Auth, res.TLS, res.Recipients, res.Octets, strings.TrimSpace(res.Reply)))

	// What the mail host stored for each recipient, before POP3 deletes it.
	stored := make([][]mailhost.Message, f.recipients+1)
	for i := 1; i <= f.recipients; i++ {
		stored[i] = host.Store().Messages(fmt.Sprintf("rcpt%d", i))
	}

	// POP3: fetch the first recipient's mail through the NetX packet API.
	t2 := now()
	popts := pop3c.Options{Auth: pop3c.AuthAPOP, IP: brd.ip, Pool: brd.pool, Server: server, Name: "rcpt1", Password: users["rcpt1"],
		TLSConfig: tlsCfg, Logger: log, Rand: rnd("pop3c")}
	popts.Port = f.tls.pop3Port()
	popts.TLS = f.tls.clientMode()
	pc, err := pop3c.Create(ctx, popts)
	if err != nil {
		return nil, fmt.Errorf("pop3: create: %w", err)
	}
	fetched, count, err := fetchFirst(ctx, pc, stderr)
	if derr := pc.Delete(ctx); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("pop3: %w", err)
	}
	timed("pop3 fetch", t2, fmt.Sprintf("port %d, login %s, %d message(s), %d octets in pool packets", popts.Port, pc.AuthMethod(), count, len(fetched)))

	// Verify byte for byte against what the mail host stored. POP3's
	// terminator is CRLF.CRLF and pop3c, like NetX, returns the message
	// without it, so the stored message's final line break is not in the data.
	t3 := now()
	for i := 1; i <= f.recipients; i++ {
		for j := range stored[i] {
			stored[i][j].Data = bytes.TrimSuffix(stored[i][j].Data, []byte("\r\n"))
		}
	}
	switch {
	case len(stored[1]) != 1:
		return nil, fmt.Errorf("verify: mail host held %d messages for rcpt1, want 1", len(stored[1]))
	case !bytes.Equal(stored[1][0].Data, fetched):
		return nil, fmt.Errorf("verify: fetched %d bytes differ from the %d the mail host stored", len(fetched), len(stored[1][0].Data))
	case !bytes.HasSuffix(fetched, body) && !bytes.HasSuffix(fetched, append(append([]byte{}, body...), '\r', '\n')):
		return nil, fmt.Errorf("verify: the fetched mail does not end with the %d-byte body sent", len(body))
	}
	for i := 2; i <= f.recipients; i++ {
		if m := stored[i]; len(m) != 1 || !bytes.Equal(m[0].Data, fetched) {
			return nil, fmt.Errorf("verify: recipient rcpt%d did not get the same mail", i)
		}
	}
	rep.Verified, rep.MailBytes = true, len(fetched)
	timed("verify", t3, fmt.Sprintf("byte-exact: %d body bytes inside a %d-byte mail, %d mailbox(es)", len(body), len(fetched), f.recipients))

	// Counters, then shut the board down (which checks its pools).
	rep.IP = brd.ip.Info()
	rep.Driver = brd.drv.Stats()
	rep.Port = boardPort.Stats()
	for _, p := range []*packetpool.Pool{brd.pool, brd.rxPool} {
		in := p.Info()
		rep.Pools = append(rep.Pools, poolReport{Name: p.Name(), PayloadSize: p.PayloadSize(), Total: in.Total, Free: in.Free,
			PeakInUse: in.Total - in.LowWater, LowWater: in.LowWater, EmptyRequests: in.EmptyRequests,
			Suspensions: in.EmptySuspensions, InvalidReleases: in.InvalidReleases, NetXMemoryBytes: int(p.NetXMemorySize()), NetXCarve: p.Carve().String()})
	}
	boardClosed = true
	nb.Close()
	if err := brd.Close(); err != nil {
		return nil, fmt.Errorf("board shutdown: %w", err)
	}
	return rep, nil
}

func withName(o driver.PortOptions, name string) driver.PortOptions {
	o.Name = name
	return o
}

// fetchFirst reads message 1 with MailItemGet and MailItemMessageGet, the
// NetX packet loop, releasing every packet, then deletes it and quits. The
// packets hold what NetX returns (dot-stuffed, the terminator included);
// the message is decoded from them.
func fetchFirst(ctx context.Context, c *pop3c.Client, stderr io.Writer) ([]byte, int, error) {
	count, _, err := c.MailItemsGet(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("STAT: %w", err)
	}
	if count < 1 {
		return nil, 0, fmt.Errorf("STAT: mailbox is empty")
	}
	size, err := c.MailItemGet(ctx, 1)
	if err != nil {
		return nil, count, fmt.Errorf("RETR 1: %w", err)
	}
	prog := newProgress(stderr, "pop3 fetch", size)
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		pkt, n, final, err := c.MailItemMessageGet(ctx)
		if err != nil {
			return nil, count, fmt.Errorf("RETR 1 data: %w", err)
		}
		if pkt != nil {
			if n > len(buf) {
				buf = make([]byte, n)
			}
			k, _ := pkt.Retrieve(buf[:pkt.Length()])
			out.Write(buf[:k])
			prog.add(k)
			if err := pkt.Release(); err != nil {
				return nil, count, err
			}
		}
		if final {
			break
		}
	}
	if err := c.MailItemDelete(ctx, 1); err != nil {
		return nil, count, fmt.Errorf("DELE 1: %w", err)
	}
	if err := c.Quit(ctx); err != nil {
		return nil, count, fmt.Errorf("QUIT: %w", err)
	}
	return netxMessageData(out.Bytes()), count, nil // comparenetx.go
}

func printDemo(w io.Writer, r *demoReport) {
	fmt.Fprintf(w, "simboard demo: board %s -> mail host %s on a virtual Wire\n\n", r.Board, r.MailHost)
	if r.Clock == clockVirtual {
		fmt.Fprintln(w, "stages (simulated time)")
	} else {
		fmt.Fprintln(w, "stages (wall time)")
	}
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-11s %9.2f ms  %s\n", s.Name, s.Millis, s.Detail)
	}
	fmt.Fprintln(w, "\npools (peak = most packets in use at once; smtpc's default profile packs the mail its own way,\nso these figures do not transfer to a NetX Duo build: --compare-netx shows ProfileNetX's, which do)")
	for _, p := range r.Pools {
		fmt.Fprintf(w, "  %-16s %4d x %d B  peak %d in use (low water %d free), empty requests %d, suspensions %d, invalid releases %d, free now %d/%d, NetX RAM %d B\n",
			p.Name, p.Total, p.PayloadSize, p.PeakInUse, p.LowWater, p.EmptyRequests, p.Suspensions, p.InvalidReleases, p.Free, p.Total, p.NetXMemoryBytes)
		fmt.Fprintf(w, "  %-16s NetX carve: %s\n", "", p.NetXCarve)
	}
	ip := r.IP
	fmt.Fprintln(w, "\ntcp/ip")
	fmt.Fprintf(w, "  ip packets sent %d, received %d, bytes sent %d, received %d, dropped rx %d tx %d\n",
		ip.PacketsSent, ip.PacketsReceived, ip.BytesSent, ip.BytesReceived, ip.ReceivePacketsDropped, ip.SendPacketsDropped)
	fmt.Fprintf(w, "  tcp connections %d, segments sent %d, received %d, retransmits %d, timeouts %d, resets received %d\n",
		ip.TCPConnections, ip.TCPSegmentsSent, ip.TCPSegmentsReceived, ip.TCPRetransmits, ip.TCPTimeouts, ip.TCPResetsReceived)
	fmt.Fprintf(w, "  arp requests sent %d, replies sent %d\n", ip.ARPRequestsSent, ip.ARPRepliesSent)
	d := r.Driver
	fmt.Fprintln(w, "\ndriver")
	fmt.Fprintf(w, "  rx frames %d (%d B), tx frames %d (%d B), allocation errors %d, errors %d\n",
		d.RxFrames, d.RxBytes, d.TxFrames, d.TxBytes, d.AllocErrors, d.Errors)
	p := r.Port
	fmt.Fprintf(w, "  wire port: lost %d, duplicated %d, reordered %d, other drops %d\n",
		p.Drops.Loss, p.Duplicated, p.Reordered, p.Drops.Total()-p.Drops.Loss)
	fmt.Fprintf(w, "\npcap: %s  (open it in Wireshark, or: simboard trace %s)\n", r.Pcap, r.Pcap)
	if r.Verified {
		fmt.Fprintln(w, "\nresult: OK, the mail fetched by POP3 is byte-identical to the one sent by SMTP")
	}
}
