package nx

import "fmt"

// Status is a NetX Duo service return value (NX_SUCCESS, NX_NO_PACKET, …).
// It implements error with the NetX name and hex value, e.g.
// "nx: NX_NO_PACKET (0x01)". Success is reported as a nil error, never as
// Status(0); the constant Success exists so ported tables can name it.
//
// Status is a value type: compare with errors.Is, or extract with errors.As.
type Status uint32

// Error returns "nx: NAME (0xNN)".
func (s Status) Error() string {
	return "nx: " + s.String()
}

// String returns "NAME (0xNN)", or "status 0xNN" for a value NetX does not define.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return fmt.Sprintf("%s (0x%02X)", name, uint32(s))
	}
	return fmt.Sprintf("status 0x%02X", uint32(s))
}

// Name returns the NetX macro name ("NX_NO_PACKET"), or "" when unknown.
func (s Status) Name() string { return statusNames[s] }

// Code returns the status of err as NetX would report it: NX_SUCCESS for a nil
// error, the wrapped Status when there is one, and NX_NOT_SUCCESSFUL for any
// other error.
func Code(err error) Status {
	if err == nil {
		return Success
	}
	var s Status
	if asStatus(err, &s) {
		return s
	}
	return ErrNotSuccessful
}

// asStatus is errors.As without importing errors into the hot path's callers.
func asStatus(err error, out *Status) bool {
	for err != nil {
		if s, ok := err.(Status); ok {
			*out = s
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if asStatus(e, out) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
