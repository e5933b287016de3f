package scenario

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunCablePull is the must-show scenario: a cable pull and a server
// answering 451 twice. The report shows the retries, the 451 statuses and
// the final delivery; the pcap shows the gap while the cable is out.
func TestRunCablePull(t *testing.T) {
	data, err := os.ReadFile("../../examples/scenarios/cable-pull.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("cable-pull.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	var pcap bytes.Buffer
	rep, err := Run(context.Background(), s, Options{Pcap: &pcap})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.WriteText(&out)
	t.Log(out.String())
	if !rep.Pass {
		t.Fatal("scenario failed")
	}
	var n451, ok int
	for _, a := range rep.Attempts {
		if a.Code == 451 && a.Status == "NX_SMTP_RCPT_REPLY_ERROR" {
			n451++
		}
		if a.OK {
			ok++
		}
	}
	if n451 != 2 || ok != 3 || rep.Retries < 2 || rep.Delivered != 3 {
		t.Fatalf("451 attempts %d (want 2), delivered attempts %d (want 3), retries %d, delivered %d", n451, ok, rep.Retries, rep.Delivered)
	}
	for _, want := range []string{"failed 451 NX_SMTP_RCPT_REPLY_ERROR", "try 3: delivered", "cable pulled for 3s", "result: PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if gap := maxGap(t, pcap.Bytes()); gap < 2*time.Second {
		t.Errorf("largest gap between frames in the pcap %v, want >= 2s (cable out 3s)", gap)
	}
}

// maxGap returns the longest time between consecutive frames of a pcap.
// maxGap is the longest time between two frames the mail host (at
// 198.51.100.1, whose port the pcap captures) received. Frames the host
// sent are left out: with its cable pulled it still writes them (a FIN or a
// segment retransmitted into the dead link), and they reach the capture.
func maxGap(t *testing.T, b []byte) time.Duration {
	t.Helper()
	if len(b) < 24 {
		t.Fatal("pcap too short")
	}
	host := []byte{198, 51, 100, 1}
	b = b[24:]
	var prev, gap time.Duration
	for n := 0; len(b) >= 16; {
		sec, usec := binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:])
		caplen := int(binary.LittleEndian.Uint32(b[8:]))
		ts := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
		f := b[16 : 16+caplen]
		b = b[16+caplen:]
		var sender []byte
		switch {
		case len(f) >= 30 && f[12] == 0x08 && f[13] == 0x00: // IPv4: source address
			sender = f[26:30]
		case len(f) >= 32 && f[12] == 0x08 && f[13] == 0x06: // ARP: sender protocol address
			sender = f[28:32]
		}
		if bytes.Equal(sender, host) {
			continue
		}
		if n > 0 && ts-prev > gap {
			gap = ts - prev
		}
		prev = ts
		n++
	}
	return gap
}

func TestParseErrorsNameTheLine(t *testing.T) {
	const base = "name = \"x\"\n[mailhost]\nusers = { a = \"b\" }\n" // lines 1-3
	for _, tc := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unknown key", base + "[[boards]]\ncount = 1\nbogus = 3\n", 6, `unknown key "boards.bogus"`},
		{"unknown table", base + "[[boards]]\n[boards.wrkload]\nmails = 1\n", 5, `unknown key "boards.wrkload`},
		{"bad duration", base + "[[boards]]\n[boards.workload]\nevery = \"3 sec\"\n", 6, `bad duration "3 sec"`},
		{"bad size", base + "[[boards]]\n[boards.workload]\nsize = \"lots\"\n", 6, `bad size "lots"`},
		{"bad percent", base + "[link]\nloss = \"120%\"\n[[boards]]\n", 5, `bad percentage`},
		{"wrong type", base + "[[boards]]\ncount = \"two\"\n", 5, "count"},
		{"second board bad count", base + "[[boards]]\ncount = 1\n[[boards]]\ncount = -4\n", 7, "count -4"},
		{"unknown user", base + "[[boards]]\n[boards.workload]\nto = \"zed\"\n", 6, `to "zed" is no user`},
		{"bad fault stage", base + "[[mailhost.faults]]\nstage = \"smtp.helo\"\naction = \"close\"\n[[boards]]\n", 5, "unknown stage"},
		{"bad action", base + "[[link.timeline]]\nat = \"1s\"\naction = \"unplug\"\n[[boards]]\n", 6, `unknown action "unplug"`},
		{"fleet with boards", "name = \"x\"\n[fleet]\nboards = 3\n[[boards]]\n", 2, "[fleet] runs alone"},
		{"fleet bad boards", "name = \"x\"\n[fleet]\nboards = 0\n", 3, "boards 0"},
		{"fleet statuses", "name = \"x\"\n[fleet]\nboards = 2\n[checks]\nexpect_statuses = [\"451\"]\n", 4, "no per-attempt statuses"},
		{"address outside the prefix", base + "[[boards]]\naddress = \"192.168.1.9\"\n", 5, "198.51.100.0/24"},
		{"address taken", base + "[[boards]]\ncount = 3\n[[boards]]\naddress = \"198.51.100.4\"\n", 7, "is taken by board1"},
		{"address of the host", base + "[[boards]]\naddress = \"198.51.100.1\"\n", 5, "is taken by the mail host"},
		{"syntax", base + "[[boards]]\ncount = = 1\n", 5, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(tc.src))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want *Error", err)
			}
			if se.Line != tc.line || !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("got line %d %q, want line %d containing %q", se.Line, se.Msg, tc.line, tc.msg)
			}
		})
	}
}

func TestParseExamples(t *testing.T) {
	files, _ := os.ReadDir("../../examples/scenarios")
	if len(files) < 4 {
		t.Fatalf("%d scenario files, want at least 4", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile("../../examples/scenarios/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f.Name(), data); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// FuzzParse: Parse never panics; an error is an *Error whose line is
// within the file.
func FuzzParse(f *testing.F) {
	files, _ := os.ReadDir("../../examples/scenarios")
	for _, e := range files {
		if b, err := os.ReadFile("../../examples/scenarios/" + e.Name()); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[[boards]]\n[[boards]]\ncount=-1\n"))
	f.Add([]byte("[a.b.c]\nd.e = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.toml", data)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is no *Error", err)
			}
			if lines := bytes.Count(data, []byte("\n")) + 1; se.Line < 0 || se.Line > lines {
				t.Fatalf("line %d outside the file's %d lines: %v", se.Line, lines, err)
			}
			return
		}
		if s.Fleet == nil && (len(s.Boards) == 0 || len(s.MailHost.Users) == 0) {
			t.Fatalf("accepted a scenario without boards or users")
		}
	})
}
