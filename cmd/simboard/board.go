package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"

	sbboard "github.com/simboard/simboard/board"
	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/nx"
	"github.com/simboard/simboard/packetpool"
	"github.com/simboard/simboard/sim"
)

// boardConfig describes one board the CLI boots.
type boardConfig struct {
	name      string
	link      driver.Link // a Wire port or a TAP
	addr      netip.Prefix
	gw        netip.Addr
	addr6     netip.Prefix
	payload   int
	packets   int
	rxPayload int
	rxPackets int
	memory    int    // > 0: both pools carved from this many bytes, as nx_packet_pool_create does (packets ignored)
	pcapPath  string // "" = no capture
	logger    *slog.Logger
	clock     nx.Clock  // nil: real time (--clock virtual: the sim's)
	rand      io.Reader // nil: crypto/rand (--clock virtual: seeded)
}

// board is a booted board (a board.Board): pools, driver (behind an
// optional capture) and IP, plus the pcap file the CLI opened for it.
type board struct {
	pool, rxPool *packetpool.Pool
	capture      *driver.Capture
	pcapFile     *os.File
	pcapOut      *sim.Writer // the pcap's writer in virtual time, else nil
	drv          *driver.Driver
	ip           *netstack.IP
	b            *sbboard.Board
}

func bootBoard(c boardConfig) (*board, error) {
	b := &board{}
	opts := sbboard.Options{
		Name:   c.name,
		Pool:   sbPool(c.name+" pool", c.payload, c.packets, c.memory),
		RxPool: sbPool(c.name+" rx pool", c.rxPayload, c.rxPackets, c.memory),
		Link:   c.link,
		Addr:   c.addr, Gateway: c.gw, Addr6: c.addr6, Logger: c.logger,
		Clock: c.clock, Rand: c.rand,
	}
	if c.pcapPath != "" {
		f, err := os.Create(c.pcapPath)
		if err != nil {
			_ = c.link.Close()
			return nil, fmt.Errorf("pcap: %w", err)
		}
		b.pcapFile, opts.Capture = f, f
		if nx.Sequencing(c.clock) {
			// The simulation's goroutines make no file system calls
			// (sim.Writer).
			b.pcapOut = sim.NewWriter(f)
			opts.Capture = b.pcapOut
		}
	}
	brd, err := sbboard.New(opts) // closes the link when it fails
	if err != nil {
		if b.pcapFile != nil {
			if b.pcapOut != nil {
				_ = b.pcapOut.Close()
			}
			b.pcapFile.Close()
		}
		return nil, err
	}
	b.b, b.pool, b.rxPool, b.capture, b.drv, b.ip = brd, brd.Pool, brd.RxPool, brd.Capture, brd.Driver, brd.IP
	return b, nil
}

// sbPool sizes a pool by packet count, or, when memory > 0, by the bytes
// NetX Duo would be given (nx_packet_pool_create's pool_size): the pool then
// holds exactly the packets NetX carves from that memory.
func sbPool(name string, payload, packets, memory int) sbboard.PoolOptions {
	if memory > 0 {
		return sbboard.PoolOptions{Name: name, PayloadSize: payload, MemorySize: memory}
	}
	return sbboard.PoolOptions{Name: name, PayloadSize: payload, Count: packets}
}

// Close stops the IP and the driver, flushes and closes the pcap, and
// reports any packet the board still holds (a leak) as an error.
func (b *board) Close() error {
	err := b.b.Close()
	if b.pcapOut != nil {
		err = errors.Join(err, b.pcapOut.Close())
	}
	if b.pcapFile != nil {
		err = errors.Join(err, b.pcapFile.Close())
	}
	return err
}

// progress prints how much of a long transfer is done, on a terminal only.
type progress struct {
	w     io.Writer
	label string
	total int64
	done  int64
	last  int
	on    bool
}

func newProgress(w io.Writer, label string, total int64) *progress {
	on := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = total >= 1<<20
		}
	}
	return &progress{w: w, label: label, total: total, on: on}
}

func (p *progress) add(n int) {
	if !p.on || p.total <= 0 {
		return
	}
	p.done += int64(n)
	pct := int(p.done * 100 / p.total)
	if pct/5 != p.last/5 || pct == 100 {
		p.last = pct
		fmt.Fprintf(p.w, "\r%s %3d%% (%d of %d bytes)", p.label, pct, p.done, p.total)
		if pct == 100 {
			fmt.Fprintln(p.w)
		}
	}
}

// progressReader counts bytes read through it.
type progressReader struct {
	r io.Reader
	p *progress
}

func (r progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(n)
	return n, err
}

// mailPeer is a peer board running the built-in mail host on the standard
// ports (SMTP 25 and 587, SMTPS 465, POP3 110, POP3S 995), so Wireshark
// decodes a trace without hints.
type mailPeer struct {
	brd  *board
	host *mailhost.Host
	wg   sync.WaitGroup
}

// startMailPeer boots a board from cfg and serves h on it. On error
// everything it started is stopped again. h is closed by Close.
func startMailPeer(cfg boardConfig, h *mailhost.Host) (*mailPeer, error) {
	brd, err := bootBoard(cfg)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("boot mail host board: %w", err)
	}
	p := &mailPeer{brd: brd, host: h}
	for _, s := range []struct {
		port  uint16
		serve func(net.Listener) error
	}{{25, h.ServeSMTP}, {587, h.ServeSMTP}, {465, h.ServeSMTPS}, {110, h.ServePOP3}, {995, h.ServePOP3S}} {
		l, err := brd.ip.ListenTCP(s.port)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("mail host: listen %d: %w", s.port, err)
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); _ = s.serve(l) }()
	}
	return p, nil
}

// Close stops the mail host, joins its servers and shuts the peer board down.
func (p *mailPeer) Close() error {
	p.host.Close()
	p.wg.Wait()
	return p.brd.Close()
}
