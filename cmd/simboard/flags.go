package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/simboard/simboard/apps/smtpc"
	"github.com/simboard/simboard/packetpool"
)

// commonFlags are shared by every command that runs a board.
type commonFlags struct {
	logLevel string
	json     bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.logLevel, "log-level", "error", "`LEVEL` of the logs on stderr: debug, info, warn or error (a failure is\nprinted once at the end; warn and below log the libraries' view of it too)")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON on stdout, for scripts")
}

func (c *commonFlags) check() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return usagef("bad --log-level %q: use debug, info, warn or error", c.logLevel)
	}
	return nil
}

func (c *commonFlags) logger(stderr io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.logLevel)) // checked by check
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
}

// tlsMode is the one --tls vocabulary of demo, send and fetch.
type tlsMode string

const (
	tlsOff           tlsMode = "off"           // clear text only (SMTP 25, POP3 110)
	tlsOpportunistic tlsMode = "opportunistic" // STARTTLS/STLS when the server offers it
	tlsRequired      tlsMode = "required"      // STARTTLS/STLS or fail (SMTP 587, POP3 110)
	tlsImplicit      tlsMode = "implicit"      // TLS from the first byte (SMTPS 465, POP3S 995)
)

const tlsModes = "off, opportunistic, required or implicit"

func (m *tlsMode) String() string { return string(*m) }

func (m *tlsMode) Set(s string) error {
	switch v := tlsMode(strings.ToLower(s)); v {
	case tlsOff, tlsOpportunistic, tlsRequired, tlsImplicit:
		*m = v
		return nil
	case "none", "plain", "clear":
		return fmt.Errorf("use off (one vocabulary for demo, send and fetch: %s)", tlsModes)
	case "starttls", "stls":
		// The protocol's own name for "upgrade or fail": an alias of
		// required, never of opportunistic (no silent clear text).
		*m = tlsRequired
		return nil
	}
	return fmt.Errorf("use %s", tlsModes)
}

// registerTLS declares --tls on fs with def as its default; *set records
// whether the command line gave it (nil: not recorded).
func registerTLS(fs *flag.FlagSet, m *tlsMode, set *bool, def tlsMode) {
	*m = def
	var v flag.Value = m
	if set != nil {
		v = trackSet{m, set}
	}
	fs.Var(v, "tls", "`MODE`: off (clear text), opportunistic (STARTTLS/STLS when offered),\n"+
		"required (STARTTLS/STLS or fail; starttls and stls name it too) or implicit (TLS from the first byte: 465/995)")
}

// smtpPort and pop3Port are the standard ports for a --tls mode (the
// meaning of --port 0).
func (m tlsMode) smtpPort() uint16 {
	switch m {
	case tlsImplicit:
		return 465
	case tlsRequired:
		return 587
	}
	return 25
}

// clientMode is the mail clients' TLS mode for a --tls value (smtpc.TLSMode
// and pop3c.TLSMode are one type). Whether clear-text credentials are
// allowed is the caller's choice: --tls off consents to them.
func (m tlsMode) clientMode() smtpc.TLSMode {
	switch m {
	case tlsOff:
		return smtpc.TLSOff
	case tlsRequired:
		return smtpc.TLSRequired
	case tlsImplicit:
		return smtpc.TLSImplicit
	}
	return smtpc.TLSOpportunistic
}

func (m tlsMode) pop3Port() uint16 {
	if m == tlsImplicit {
		return 995
	}
	return 110
}

// Limits of the values a board can work with; beyond them a flag is a
// usage error (exit 2) before any traffic.
const (
	minPayload   = 256      // below this a TCP segment's headers barely fit
	maxPayload   = 64 << 10 // one packet never needs more than a 64 KiB datagram
	minPackets   = 4
	maxPoolBytes = 1 << 30 // payload x packets per pool
	maxBodySize  = 256 << 20
)

// checkPort accepts 0 (the standard port) and 1..65535.
func checkPort(p int) error {
	if p < 0 || p > 65535 {
		return usagef("--port %d is out of range: use 1..65535, or 0 for the standard port of --tls", p)
	}
	return nil
}

// checkPool checks --payload and --pool-packets together.
func checkPool(payload, packets int) error {
	switch {
	case payload < minPayload || payload > maxPayload:
		return usagef("--payload %d is out of range: use %d..%d bytes", payload, minPayload, maxPayload)
	case packets < minPackets || packets > packetpool.MaxCount:
		return usagef("--pool-packets %d is out of range: use %d..%d", packets, minPackets, packetpool.MaxCount)
	case int64(payload)*int64(packets) > maxPoolBytes:
		return usagef("--payload %d x --pool-packets %d = %d bytes per pool: the limit is %d (1 GiB)", payload, packets, int64(payload)*int64(packets), maxPoolBytes)
	}
	if need := minPoolPackets(payload); packets < need {
		return usagef("--pool-packets %d of --payload %d bytes cannot take a full %d-byte Ethernet frame and one packet more "+
			"(every full-size segment would be dropped until the timeout): use at least --pool-packets %d, or a larger --payload",
			packets, payload, maxFrame, need)
	}
	return nil
}

// maxFrame is the largest Ethernet frame the board receives (MTU 1500).
const maxFrame = 1514

// minPoolPackets is the fewest packets of payload bytes a receive pool
// works with: one full frame chained over ceil(1514/payload) packets, and
// one packet more for the next frame or a reply the client allocates.
func minPoolPackets(payload int) int {
	return max(minPackets, (maxFrame+payload-1)/payload+1)
}

func checkTimeout(d time.Duration) error {
	if d <= 0 {
		return usagef("--timeout %v must be positive", d)
	}
	return nil
}

// checkLoss accepts a probability in [0, 1); NaN is refused.
func checkLoss(p float64) error {
	if math.IsNaN(p) || p < 0 || p >= 1 {
		return usagef("--loss %v must be in [0, 1), e.g. 0.05", p)
	}
	return nil
}

// trackSet is a flag.Value that records whether Set was called.
type trackSet struct {
	flag.Value
	set *bool
}

func (t trackSet) Set(s string) error {
	*t.set = true
	return t.Value.Set(s)
}
