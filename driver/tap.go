//go:build linux

package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"

	"github.com/simboard/simboard/nx"
)

var _ Link = (*TAP)(nil)

// TAPOptions configures OpenTAP. Only Name is required.
type TAPOptions struct {
	// Name is the TAP device, e.g. "tap0". Required.
	Name string
	// MAC is the board's own station address, used as the source of the
	// frames it sends and the address it answers to. It is not the TAP
	// interface's kernel MAC: the kernel is the other station on this
	// cable. nil means a locally administered address derived from Name
	// (stable across runs).
	MAC net.HardwareAddr
	// MTU is the board's IP MTU. 0 means 1500. Keep the kernel side at the
	// same MTU (ip link set tap0 mtu N), or the kernel may send frames the
	// board refuses.
	MTU int
	// Create allows OpenTAP to create the device when it does not exist
	// (this needs CAP_NET_ADMIN). false (the default) refuses a missing
	// device, because a process outside the intended network namespace
	// would otherwise silently create a new, unconfigured device.
	Create bool
	// Persist keeps a device that OpenTAP created after Close. A device that
	// already existed is always kept (water would otherwise clear the
	// persist flag that `ip tuntap add` set and delete the user's device).
	Persist bool
	// Logger receives open and close events at Info. nil discards.
	Logger *slog.Logger
}

// TAP is a Linux TAP device opened with songgao/water; it implements Link.
// Frames written go to the kernel as if received from a cable; frames the
// kernel transmits on the device are returned by ReadFrame, whatever their
// destination (the Driver filters them by MAC).
//
// The device file descriptor is non-blocking and served by Go's network
// poller, so Close unblocks a pending ReadFrame (tested against the pinned
// water version). Safe for concurrent use: one reader and any number of
// writers.
type TAP struct {
	name     string
	mac      net.HardwareAddr
	mtu      int
	maxFrame int
	ifc      *water.Interface
	file     *os.File
	sock     int // AF_INET socket in the TAP's namespace for SIOCGIFFLAGS
	log      *slog.Logger

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// OpenTAP opens (or, with Create, creates) the TAP device opts.Name in the
// calling thread's network namespace. In tests, call it inside
// netns.(*NS).Do so the device belongs to the test's namespace. When the
// device is up, OpenTAP blocks until the kernel reports it running (at
// most CarrierWait), because the kernel discards what it transmits on a
// freshly attached TAP until then.
//
// It needs no privilege for a device created beforehand and owned by the
// user (`sudo ip tuntap add dev tap0 mode tap user $USER && sudo ip link set
// tap0 up`); creating one needs CAP_NET_ADMIN. Errors say what to run: they
// wrap nx.ErrInvalidParameters for bad options, nx.ErrNotFound for a missing
// device, and the underlying syscall error (fs.ErrPermission,
// syscall.EBUSY, ...) otherwise.
//
// Known water defect: when TUNSETIFF fails (permission, busy device), water
// leaks the /dev/net/tun descriptor it opened.
func OpenTAP(opts TAPOptions) (*TAP, error) {
	if opts.Name == "" || len(opts.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("driver: tap: invalid device name %q: %w", opts.Name, nx.ErrInvalidParameters)
	}
	mtu, err := checkMTU(opts.MTU)
	if err != nil {
		return nil, fmt.Errorf("driver: tap %s: %v: %w", opts.Name, err, nx.ErrInvalidParameters)
	}
	mac := opts.MAC
	if mac == nil || isZeroMAC(mac) {
		mac = nameMAC(opts.Name)
	} else if err := checkMAC(mac); err != nil {
		return nil, fmt.Errorf("driver: tap %s: %v: %w", opts.Name, err, nx.ErrInvalidParameters)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	_, ierr := net.InterfaceByName(opts.Name)
	existed := ierr == nil
	if !existed && !opts.Create {
		return nil, fmt.Errorf("driver: tap %s: no such device in this network namespace; create it first: %s (or set TAPOptions.Create, which needs CAP_NET_ADMIN): %w",
			opts.Name, setupHint(opts.Name), nx.ErrNotFound)
	}
	ifc, err := water.New(water.Config{
		DeviceType: water.TAP,
		PlatformSpecificParams: water.PlatformSpecificParams{
			Name:    opts.Name,
			Persist: existed || opts.Persist,
		},
	})
	if err != nil {
		return nil, tapOpenError(opts.Name, err)
	}
	file, ok := ifc.ReadWriteCloser.(*os.File)
	if !ok {
		ifc.Close()
		return nil, fmt.Errorf("driver: tap %s: water returned %T, want *os.File", opts.Name, ifc.ReadWriteCloser)
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("driver: tap %s: control socket: %w", opts.Name, err)
	}
	t := &TAP{
		name:     ifc.Name(),
		mac:      cloneMAC(mac),
		mtu:      mtu,
		maxFrame: mtu + EthernetHeaderLen,
		ifc:      ifc,
		file:     file,
		sock:     sock,
		log:      log,
	}
	t.waitRunning()
	log.Info("driver: tap opened", "dev", t.name, "mac", t.mac.String(), "mtu", mtu, "created", !existed, "running", t.LinkUp())
	return t, nil
}

// CarrierWait bounds how long OpenTAP waits for the kernel to bring an up
// device to running after attaching.
const CarrierWait = 2 * time.Second

// waitRunning waits until an administratively up device is running. The
// kernel turns the carrier on at attach time but activates the device's
// transmit queue later, from its link-watch work (up to a second later);
// until then everything the kernel sends on the device, an ARP reply
// included, is silently discarded. Waiting here makes the first exchange
// reliable. A device that is down, or stays not running, is returned as is.
func (t *TAP) waitRunning() {
	deadline := time.Now().Add(CarrierWait)
	for {
		f, err := t.flags()
		if err != nil || f&unix.IFF_UP == 0 || f&unix.IFF_RUNNING != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.log.Warn("driver: tap not running after attach", "dev", t.name, "waited", CarrierWait)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (t *TAP) flags() (uint16, error) {
	ifr, err := unix.NewIfreq(t.name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(t.sock, unix.SIOCGIFFLAGS, ifr); err != nil {
		return 0, err
	}
	return ifr.Uint16(), nil
}

func setupHint(name string) string {
	return fmt.Sprintf("sudo ip tuntap add dev %s mode tap user $USER && sudo ip link set %s up", name, name)
}

// tapOpenError turns a water.New failure into an error that says what to do.
func tapOpenError(name string, err error) error {
	var se *os.SyscallError
	ioctl := errors.As(err, &se) && se.Syscall == "ioctl"
	switch {
	case !ioctl && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("driver: tap %s: /dev/net/tun is missing: load the tun module (sudo modprobe tun): %w", name, err)
	case !ioctl && errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("driver: tap %s: cannot open /dev/net/tun: run as root, or make it usable (it is often mode 0600) and use a TAP you own: %s: %w", name, setupHint(name), err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("driver: tap %s: not permitted to attach (the device belongs to another user, or creating it needs CAP_NET_ADMIN); create one you own: %s: %w", name, setupHint(name), err)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("driver: tap %s: already attached by another process (or multi-queue): %w", name, err)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("driver: tap %s: exists but is not a single-queue TAP without packet info (ip tuntap add ... mode tap): %w", name, err)
	}
	return fmt.Errorf("driver: tap %s: open: %w", name, err)
}

// Name returns the kernel device name.
func (t *TAP) Name() string { return t.name }

// MAC returns the board's station address (a copy), not the kernel's.
func (t *TAP) MAC() net.HardwareAddr { return cloneMAC(t.mac) }

// MTU returns the board's IP MTU.
func (t *TAP) MTU() int { return t.mtu }

// LinkUp reports whether the device is open and the kernel interface is up
// and running (IFF_UP and IFF_RUNNING: carrier on and transmit queue
// active). It costs one ioctl. Safe for concurrent use.
func (t *TAP) LinkUp() bool {
	if t.closed.Load() {
		return false
	}
	f, err := t.flags()
	return err == nil && f&unix.IFF_UP != 0 && f&unix.IFF_RUNNING != 0
}

// WriteFrame hands one frame to the kernel (one write(2)). It does not
// retain frame. Errors wrap nx.ErrInvalidPacket (shorter than 14 bytes),
// nx.ErrSize (longer than MTU+14), ErrClosed after Close, or the write's
// syscall error. Safe for concurrent use.
func (t *TAP) WriteFrame(frame []byte) error {
	if len(frame) < EthernetHeaderLen {
		return fmt.Errorf("driver: tap %s: write: %d-byte frame is shorter than the Ethernet header: %w", t.name, len(frame), nx.ErrInvalidPacket)
	}
	if len(frame) > t.maxFrame {
		return fmt.Errorf("driver: tap %s: write: %d-byte frame exceeds MTU %d + 14: %w", t.name, len(frame), t.mtu, nx.ErrSize)
	}
	if _, err := t.file.Write(frame); err != nil {
		if errors.Is(err, fs.ErrClosed) {
			return fmt.Errorf("driver: tap %s: write: %w", t.name, ErrClosed)
		}
		return fmt.Errorf("driver: tap %s: write: %w", t.name, err)
	}
	return nil
}

// ReadFrame blocks for the next frame the kernel transmits on the device
// and copies it into buf (one read(2)); buf should hold MTU()+14 bytes (a
// longer frame is truncated by the kernel). Close unblocks it with an error
// wrapping ErrClosed. Safe for concurrent use.
func (t *TAP) ReadFrame(buf []byte) (int, error) {
	n, err := t.file.Read(buf)
	if err != nil {
		if errors.Is(err, fs.ErrClosed) {
			return 0, fmt.Errorf("driver: tap %s: read: %w", t.name, ErrClosed)
		}
		return 0, fmt.Errorf("driver: tap %s: read: %w", t.name, err)
	}
	return n, nil
}

// Close closes the device file descriptor, which unblocks pending reads and
// writes; a device OpenTAP created without Persist disappears with it. It
// is idempotent and returns the first close error.
func (t *TAP) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.closeErr = t.file.Close()
		if err := unix.Close(t.sock); err != nil && t.closeErr == nil {
			t.closeErr = err
		}
		if t.closeErr != nil {
			t.closeErr = fmt.Errorf("driver: tap %s: close: %w", t.name, t.closeErr)
		}
		t.log.Info("driver: tap closed", "dev", t.name)
	})
	return t.closeErr
}
