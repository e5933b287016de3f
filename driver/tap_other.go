//go:build !linux

package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// TAPOptions configures OpenTAP; see the Linux documentation.
type TAPOptions struct {
	Name    string
	MAC     net.HardwareAddr
	MTU     int
	Create  bool
	Persist bool
	Logger  *slog.Logger
}

// TAP is only implemented on Linux.
type TAP struct{}

// OpenTAP is only implemented on Linux; elsewhere it returns an error
// wrapping errors.ErrUnsupported.
func OpenTAP(opts TAPOptions) (*TAP, error) {
	return nil, fmt.Errorf("driver: tap %s: TAP devices are supported on Linux only: %w", opts.Name, errors.ErrUnsupported)
}

func (*TAP) MAC() net.HardwareAddr         { return nil }
func (*TAP) MTU() int                      { return 0 }
func (*TAP) LinkUp() bool                  { return false }
func (*TAP) WriteFrame([]byte) error       { return ErrClosed }
func (*TAP) ReadFrame([]byte) (int, error) { return 0, ErrClosed }
func (*TAP) Close() error                  { return nil }
