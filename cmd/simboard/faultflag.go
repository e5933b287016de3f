package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/simboard/simboard/mailhost"
)

// faultList is a repeatable --fault flag: mail-host faults, the same ones
// a scenario file's [[mailhost.faults]] sets.
//
//	STAGE=ACTION[:ARG]     every occurrence of STAGE
//	STAGE@N=ACTION[:ARG]   only the Nth occurrence
//	STAGE*N=ACTION[:ARG]   the first N occurrences
//
// e.g. smtp.rcpt*2=reply:451 4.2.1 busy, smtp.greeting=delay:40s,
// smtp.data-end@1=reset. ARG is the reply code and text, a delay, or a
// garbage line (mailhost.ParseFault).
type faultList []mailhost.Fault

const faultUsage = "inject a mail-host `FAULT`, STAGE[@N|*N]=ACTION[:ARG] (repeatable): e.g. smtp.rcpt*2=reply:451 (RCPT answers 451\n" +
	"the first 2 times), smtp.greeting=delay:40s, smtp.data-end@1=reset; stages smtp.greeting|ehlo|auth|mail|rcpt|data|data-end|quit\n" +
	"and pop3.*, actions reply|delay|close|reset|silent|garbage"

func (l *faultList) String() string {
	if l == nil {
		return ""
	}
	var s []string
	for _, f := range *l {
		s = append(s, fmt.Sprintf("%s=%s", f.Stage, f.Kind))
	}
	return strings.Join(s, ",")
}

func (l *faultList) Set(v string) error {
	stage, rest, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q: want STAGE=ACTION[:ARG]", v)
	}
	times := 0
	if i := strings.IndexByte(stage, '*'); i >= 0 {
		n, err := strconv.Atoi(stage[i+1:])
		if err != nil || n < 1 {
			return fmt.Errorf("%q: bad count %q after *", v, stage[i+1:])
		}
		stage, times = stage[:i], n
	}
	f, err := mailhost.ParseFault(stage + ":" + rest)
	if err != nil {
		return err
	}
	if times > 0 {
		f.Skip, f.Times = 0, times
	}
	*l = append(*l, f)
	return nil
}
