package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simboard/simboard/mailhost"
)

// TestDemoFault: demo --fault reaches the mail host's faults; a bad one is
// a usage error naming it.
func TestDemoFault(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "d.pcap")
	var out, errb strings.Builder
	code := dispatch(context.Background(), []string{"demo", "--body-size", "1000", "--pcap", pcap, "--fault", "smtp.rcpt*1=reply:451 4.2.1 busy"}, strings.NewReader(""), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "451 4.2.1 busy") || !strings.Contains(errb.String(), "NX_SMTP_RCPT_REPLY_ERROR") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := dispatch(context.Background(), []string{"demo", "--fault", "smtp.helo=close"}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "smtp.helo") {
		t.Fatalf("bad stage: exit %d, stderr %q", code, errb.String())
	}
}

func TestFaultFlagForms(t *testing.T) {
	var l faultList
	for _, v := range []string{"smtp.rcpt*2=reply:451 4.2.1 busy", "smtp.greeting=delay:40s", "smtp.data-end@3=reset"} {
		if err := l.Set(v); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	want := []mailhost.Fault{
		{Stage: mailhost.SMTPRcpt, Kind: mailhost.FaultReply, Code: 451, Text: "4.2.1 busy", Times: 2},
		{Stage: mailhost.SMTPGreeting, Kind: mailhost.FaultDelay, Delay: 40e9},
		{Stage: mailhost.SMTPDataEnd, Kind: mailhost.FaultReset, Skip: 2, Times: 1},
	}
	for i := range want {
		if l[i] != want[i] {
			t.Errorf("fault %d: %+v, want %+v", i, l[i], want[i])
		}
	}
	for _, bad := range []string{"smtp.rcpt", "smtp.rcpt*0=close", "smtp.rcpt=explode"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
