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

	"github.com/simboard/simboard/driver"
	"github.com/simboard/simboard/mailhost"
	"github.com/simboard/simboard/netstack"
	"github.com/simboard/simboard/packetpool"
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
}

// board is a booted board: pools, driver (behind an optional capture) and IP.
type board struct {
	pool, rxPool *packetpool.Pool
	capture      *driver.Capture
	pcapFile     *os.File
	drv          *driver.Driver
	ip           *netstack.IP
}

func bootBoard(c boardConfig) (*board, error) {
	b := &board{}
	var err error
	if b.pool, err = packetpool.New(poolOptions(c.name+" pool", c.payload, c.packets, c.memory)); err != nil {
		return nil, err
	}
	if b.rxPool, err = packetpool.New(poolOptions(c.name+" rx pool", c.rxPayload, c.rxPackets, c.memory)); err != nil {
		return nil, err
	}
	link := c.link
	if c.pcapPath != "" {
		if b.pcapFile, err = os.Create(c.pcapPath); err != nil {
			return nil, fmt.Errorf("pcap: %w", err)
		}
		if b.capture, err = driver.NewCapture(link, b.pcapFile, driver.CaptureOptions{Logger: c.logger}); err != nil {
			b.pcapFile.Close()
			return nil, err
		}
		link = b.capture
	}
	if b.drv, err = driver.New(driver.Options{Name: c.name, Link: link, RxPool: b.rxPool, Logger: c.logger}); err != nil {
		b.closeLink()
		return nil, err
	}
	b.ip, err = netstack.New(netstack.Options{
		Name: c.name, Pool: b.pool, Driver: b.drv,
		Addr: c.addr, Gateway: c.gw, Addr6: c.addr6, Logger: c.logger,
	})
	if err != nil {
		b.drv.Close()
		b.closeLink()
		return nil, err
	}
	return b, nil
}

func (b *board) closeLink() {
	if b.capture != nil {
		b.capture.Close()
	}
	if b.pcapFile != nil {
		b.pcapFile.Close()
	}
}

// Close stops the IP and the driver, flushes the pcap, and reports any
// packet the board still holds (a leak) as an error.
func (b *board) Close() error {
	var errs []error
	errs = append(errs, b.ip.Close(), b.drv.Close())
	if b.capture != nil {
		errs = append(errs, b.capture.Close())
	}
	if b.pcapFile != nil {
		errs = append(errs, b.pcapFile.Close())
	}
	for _, p := range []*packetpool.Pool{b.pool, b.rxPool} {
		if in := p.Info(); in.Free != in.Total || in.InvalidReleases != 0 {
			errs = append(errs, fmt.Errorf("pool %q not balanced: %d of %d free, %d invalid releases", p.Name(), in.Free, in.Total, in.InvalidReleases))
		}
	}
	return errors.Join(errs...)
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

// poolOptions sizes a pool by packet count, or, when memory > 0, by the bytes
// NetX Duo would be given (nx_packet_pool_create's pool_size): the pool then
// holds exactly the packets NetX carves from that memory.
func poolOptions(name string, payload, packets, memory int) packetpool.Options {
	if memory > 0 {
		return packetpool.Options{Name: name, PayloadSize: payload, MemorySize: memory}
	}
	return packetpool.Options{Name: name, PayloadSize: payload, Count: packets}
}
