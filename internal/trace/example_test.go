package trace_test

import (
	"fmt"
	"log"
	"os"

	"github.com/simboard/simboard/internal/trace"
)

func ExampleAnalyze() {
	f, err := os.Open("testdata/session.pcap")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rep, err := trace.Analyze(f, trace.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d flows, %d retransmission, %d resets\n", rep.TCP.Flows, rep.TCP.Retransmissions, rep.TCP.Resets)
	fl := rep.Flows[0]
	fmt.Println(fl.Client, "->", fl.Server, fl.Protocol)
	for _, e := range fl.Events[:5] {
		fmt.Println(e.From, e.Kind, e.Lines)
	}
	// Output:
	// 6 flows, 1 retransmission, 2 resets
	// 198.51.100.2:49152 -> 198.51.100.1:587 smtp
	// server reply [220 mail.example.test ESMTP ready]
	// client command [EHLO board]
	// server reply [250-mail.example.test 250-PIPELINING 250-AUTH PLAIN LOGIN 250 8BITMIME]
	// client command [AUTH PLAIN [redacted]]
	// server reply [235 2.7.0 Authentication successful]
}
