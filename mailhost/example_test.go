package mailhost_test

import (
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"

	"github.com/simboard/simboard/mailhost"
)

// A host on loopback: mail sent with net/smtp comes back through POP3.
func Example() {
	h, err := mailhost.New(mailhost.Options{
		Users:             map[string]string{"alice": "secret"},
		AllowInsecureAuth: true, // USER/PASS without TLS, for the example
	})
	if err != nil {
		panic(err)
	}
	defer h.Close()
	ls, _ := net.Listen("tcp", "127.0.0.1:0")
	lp, _ := net.Listen("tcp", "127.0.0.1:0")
	go h.ServeSMTP(ls)
	go h.ServePOP3(lp)

	msg := "Subject: hello\r\n\r\n.from the board\r\n"
	if err := smtp.SendMail(ls.Addr().String(), nil, "board@board.test", []string{"alice@mailhost.test"}, []byte(msg)); err != nil {
		panic(err)
	}

	c, err := textproto.Dial("tcp", lp.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.ReadLine() // +OK ... ready <timestamp>
	for _, cmd := range []string{"USER alice", "PASS secret", "STAT"} {
		c.PrintfLine("%s", cmd)
		l, _ := c.ReadLine()
		if cmd == "STAT" {
			fmt.Println(l)
		}
	}
	c.PrintfLine("RETR 1")
	c.ReadLine()
	lines, _ := c.ReadDotLines()
	for _, l := range lines {
		fmt.Printf("%q\n", l)
	}
	c.PrintfLine("QUIT")
	fmt.Println(c.ReadLine())
	// Output:
	// +OK 1 35
	// "Subject: hello"
	// ""
	// ".from the board"
	// +OK mailhost.test POP3 server signing off (1 messages left) <nil>
}

func ExampleParseFault() {
	f, err := mailhost.ParseFault("smtp.rcpt@2:reply:550 5.1.1 No such user")
	fmt.Printf("%+v %v\n", f, err)
	f, err = mailhost.ParseFault("pop3.retr:delay:1.5s")
	fmt.Printf("%s %s %v %v\n", f.Stage, f.Kind, f.Delay, err)
	f, err = mailhost.ParseFault("smtp.data-end>100KB:reset") // RST after 100 KB of DATA
	fmt.Printf("%s %s after %d octets %v\n", f.Stage, f.Kind, f.AfterBytes, err)
	// Output:
	// {Stage:smtp.rcpt Kind:reply Code:550 Text:5.1.1 No such user Delay:0s Skip:1 Times:1 AfterBytes:0} <nil>
	// pop3.retr delay 1.5s <nil>
	// smtp.data-end reset after 102400 octets <nil>
}
