// Package scenario reads and runs the experiment files of `simboard run`:
// TOML (github.com/BurntSushi/toml) describing boards, the link and a
// timeline of changes to it, the mail host with its users and faults, a
// workload per board group, and the checks that decide pass or fail.
//
// Unknown keys and bad values are errors that name the line. A scenario
// runs in real time today; every wait goes through one nx.Clock so the
// virtual clock can be swapped in.
package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/simboard/simboard/internal/fleet"
	"github.com/simboard/simboard/mailhost"
)

// Duration is a TOML string such as "3s" or "250ms".
type Duration time.Duration

// UnmarshalText parses a Go duration ("3s", "1m30s"); negative is an error.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"3s\", \"250ms\")", b)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// Size is a byte count: an integer or a string with a unit ("100KB",
// "2 KiB", "1MB"; KB and KiB are both 1024).
type Size int64

// UnmarshalText parses a size.
func (s *Size) UnmarshalText(b []byte) error {
	t := strings.ToUpper(strings.TrimSpace(string(b)))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("bad size %q (want e.g. 2000, \"100KB\")", b)
	}
	*s = Size(n * mult)
	return nil
}

// Percent is a loss or duplicate probability: "20%" or a number of percent.
type Percent float64

// UnmarshalText parses "20%", "20" or "0.5%".
func (p *Percent) UnmarshalText(b []byte) error {
	t := strings.TrimSuffix(strings.TrimSpace(string(b)), "%")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v > 100 {
		return fmt.Errorf("bad percentage %q (want 0..100, e.g. \"20%%\")", b)
	}
	*p = Percent(v)
	return nil
}

// Scenario is one experiment file.
type Scenario struct {
	Name string `toml:"name"`
	// Seed seeds the Wire's impairments (0 means 1).
	Seed int64 `toml:"seed"`
	// Timeout bounds the whole run ("" means 2 minutes).
	Timeout Duration `toml:"timeout"`

	Link     Link         `toml:"link"`
	MailHost MailHost     `toml:"mailhost"`
	Boards   []BoardGroup `toml:"boards"`
	Fleet    *Fleet       `toml:"fleet"`
	Checks   Checks       `toml:"checks"`

	lines lineIndex
}

// Link is the link between the boards and the mail host: impairments on
// every port of the Wire, and a timeline of changes.
type Link struct {
	Loss     Percent  `toml:"loss"`
	Delay    Duration `toml:"delay"`
	Jitter   Duration `toml:"jitter"`
	Rate     Size     `toml:"rate_bps"`
	Timeline []Event  `toml:"timeline"`
}

// Event is one change of the link at a time after the start.
// Action "cable-pull" pulls the mail host's cable at At for For; action
// "impair" sets the loss (and delay) of every port from At (for For, when
// set, then back to the link's impairments).
type Event struct {
	At     Duration `toml:"at"`
	For    Duration `toml:"for"`
	Action string   `toml:"action"`
	Loss   Percent  `toml:"loss"`
	Delay  Duration `toml:"delay"`
}

// MailHost is the built-in mail host at 198.51.100.1.
type MailHost struct {
	Users  map[string]string `toml:"users"`
	Pool   int               `toml:"pool_packets"`
	Faults []FaultSpec       `toml:"faults"`
}

// FaultSpec is one injected failure: at Stage ("smtp.rcpt", ...), Action
// (reply, delay, close, reset, silent, garbage) after Skip occurrences,
// Times times (0 = always). Code and Text make the reply; Delay is the
// delay's length; AfterBytes moves a smtp.data-end fault into the body.
type FaultSpec struct {
	Stage  string   `toml:"stage"`
	Action string   `toml:"action"`
	Code   int      `toml:"code"`
	Text   string   `toml:"text"`
	Delay  Duration `toml:"delay"`
	Skip   int      `toml:"skip"`
	Times  int      `toml:"times"`
	// AfterBytes fires a smtp.data-end delay, close, reset or silent fault
	// once this much of the DATA body has arrived ("100KB").
	AfterBytes Size `toml:"after_bytes"`
}

// Fleet runs `simboard fleet` from a scenario: Boards boards on one Wire,
// each sending one mail of BodySize bytes to one mail host and fetching it
// back (internal/fleet), Concurrency at a time. It replaces [[boards]],
// [link] and [mailhost]; the checks delivered, peak_pool_max and
// no_invalid_release apply.
type Fleet struct {
	Boards      int  `toml:"boards"`
	BodySize    Size `toml:"body_size"`
	PoolPackets int  `toml:"pool_packets"`
	Concurrency int  `toml:"concurrency"`
}

// BoardGroup is Count boards with the same pools and workload.
type BoardGroup struct {
	Name  string `toml:"name"`
	Count int    `toml:"count"`
	// Address is the group's first IPv4 address in 198.51.100.0/24 (the
	// next boards take the following ones); "" continues after the
	// previous group (the first group starts at .2; the mail host is .1).
	Address  string   `toml:"address"`
	Payload  int      `toml:"payload"`
	Packets  int      `toml:"pool_packets"`
	RxPacket int      `toml:"rx_packets"`
	Workload Workload `toml:"workload"`

	first int // last octet of the first board's address (validate)
}

// Workload is what each board of a group does: send Mails mails of Size
// bytes, one every Every, to User (retrying a failed send up to Retries
// times, RetryWait apart), then fetch them by POP3 and delete them.
type Workload struct {
	Mails     int      `toml:"mails"`
	Size      Size     `toml:"size"`
	Every     Duration `toml:"every"`
	To        string   `toml:"to"`
	Retries   int      `toml:"retries"`
	RetryWait Duration `toml:"retry_wait"`
	Fetch     bool     `toml:"fetch"`
	Delete    bool     `toml:"delete"`
}

// Checks decide pass or fail.
type Checks struct {
	// Delivered: every mail sent is in the host's store byte-exact (and,
	// with fetch, came back byte-exact by POP3).
	Delivered bool `toml:"delivered"`
	// PeakPool, when > 0: no board's default pool had more than this many
	// packets in use at once.
	PeakPool int `toml:"peak_pool_max"`
	// NoInvalidRelease: no pool counted an invalid release, and every pool
	// is balanced at the end.
	NoInvalidRelease bool `toml:"no_invalid_release"`
	// Statuses must each have been seen in some attempt: an SMTP reply
	// code ("451") or a NetX status name ("NX_SMTP_...").
	Statuses []string `toml:"expect_statuses"`
	// MinRetries: at least this many retried sends in total.
	MinRetries int `toml:"min_retries"`
}

// Error is a scenario file mistake, with the line it is on (0 when unknown).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Parse reads a scenario. file names it in errors. Every mistake is an
// *Error naming the line: a syntax error, an unknown key, a value of the
// wrong type or out of range.
func Parse(file string, data []byte) (*Scenario, error) {
	var s Scenario
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: file, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: file, Line: lineFromMsg(err.Error()), Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	s.lines = indexLines(data)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &Error{File: file, Line: s.lines.find(k), Msg: fmt.Sprintf("unknown key %q", k.String())}
	}
	if err := s.validate(); err != nil {
		var ke keyError
		if errors.As(err, &ke) {
			return nil, &Error{File: file, Line: s.lines.find(ke.key), Msg: ke.msg}
		}
		return nil, &Error{File: file, Msg: err.Error()}
	}
	return &s, nil
}

type keyError struct {
	key toml.Key
	msg string
}

func (e keyError) Error() string { return e.key.String() + ": " + e.msg }

func bad(msg string, key ...string) error { return keyError{key: toml.Key(key), msg: msg} }

func (s *Scenario) validate() error {
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(2 * time.Minute)
	}
	if s.Fleet != nil {
		f := s.Fleet
		switch {
		case len(s.Boards) > 0 || len(s.MailHost.Faults) > 0 || len(s.Link.Timeline) > 0:
			return bad("[fleet] runs alone: no [[boards]], link timeline or mail-host faults with it", "fleet")
		case f.Boards < 1 || f.Boards > fleet.MaxBoards:
			return bad(fmt.Sprintf("boards %d: want 1..%d", f.Boards, fleet.MaxBoards), "fleet", "boards")
		case f.PoolPackets < 0 || f.PoolPackets == 1:
			return bad(fmt.Sprintf("pool_packets %d: want 0 (16) or at least 2", f.PoolPackets), "fleet", "pool_packets")
		case f.Concurrency < -1:
			return bad(fmt.Sprintf("concurrency %d: want -1 (all at once), 0 (default) or more", f.Concurrency), "fleet", "concurrency")
		case len(s.Checks.Statuses) > 0 || s.Checks.MinRetries > 0:
			return bad("a fleet has no per-attempt statuses or retries to check", "checks")
		}
		return nil
	}
	for i, e := range s.Link.Timeline {
		el := fmt.Sprintf("timeline#%d", i)
		switch e.Action {
		case "cable-pull":
			if e.For == 0 {
				return bad(`cable-pull needs "for" (how long the cable stays out)`, "link", el, "action")
			}
		case "impair":
		default:
			return bad(fmt.Sprintf("unknown action %q (want \"cable-pull\" or \"impair\")", e.Action), "link", el, "action")
		}
	}
	if len(s.MailHost.Users) == 0 {
		return bad("the mail host needs at least one user", "mailhost", "users")
	}
	for i, f := range s.MailHost.Faults {
		if _, err := f.fault(); err != nil {
			return bad(err.Error(), "mailhost", fmt.Sprintf("faults#%d", i), "stage")
		}
	}
	if len(s.Boards) == 0 {
		return bad("no [[boards]]", "boards")
	}
	total := 0
	for i := range s.Boards {
		g := &s.Boards[i]
		el := fmt.Sprintf("boards#%d", i)
		if g.Name == "" {
			g.Name = fmt.Sprintf("board%d", i+1)
		}
		if g.Count == 0 {
			g.Count = 1
		}
		if g.Count < 0 {
			return bad(fmt.Sprintf("count %d: want >= 1", g.Count), el, "count")
		}
		total += g.Count
		for _, v := range []struct {
			n   *int
			key string
			def int
		}{{&g.Payload, "payload", 1536}, {&g.Packets, "pool_packets", 64}, {&g.RxPacket, "rx_packets", 64}} {
			if *v.n == 0 {
				*v.n = v.def
			}
			if *v.n < 0 {
				return bad(fmt.Sprintf("%s %d: want > 0", v.key, *v.n), el, v.key)
			}
		}
		w := &g.Workload
		if w.Mails < 0 || w.Retries < 0 {
			return bad("mails and retries must be >= 0", el, "workload", "mails")
		}
		if w.To == "" {
			for u := range s.MailHost.Users {
				if w.To == "" || u < w.To {
					w.To = u
				}
			}
		}
		if _, ok := s.MailHost.Users[w.To]; !ok {
			return bad(fmt.Sprintf("to %q is no user of the mail host", w.To), el, "workload", "to")
		}
		if w.Size == 0 {
			w.Size = 1000
		}
		if w.RetryWait == 0 {
			w.RetryWait = Duration(time.Second)
		}
	}
	used := map[netip.Addr]string{netip.AddrFrom4([4]byte{198, 51, 100, 1}): "the mail host"}
	next := 2
	for i := range s.Boards {
		g := &s.Boards[i]
		el := fmt.Sprintf("boards#%d", i)
		if g.Address != "" {
			a, err := netip.ParseAddr(g.Address)
			if err != nil || !a.Is4() || a.As4()[0] != 198 || a.As4()[1] != 51 || a.As4()[2] != 100 {
				return bad(fmt.Sprintf("address %q: want an IPv4 address in 198.51.100.0/24", g.Address), el, "address")
			}
			next = int(a.As4()[3])
		}
		g.first = next
		for j := 0; j < g.Count; j++ {
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(next + j)})
			if who, ok := used[a]; ok {
				return bad(fmt.Sprintf("address %v of %s is taken by %s", a, g.Name, who), el, "address")
			}
			if next+j < 2 || next+j > 254 {
				return bad(fmt.Sprintf("group %s runs past 198.51.100.254 (or starts below .2)", g.Name), el, "address")
			}
			used[a] = g.Name
		}
		next += g.Count
	}
	if total > 250 {
		return bad(fmt.Sprintf("%d boards: at most 250 in one scenario (use simboard fleet for more)", total), "boards", "count")
	}
	if s.MailHost.Pool == 0 {
		s.MailHost.Pool = 64 + 16*total
	}
	return nil
}

func (f FaultSpec) fault() (mailhost.Fault, error) {
	mf := mailhost.Fault{Stage: mailhost.Stage(f.Stage), Kind: mailhost.FaultKind(f.Action), Code: f.Code, Text: f.Text,
		Delay: time.Duration(f.Delay), Skip: f.Skip, Times: f.Times, AfterBytes: int64(f.AfterBytes)}
	if mf.Kind == mailhost.FaultDelay && mf.Delay == 0 {
		return mf, fmt.Errorf("fault %s: delay needs \"delay\"", f.Stage)
	}
	// Validate through the host's own parser rules.
	h, err := mailhost.New(mailhost.Options{Users: map[string]string{"x": "y"}, Faults: []mailhost.Fault{mf}})
	if h != nil {
		_ = h.Close()
	}
	return mf, err
}

// Addr returns the address of board i (0-based) of group g.
func (g *BoardGroup) Addr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(g.first + i)})
}

// lineIndex maps full keys (tables joined with ".") to the first line
// that defines them.
type lineIndex map[string]int

func indexLines(data []byte) lineIndex {
	idx := lineIndex{}
	arrays := map[string]int{} // array table (un-indexed name) -> elements seen
	var table, plain string    // current table, with and without element indices
	set := func(k string, n int) {
		if _, ok := idx[k]; !ok {
			idx[k] = n
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if l[0] == '[' {
			isArray := strings.HasPrefix(l, "[[")
			plain = normKey(strings.Trim(strings.SplitN(l, "#", 2)[0], " []"))
			parts := strings.Split(plain, ".")
			var b []string
			for i := range parts {
				b = append(b, parts[i])
				pre := strings.Join(parts[:i+1], ".")
				if isArray && i == len(parts)-1 {
					arrays[pre]++
				}
				if c := arrays[pre]; c > 0 {
					b[len(b)-1] = fmt.Sprintf("%s#%d", parts[i], c-1)
				}
			}
			table = strings.Join(b, ".")
			set(plain, n)
			set(table, n)
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		key := normKey(k)
		if table == "" {
			set(key, n)
			continue
		}
		set(plain+"."+key, n)
		set(table+"."+key, n)
	}
	return idx
}

func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// find returns the line of key, or of its closest defined parent, or 0.
func (idx lineIndex) find(key toml.Key) int {
	for n := len(key); n > 0; n-- {
		if l, ok := idx[strings.Join(key[:n], ".")]; ok {
			return l
		}
	}
	return 0
}

func lineFromMsg(msg string) int {
	if i := strings.Index(msg, "line "); i >= 0 {
		var n int
		if _, err := fmt.Sscanf(msg[i:], "line %d", &n); err == nil {
			return n
		}
	}
	return 0
}
