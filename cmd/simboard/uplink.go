package main

import (
	"flag"
	"fmt"

	"github.com/simboard/simboard/driver"
)

// uplinkFlags is the --uplink flag group: it bridges a command's Wire to a
// TAP (driver.Uplink), so every board on the Wire is its own station (MAC
// and IP) on the kernel's side. Add it to a command's groups() and call
// open for the link to bridge.
type uplinkFlags struct {
	tap string
}

func (f *uplinkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tap, "uplink", "", "bridge the Wire to the existing TAP device `TAP` (e.g. tap0): every board becomes\n"+
		"a station of its own on the kernel side; several processes' TAPs can meet on a Linux bridge")
}

func (f *uplinkFlags) check() error {
	if len(f.tap) > 15 {
		return usagef("--uplink %q: a Linux interface name has at most 15 bytes", f.tap)
	}
	return nil
}

// open opens the TAP named by --uplink, or returns nil without it. The
// device must exist (simboard tap --apply creates one); it is kept on close.
func (f *uplinkFlags) open() (driver.Link, error) {
	if f.tap == "" {
		return nil, nil
	}
	tap, err := driver.OpenTAP(driver.TAPOptions{Name: f.tap})
	if err != nil {
		return nil, fmt.Errorf("--uplink: %w", err)
	}
	return tap, nil
}
