package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/simboard/simboard/apps/pop3c"
	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/internal/fleet"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/nx"
)

// Attempt is one try to send one mail.
type Attempt struct {
	Board  string  `json:"board"`
	Mail   int     `json:"mail"`
	Try    int     `json:"try"`
	At     float64 `json:"at_s"` // seconds after the start
	OK     bool    `json:"ok"`
	Code   int     `json:"code,omitempty"`   // the server's reply code of a refusal
	Status string  `json:"status,omitempty"` // the NetX status name of a failure
	Error  string  `json:"error,omitempty"`
}

// Check is one check's outcome.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// PoolUse is one pool's figures after the run.
type PoolUse struct {
	Pool            string `json:"pool"`
	Total           int    `json:"total"`
	Peak            int    `json:"peak"` // most packets in use at once
	InvalidReleases int    `json:"invalid_releases"`
	EmptyRequests   int    `json:"empty_requests"`
}

// Report is what a run found.
type Report struct {
	Name      string    `json:"name"`
	Pass      bool      `json:"pass"`
	Clock     string    `json:"clock"`                 // "real", or "virtual" when Options.Clock was set
	Simulated *float64  `json:"simulated_s,omitempty"` // simulated seconds (virtual time only)
	Wall      float64   `json:"wall_s"`                // wall seconds
	Reproduce string    `json:"reproduce,omitempty"`   // the command line that runs it again (set by the CLI)
	Sent      int       `json:"sent"`
	Delivered int       `json:"delivered"`
	Fetched   int       `json:"fetched"`
	Retries   int       `json:"retries"`
	Timeline  []string  `json:"timeline"`
	Attempts  []Attempt `json:"attempts"`
	Pools     []PoolUse `json:"pools"`
	Checks    []Check   `json:"checks"`
	Errors    []string  `json:"errors,omitempty"`
}

// Options are the run's outputs.
type Options struct {
	// Pcap, when set, receives the mail host's frames (every frame of the
	// scenario crosses its port) as pcap.
	Pcap io.Writer
	// Clock times the timeline, the workload, the scenario's timeout, the
	// Wire, the boards and the mail host; nil means nx.SystemClock. With a
	// sim.Sim's clock, Run must be called inside Sim.Run.
	Clock nx.Clock
	// Rand gives the seeded random stream of one named consumer (a board's
	// TCP sequence numbers and ports): sim.Sim.Rand. nil: crypto/rand.
	Rand func(name string) io.Reader
}

type sentMail struct {
	board   string
	n       int
	subject string
	body    []byte
	ok      bool
	fetched bool
}

// Run runs s and returns its report. It blocks until the workload is done
// or s.Timeout (or ctx) ends it, and closes every board before returning.
// An error means the run could not start (a board could not boot); a
// failed check is not an error: it is in the Report (Pass false).
func Run(ctx context.Context, s *Scenario, opts Options) (*Report, error) {
	clk := opts.Clock
	if clk == nil {
		clk = nx.SystemClock
	}
	rnd := func(string) io.Reader { return nil }
	if opts.Rand != nil {
		rnd = opts.Rand
	}
	ctx, cancel := withClockTimeout(ctx, clk, time.Duration(s.Timeout))
	defer cancel()
	if s.Fleet != nil {
		return runFleet(ctx, s, opts)
	}
	start, wallStart := clk.Now(), time.Now()
	since := func() float64 { return clk.Now().Sub(start).Seconds() }
	rep := &Report{Name: s.Name, Clock: "real"}
	if opts.Clock != nil {
		rep.Clock = "virtual"
	}

	w, err := driver.NewWire(driver.WireOptions{Seed: s.Seed, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	baseImp := driver.Impairments{Loss: float64(s.Link.Loss) / 100, Delay: time.Duration(s.Link.Delay),
		Jitter: time.Duration(s.Link.Jitter), RateBitsPerSecond: int64(s.Link.Rate)}
	port := driver.PortOptions{Loss: baseImp.Loss, Delay: baseImp.Delay, Jitter: baseImp.Jitter, RateBitsPerSecond: baseImp.RateBitsPerSecond}

	var faults []mailhost.Fault
	for _, f := range s.MailHost.Faults {
		mf, _ := f.fault()
		faults = append(faults, mf)
	}
	host, err := mailhost.New(mailhost.Options{Users: s.MailHost.Users, AllowInsecureAuth: true, Faults: faults, Clock: opts.Clock,
		Rand: rnd("mailhost-app")})
	if err != nil {
		return nil, err
	}
	hb, err := board.New(board.Options{Name: "mailhost", Wire: w, Port: port, Capture: opts.Pcap, Clock: opts.Clock, Rand: rnd("mailhost"),
		Pool:   board.PoolOptions{Count: s.MailHost.Pool},
		RxPool: board.PoolOptions{Count: s.MailHost.Pool},
		Addr:   netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, 1}), 24)})
	if err != nil {
		host.Close()
		return nil, fmt.Errorf("mail host board: %w", err)
	}
	var serveWG sync.WaitGroup
	for _, sv := range []struct {
		port  uint16
		serve func(net.Listener) error
	}{{25, host.ServeSMTP}, {110, host.ServePOP3}} {
		l, err := hb.IP.ListenTCP(sv.port)
		if err != nil {
			host.Close()
			hb.Close()
			return nil, fmt.Errorf("mail host: listen %d: %w", sv.port, err)
		}
		serveWG.Add(1)
		go func() { defer serveWG.Done(); _ = sv.serve(l) }()
	}

	type dev struct {
		b    *board.Board
		g    *BoardGroup
		mail io.Reader // the board's SMTP client's Rand (Message-IDs): nil = crypto/rand
	}
	var devs []dev
	closeAll := func() {
		for _, d := range devs {
			if err := d.b.Close(); err != nil {
				rep.Errors = append(rep.Errors, err.Error())
			}
		}
		host.Close()
		serveWG.Wait()
		if err := hb.Close(); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
		}
	}
	for gi := range s.Boards {
		g := &s.Boards[gi]
		for i := 0; i < g.Count; i++ {
			name := g.Name
			if g.Count > 1 {
				name = fmt.Sprintf("%s-%d", g.Name, i+1)
			}
			b, err := board.New(board.Options{Name: name, Wire: w, Port: port, Clock: opts.Clock, Rand: rnd(name),
				Pool:   board.PoolOptions{PayloadSize: g.Payload, Count: g.Packets},
				RxPool: board.PoolOptions{PayloadSize: g.Payload, Count: g.RxPacket},
				Addr:   netip.PrefixFrom(g.Addr(i), 24)})
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("board %s: %w", name, err)
			}
			devs = append(devs, dev{b: b, g: g, mail: rnd(name + "/smtpc")})
		}
	}

	var mu sync.Mutex
	logEvent := func(format string, a ...any) {
		mu.Lock()
		rep.Timeline = append(rep.Timeline, fmt.Sprintf("%6.2fs ", since())+fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	setAll := func(im driver.Impairments) {
		for _, p := range w.Ports() {
			_ = p.SetImpairments(im)
		}
	}

	// The timeline.
	var tlWG sync.WaitGroup
	tlCtx, tlCancel := context.WithCancel(ctx)
	for _, e := range s.Link.Timeline {
		tlWG.Add(1)
		go func() {
			defer tlWG.Done()
			if !sleepUntil(tlCtx, clk, start.Add(time.Duration(e.At))) {
				return
			}
			switch e.Action {
			case "cable-pull":
				hb.Port.SetLinkUp(false)
				logEvent("link: mail host cable pulled for %v", time.Duration(e.For))
				if sleepUntil(tlCtx, clk, start.Add(time.Duration(e.At+e.For))) || tlCtx.Err() != nil {
					hb.Port.SetLinkUp(true)
					logEvent("link: mail host cable plugged back")
				}
			case "impair":
				im := baseImp
				im.Loss = float64(e.Loss) / 100
				if e.Delay > 0 {
					im.Delay = time.Duration(e.Delay)
				}
				setAll(im)
				logEvent("link: loss %.4g%%, delay %v", float64(e.Loss), im.Delay)
				if e.For > 0 {
					sleepUntil(tlCtx, clk, start.Add(time.Duration(e.At+e.For)))
					setAll(baseImp)
					logEvent("link: back to loss %.4g%%, delay %v", float64(s.Link.Loss), baseImp.Delay)
				}
			}
		}()
	}

	// The workload: every board sends, then (after every board has sent)
	// each fetches its own mails, one board at a time.
	var mails []*sentMail
	var wg sync.WaitGroup
	for _, d := range devs {
		wl := d.g.Workload
		for m := 0; m < wl.Mails; m++ {
			sm := &sentMail{board: d.b.Name, n: m + 1, subject: fmt.Sprintf("scenario %s mail %d", d.b.Name, m+1), body: makeBody(d.b.Name, m+1, int(wl.Size))}
			mails = append(mails, sm)
		}
		first := len(mails) - wl.Mails
		mine := mails[first:]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m, sm := range mine {
				if !sleepUntil(ctx, clk, start.Add(time.Duration(m)*time.Duration(wl.Every))) {
					return
				}
				for try := 0; try <= wl.Retries; try++ {
					if try > 0 {
						mu.Lock()
						rep.Retries++
						mu.Unlock()
						if !sleepUntil(ctx, clk, clk.Now().Add(time.Duration(wl.RetryWait))) {
							return
						}
					}
					at := since()
					err := sendOne(ctx, d.b, wl.To, s.MailHost.Users[wl.To], sm, d.mail)
					a := Attempt{Board: d.b.Name, Mail: sm.n, Try: try + 1, At: at, OK: err == nil}
					if err != nil {
						a.Error = err.Error()
						var re *smtpc.ReplyError
						if errors.As(err, &re) {
							a.Code = re.Code
						}
						var st smtpc.Status
						if errors.As(err, &st) {
							a.Status = st.Name()
						} else if c := smtpc.NetXStatus(err); c != 0 {
							a.Status = nx.Status(c).String()
						}
					}
					mu.Lock()
					rep.Attempts = append(rep.Attempts, a)
					mu.Unlock()
					if err == nil {
						sm.ok = true
						break
					}
					if ctx.Err() != nil {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, d := range devs {
		wl := d.g.Workload
		if !wl.Fetch || ctx.Err() != nil {
			continue
		}
		if err := fetchOwn(ctx, d.b, wl.To, s.MailHost.Users[wl.To], wl.Delete, mails); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: fetch: %v", d.b.Name, err))
		}
	}
	tlCancel()
	tlWG.Wait()

	// Delivery, checked against the host's store (envelopes are kept after
	// a POP3 DELE).
	env := host.Store().Received()
	for _, sm := range mails {
		if sm.ok {
			rep.Sent++
		}
		for _, e := range env {
			if bytes.Contains(e.Data, []byte("Subject: "+sm.subject+"\r\n")) && bodyOf(e.Data) != nil && bytes.Equal(bodyOf(e.Data), sm.body) {
				rep.Delivered++
				break
			}
		}
		if sm.fetched {
			rep.Fetched++
		}
	}
	var pools []*board.Board
	for _, d := range devs {
		pools = append(pools, d.b)
	}
	pools = append(pools, hb)
	closeAll()
	for _, b := range pools {
		in, rin := b.Pool.Info(), b.RxPool.Info()
		rep.Pools = append(rep.Pools,
			PoolUse{Pool: b.Pool.Name(), Total: in.Total, Peak: in.Total - in.LowWater, InvalidReleases: in.InvalidReleases, EmptyRequests: in.EmptyRequests},
			PoolUse{Pool: b.RxPool.Name(), Total: rin.Total, Peak: rin.Total - rin.LowWater, InvalidReleases: rin.InvalidReleases, EmptyRequests: rin.EmptyRequests})
	}
	rep.Wall = time.Since(wallStart).Seconds()
	if opts.Clock != nil {
		sim := since()
		rep.Simulated = &sim
	}
	rep.check(s, mails)
	return rep, nil
}

// withClockTimeout is context.WithTimeout on clk: under a sim.Sim the
// deadline is simulated time (a real timer would fire at a wall-clock
// instant the simulation knows nothing of).
func withClockTimeout(ctx context.Context, clk nx.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if clk == nx.SystemClock {
		return context.WithTimeout(ctx, d)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	tm := clk.NewTimer(d)
	done := make(chan struct{})
	go func() {
		select {
		case <-tm.C():
			cancel(context.DeadlineExceeded)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			tm.Stop()
			close(done)
			cancel(context.Canceled)
		})
	}
}

func (rep *Report) check(s *Scenario, mails []*sentMail) {
	add := func(name string, pass bool, format string, a ...any) {
		rep.Checks = append(rep.Checks, Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, a...)})
	}
	c := s.Checks
	if c.Delivered {
		fetchWanted := 0
		for _, g := range s.Boards {
			if g.Workload.Fetch {
				fetchWanted += g.Count * g.Workload.Mails
			}
		}
		if s.Fleet != nil {
			fetchWanted = s.Fleet.Boards
		}
		pass := rep.Delivered == len(mails) && rep.Fetched == fetchWanted
		add("delivered", pass, "%d of %d mails delivered byte-exact, %d of %d fetched back byte-exact", rep.Delivered, len(mails), rep.Fetched, fetchWanted)
	}
	if c.PeakPool > 0 {
		worst, name := 0, ""
		for _, p := range rep.Pools {
			if !strings.HasPrefix(p.Pool, "mailhost") && strings.HasSuffix(p.Pool, "-pool") && p.Peak > worst {
				worst, name = p.Peak, p.Pool
			}
		}
		add("peak_pool", worst <= c.PeakPool, "highest board default-pool peak %d (%s), limit %d", worst, name, c.PeakPool)
	}
	if c.NoInvalidRelease {
		inv := 0
		for _, p := range rep.Pools {
			inv += p.InvalidReleases
		}
		unbalanced := 0
		for _, e := range rep.Errors {
			if strings.Contains(e, "not balanced") {
				unbalanced++
			}
		}
		add("no_invalid_release", inv == 0 && unbalanced == 0, "%d invalid releases, %d unbalanced pools at close", inv, unbalanced)
	}
	for _, want := range c.Statuses {
		seen := 0
		for _, a := range rep.Attempts {
			if fmt.Sprint(a.Code) == want || a.Status == want || strings.HasPrefix(a.Status, want+" ") {
				seen++
			}
		}
		add("status "+want, seen > 0, "seen in %d attempts", seen)
	}
	if c.MinRetries > 0 {
		add("retries", rep.Retries >= c.MinRetries, "%d retries, at least %d expected", rep.Retries, c.MinRetries)
	}
	rep.Pass = true
	for _, ch := range rep.Checks {
		rep.Pass = rep.Pass && ch.Pass
	}
}

// runFleet runs a [fleet] scenario through internal/fleet.
func runFleet(ctx context.Context, s *Scenario, o Options) (*Report, error) {
	f := s.Fleet
	opts := fleet.Options{Boards: f.Boards, BodySize: int(f.BodySize), Concurrency: f.Concurrency, Seed: s.Seed, Clock: o.Clock, Rand: o.Rand}
	if f.PoolPackets > 0 {
		opts.Pool = board.PoolOptions{Count: f.PoolPackets}
		opts.RxPool = opts.Pool
	}
	fr, err := fleet.Run(ctx, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Name: s.Name, Clock: "real", Wall: fr.Wall.Seconds(), Sent: fr.Delivered, Delivered: fr.Delivered, Fetched: fr.Fetched,
		Errors: fr.CloseErrors}
	if o.Clock != nil {
		sim := fr.Simulated.Seconds()
		rep.Clock, rep.Simulated = "virtual", &sim
	}
	for _, fl := range fr.Failures {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%d boards failed at %s, first: %s", fl.Count, fl.Stage, fl.First))
	}
	if fr.HostShortfall != "" {
		rep.Errors = append(rep.Errors, "host: "+fr.HostShortfall)
	}
	rep.Timeline = append(rep.Timeline, fmt.Sprintf("%d boards booted in %.2fs, mail done in %.2fs, peak RSS %d MiB",
		fr.Boards, fr.Boot.Seconds(), fr.Mail.Seconds(), fr.PeakRSS>>20))
	for _, p := range []struct {
		name string
		pp   fleet.PoolPeaks
	}{{"boards-pool", fr.BoardPool}, {"boards-rx", fr.BoardRx}} {
		rep.Pools = append(rep.Pools, PoolUse{Pool: p.name, Total: p.pp.Packets / max(1, p.pp.Pools), Peak: p.pp.MaxPeakInUse, // per board
			InvalidReleases: p.pp.Invalid, EmptyRequests: p.pp.EmptyRequests})
		if p.pp.Unbalanced > 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %d pools not balanced", p.name, p.pp.Unbalanced))
		}
	}
	rep.Pools = append(rep.Pools,
		PoolUse{Pool: "mailhost-pool", Total: fr.HostPool.Total, Peak: fr.HostPool.Total - fr.HostPool.LowWater, InvalidReleases: fr.HostPool.InvalidReleases, EmptyRequests: fr.HostPool.EmptyRequests},
		PoolUse{Pool: "mailhost-rx", Total: fr.HostRx.Total, Peak: fr.HostRx.Total - fr.HostRx.LowWater, InvalidReleases: fr.HostRx.InvalidReleases, EmptyRequests: fr.HostRx.EmptyRequests})
	mails := make([]*sentMail, f.Boards) // one mail per board, for the delivered check
	rep.check(s, mails)
	return rep, nil
}

// sleepUntil waits until t on clk; false when ctx ended first.
func sleepUntil(ctx context.Context, clk nx.Clock, t time.Time) bool {
	d := t.Sub(clk.Now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := clk.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// makeBody returns size bytes of CRLF lines naming the board and mail,
// with a dot-led line every few lines to exercise dot-stuffing.
func makeBody(name string, n, size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		line := fmt.Sprintf("%s mail %d line %d: the quick brown fox jumps over the lazy dog", name, n, i)
		if i%7 == 3 {
			line = "." + line
		}
		b.WriteString(line + "\r\n")
	}
	out := b.Bytes()[:size]
	if size >= 2 {
		out[size-2], out[size-1] = '\r', '\n'
	}
	return out
}

func bodyOf(data []byte) []byte {
	i := bytes.Index(data, []byte("\r\n\r\n"))
	if i < 0 {
		return nil
	}
	return data[i+4:]
}

func sendOne(ctx context.Context, b *board.Board, user, pass string, sm *sentMail, rnd io.Reader) error {
	c, err := smtpc.Create(smtpc.Options{IP: b.IP, Pool: b.Pool, Username: user, Password: pass,
		From: strings.ToLower(b.Name) + "@board.test", ServerAddr: netip.AddrFrom4([4]byte{198, 51, 100, 1}), Port: 25,
		Auth: smtpc.AuthPlain, TLS: smtpc.TLSOff, AllowPlaintextAuth: true, Rand: rnd})
	if err != nil {
		return err
	}
	defer c.Delete()
	_, err = c.MailSend(ctx, user+"@"+mailhost.DefaultDomain, smtpc.PriorityNormal, sm.subject, sm.body)
	return err
}

// fetchOwn logs in as user, retrieves every message, marks the board's own
// mails that came back byte-exact, deletes them when del, and quits.
func fetchOwn(ctx context.Context, b *board.Board, user, pass string, del bool, mails []*sentMail) error {
	p, err := pop3c.Create(ctx, pop3c.Options{IP: b.IP, Server: netip.AddrFrom4([4]byte{198, 51, 100, 1}), Port: 110,
		Name: user, Password: pass, AllowPlaintextAuth: true})
	if err != nil {
		return err
	}
	defer p.Delete(ctx)
	n, _, err := p.MailItemsGet(ctx)
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		var buf bytes.Buffer
		if _, err := p.RetrTo(ctx, i, &buf); err != nil {
			return err
		}
		for _, sm := range mails {
			if sm.board != b.Name || !bytes.Contains(buf.Bytes(), []byte("Subject: "+sm.subject+"\r\n")) {
				continue
			}
			if bytes.Equal(bodyOf(buf.Bytes()), sm.body) {
				sm.fetched = true
			}
			if del {
				if err := p.MailItemDelete(ctx, i); err != nil {
					return err
				}
			}
		}
	}
	return p.Quit(ctx)
}

// WriteText prints the report for a terminal.
func (rep *Report) WriteText(w io.Writer) {
	if rep.Simulated != nil {
		fmt.Fprintf(w, "scenario %q: simulated %.1f s in %.2f s\n", rep.Name, *rep.Simulated, rep.Wall)
	} else {
		fmt.Fprintf(w, "scenario %q: real time: %.1f s\n", rep.Name, rep.Wall)
	}
	if len(rep.Timeline) > 0 {
		fmt.Fprintln(w, "timeline:")
		tl := append([]string(nil), rep.Timeline...)
		sort.Strings(tl)
		for _, l := range tl {
			fmt.Fprintln(w, "  "+l)
		}
	}
	fmt.Fprintln(w, "attempts:")
	as := append([]Attempt(nil), rep.Attempts...)
	sort.SliceStable(as, func(i, j int) bool { return as[i].At < as[j].At })
	for _, a := range as {
		res := "delivered"
		if !a.OK {
			res = "failed"
			if a.Code != 0 {
				res += fmt.Sprintf(" %d", a.Code)
			}
			if a.Status != "" {
				res += " " + a.Status
			}
		}
		fmt.Fprintf(w, "  %6.2fs %s mail %d try %d: %s\n", a.At, a.Board, a.Mail, a.Try, res)
	}
	fmt.Fprintf(w, "mails: %d sent, %d delivered byte-exact, %d fetched back, %d retries\n", rep.Sent, rep.Delivered, rep.Fetched, rep.Retries)
	fmt.Fprintln(w, "pools (peak = most packets in use at once):")
	for _, p := range rep.Pools {
		fmt.Fprintf(w, "  %-20s peak %3d of %3d, %d invalid releases, %d empty requests\n", p.Pool, p.Peak, p.Total, p.InvalidReleases, p.EmptyRequests)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(w, "error:", e)
	}
	fmt.Fprintln(w, "checks:")
	for _, c := range rep.Checks {
		r := "PASS"
		if !c.Pass {
			r = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-20s %s\n", r, c.Name, c.Detail)
	}
	if rep.Pass {
		fmt.Fprintln(w, "result: PASS")
	} else {
		fmt.Fprintln(w, "result: FAIL")
	}
	if rep.Reproduce != "" {
		fmt.Fprintln(w, "reproduce:", rep.Reproduce)
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
