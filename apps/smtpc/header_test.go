package smtpc

import (
	"errors"
	"mime"
	"strings"
	"testing"

	"github.com/simboard/simboard/nx"
)

func TestBuildHeaderNetX(t *testing.T) {
	got, err := buildHeader(nil, headerSpec{from: "recipient@domain.com", to: []string{"recipient@domain.com"},
		subject: "NetX Duo SMTP Client Demo", date: testDate, messageID: "x@y", priority: PriorityHigh, netx: true})
	want := "To: recipient@domain.com\r\nFrom: recipient@domain.com\r\nSubject: NetX Duo SMTP Client Demo\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n  charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	if err != nil || string(got) != want {
		t.Errorf("buildHeader(netx) = %q, %v\nwant %q", got, err, want)
	}
}

func TestBuildHeaderDefault(t *testing.T) {
	got, err := buildHeader(nil, headerSpec{from: "board@example.com", to: []string{"a@example.com", "b@example.com"},
		cc: []string{"c@example.com"}, subject: "Temperature alarm", date: testDate, messageID: "1234.5678@example.com", priority: PriorityLow})
	want := "To: a@example.com, b@example.com\r\nCc: c@example.com\r\nFrom: board@example.com\r\nSubject: Temperature alarm\r\n" +
		"Date: Fri, 14 Mar 2025 15:09:26 +0100\r\nMessage-ID: <1234.5678@example.com>\r\n" +
		"X-Priority: 5 (Lowest)\r\nImportance: low\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n  charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	if err != nil || string(got) != want {
		t.Errorf("buildHeader() = %q, %v\nwant %q", got, err, want)
	}
}

func TestBuildHeaderPriority(t *testing.T) {
	for _, tt := range []struct {
		p        Priority
		xp, impt string
	}{{PriorityHigh, "1 (Highest)", "high"}, {PriorityNormal, "3 (Normal)", "normal"}, {PriorityLow, "5 (Lowest)", "low"}, {0, "3 (Normal)", "normal"}, {7, "3 (Normal)", "normal"}} {
		got, _ := buildHeader(nil, headerSpec{from: "a@b", to: []string{"c@d"}, date: testDate, messageID: "m@b", priority: tt.p})
		if !strings.Contains(string(got), "X-Priority: "+tt.xp+"\r\nImportance: "+tt.impt+"\r\n") {
			t.Errorf("buildHeader(priority %d) = %q, want X-Priority %q and Importance %q", tt.p, got, tt.xp, tt.impt)
		}
	}
}

func TestBuildHeaderSubjectEncodingAndFolding(t *testing.T) {
	subject := "Température élevée au capteur nº 7 — vérifier le ventilateur du boîtier principal immédiatement"
	got, err := buildHeader(nil, headerSpec{from: "a@b", to: []string{"c@d"}, subject: subject, date: testDate, messageID: "m@b"})
	if err != nil {
		t.Fatalf("buildHeader() = %v", err)
	}
	h := string(got)
	start := strings.Index(h, "Subject:")
	end := strings.Index(h, "\r\nDate:")
	field := h[start+len("Subject:") : end]
	for _, line := range strings.Split(h, "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line %q is longer than 78 octets", line)
		}
		if !isASCII(line) {
			t.Errorf("header line %q is not ASCII", line)
		}
	}
	unfolded := strings.ReplaceAll(field, "\r\n", "")
	dec, err := new(mime.WordDecoder).DecodeHeader(strings.TrimSpace(unfolded))
	if err != nil || dec != subject {
		t.Errorf("decoded Subject = %q, %v; want %q", dec, err, subject)
	}
	// Many recipients fold at commas.
	var to []string
	for i := 0; i < 20; i++ {
		to = append(to, "someone.with.a.long.name"+strings.Repeat("x", i%3)+"@example.com")
	}
	got, err = buildHeader(nil, headerSpec{from: "a@b", to: to, date: testDate, messageID: "m@b"})
	if err != nil {
		t.Fatalf("buildHeader(20 recipients) = %v", err)
	}
	for _, line := range strings.Split(string(got), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line %q is longer than 78 octets", line)
		}
	}
	if u := strings.ReplaceAll(string(got), "\r\n ", " "); !strings.Contains(u, "To: "+strings.Join(to, ", ")+"\r\n") {
		t.Errorf("unfolded To = %q, want all recipients", u)
	}
}

func TestBuildHeaderTooLong(t *testing.T) {
	word := strings.Repeat("w", 1200)
	for _, netx := range []bool{false, true} {
		_, err := buildHeader(nil, headerSpec{from: "a@b", to: []string{"c@d"}, subject: word, date: testDate, messageID: "m@b", netx: netx})
		// NetX checks no header line length: its subject limit (512
		// octets, NX_SIZE_ERROR) applies in the session, after DATA.
		if want := !netx; errors.Is(err, ErrInvalidParam) != want {
			t.Errorf("buildHeader(1200-octet word, netx %v) = %v, want NX_SMTP_INVALID_PARAM %v", netx, err, want)
		}
	}
}

func TestPrepareRejectsBadInput(t *testing.T) {
	base := func() Options { o := pipeOpts(); return o }
	tests := []struct {
		name string
		mod  func(*Options)
		m    mail
		want error
	}{
		{"CR in recipient", nil, mail{to: []string{"a@b\r\nRCPT TO:<evil@x>"}}, ErrInvalidParam},
		{"LF in cc", nil, mail{to: []string{"a@b"}, cc: []string{"c@d\n"}}, ErrInvalidParam},
		{"no @", nil, mail{to: []string{"alice"}}, ErrInvalidParam},
		{"empty domain", nil, mail{to: []string{"alice@"}}, ErrInvalidParam},
		{"angle bracket", nil, mail{to: []string{"<a@b>"}}, ErrInvalidParam},
		{"space", nil, mail{to: []string{"a b@c"}}, ErrInvalidParam},
		{"CR in subject", nil, mail{to: []string{"a@b"}, subject: "hi\r\nBcc: x@y"}, ErrInvalidParam},
		{"no recipient", nil, mail{}, ErrInvalidParam},
		{"netx two recipients", func(o *Options) { o.Profile = ProfileNetX }, mail{to: []string{"a@b"}, cc: []string{"c@d"}}, ErrInvalidParam},
		{"long body line", nil, mail{to: []string{"a@b"}, body: []byte(strings.Repeat("x", 999))}, ErrLineTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			if tt.mod != nil {
				tt.mod(&o)
			}
			cfg, err := newConfig(o)
			if err != nil {
				t.Fatalf("newConfig() = %v", err)
			}
			m := tt.m
			if m.body == nil {
				m.body = []byte("x")
			}
			if err := cfg.prepare(&m, testDate, nil); !errors.Is(err, tt.want) {
				t.Errorf("prepare(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want error
	}{
		{"CR in username", func(o *Options) { o.Username = "a\rb" }, ErrInvalidParam},
		{"LF in password", func(o *Options) { o.Password = "p\n" }, ErrInvalidParam},
		{"NUL in password", func(o *Options) { o.Password = "p\x00" }, ErrInvalidParam},
		{"LF in domain", func(o *Options) { o.ClientDomain = "x\ny" }, ErrInvalidParam},
		{"from without @", func(o *Options) { o.From = "board" }, ErrInvalidParam},
		{"empty from", func(o *Options) { o.From = "" }, nx.ErrPtr},
		{"no server", func(o *Options) { o.ServerAddr = netipZero() }, nx.ErrIPAddress},
		{"unknown auth", func(o *Options) { o.Auth = 9 }, ErrInvalidParam},
		{"netx username too long", func(o *Options) { o.Profile, o.Username = ProfileNetX, strings.Repeat("u", 41) }, nx.ErrSize},
		{"netx password too long", func(o *Options) { o.Profile, o.Password = ProfileNetX, strings.Repeat("p", 21) }, nx.ErrSize},
		{"netx with TLS", func(o *Options) { o.Profile, o.TLS = ProfileNetX, TLSRequired }, ErrInvalidParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := pipeOpts()
			tt.mod(&o)
			if _, err := newConfig(o); !errors.Is(err, tt.want) {
				t.Errorf("newConfig(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	t.Run("netx coerces CRAM-MD5 to PLAIN", func(t *testing.T) {
		o := pipeOpts()
		o.Profile, o.Auth = ProfileNetX, AuthCRAMMD5
		cfg, err := newConfig(o)
		if err != nil || cfg.Auth != AuthPlain || cfg.TLS != TLSOff {
			t.Errorf("newConfig(netx, CRAM-MD5) = auth %v tls %v, %v; want PLAIN, TLSOff", cfg.Auth, cfg.TLS, err)
		}
	})
	t.Run("zero auth", func(t *testing.T) {
		o := pipeOpts()
		o.Auth = 0
		if cfg, _ := newConfig(o); cfg.Auth != AuthAuto {
			t.Errorf("Auth 0 with a username = %v, want AUTO", cfg.Auth)
		}
		o.Username = ""
		if cfg, _ := newConfig(o); cfg.Auth != AuthNone {
			t.Errorf("Auth 0 without a username = %v, want NONE", cfg.Auth)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		o := pipeOpts()
		o.Timeouts, o.TLS = Timeouts{}, TLSImplicit
		cfg, _ := newConfig(o)
		if cfg.to != DefaultTimeouts() || cfg.Port != 465 || cfg.Window != 0 || cfg.tls.ServerName != "198.51.100.1" {
			t.Errorf("defaults = %+v port %d window %d server name %q", cfg.to, cfg.Port, cfg.Window, cfg.tls.ServerName)
		}
		if DefaultTimeouts().Message != nx.Seconds(30) || DefaultTimeouts().Bind != nx.Ticks(100) {
			t.Errorf("DefaultTimeouts() = %+v, want NetX's (message 30 s, bind 100 ticks)", DefaultTimeouts())
		}
	})
}
