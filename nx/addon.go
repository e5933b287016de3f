package nx

import (
	"errors"
	"fmt"
)

// AddOnCode returns the UINT a NetX Duo add-on service (SMTP, POP3, DHCP,
// DNS, SNTP client) would have returned for err: 0 (NX_SUCCESS) for nil, the
// add-on's own status S when err wraps one, else the NetX service status err
// wraps (Code: a receive timeout is NX_NO_PACKET 0x01, a closed connection
// NX_NOT_CONNECTED 0x38), else NX_NOT_SUCCESSFUL 0x43. It does not block.
func AddOnCode[S interface {
	~uint32
	error
}](err error) uint32 {
	if err == nil {
		return 0
	}
	var s S
	if errors.As(err, &s) {
		return uint32(s)
	}
	return uint32(Code(err))
}

// StatusText formats an add-on status value v whose NetX macro name is name:
// "NAME (0xNN)", or "status 0xNN" when name is "" (a value NetX does not
// define). digits is the hex width the add-on's header uses (2, or 3 for
// SNTP's 0x2xx range).
func StatusText(name string, v uint32, digits int) string {
	if name != "" {
		return fmt.Sprintf("%s (0x%0*X)", name, digits, v)
	}
	return fmt.Sprintf("status 0x%0*X", digits, v)
}
