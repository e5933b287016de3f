package smtpc

import (
	"bytes"
	"encoding/hex"
	"io"
	"mime"
	"strings"
	"time"
)

// Priority mirrors the NX_SMTP_MAIL_PRIORITY_* values of nx_smtp_mail_send.
// NetX stores the priority but never emits it; this client writes it as
// X-Priority and Importance headers (except in ProfileNetX). The zero value
// and any other value mean PriorityNormal, as in NetX.
type Priority uint

// Mail priorities (nxd_smtp_client.h).
const (
	PriorityLow    Priority = 1 // NX_SMTP_MAIL_PRIORITY_LOW: "X-Priority: 5 (Lowest)", "Importance: low"
	PriorityNormal Priority = 2 // NX_SMTP_MAIL_PRIORITY_NORMAL: "X-Priority: 3 (Normal)", "Importance: normal"
	PriorityHigh   Priority = 4 // NX_SMTP_MAIL_PRIORITY_HIGH: "X-Priority: 1 (Highest)", "Importance: high"
)

func (p Priority) headers() (xPriority, importance string) {
	switch p {
	case PriorityLow:
		return "5 (Lowest)", "low"
	case PriorityHigh:
		return "1 (Highest)", "high"
	}
	return "3 (Normal)", "normal"
}

// defaultContentType is NetX's fixed content type (folded as NetX writes it).
const defaultContentType = "text/plain;\r\n  charset=\"utf-8\""

// headerSpec is what buildHeader needs.
type headerSpec struct {
	from        string
	to, cc      []string
	subject     string
	date        time.Time
	messageID   string // without angle brackets
	priority    Priority
	contentType string // "" = NetX's text/plain; charset="utf-8"
	netx        bool   // NetX's exact layout (reference §4.8)
}

// buildHeader appends the message header and the empty line that ends it.
//
// ProfileNetX writes NetX's bytes exactly:
//
//	To: <recipient>\r\nFrom: <from>\r\nSubject: <subject>\r\nMIME-Version: 1.0\r\n
//	Content-Type: text/plain;\r\n  charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n
//
// The default profile keeps that order and adds Cc (never Bcc), Date,
// Message-ID, X-Priority and Importance; a non-ASCII subject becomes RFC 2047
// encoded words (mime.QEncoding) and long To, Cc and Subject lines are folded
// at spaces near 78 octets. A header line that cannot be folded under 998
// octets is an ErrInvalidParam error.
func buildHeader(dst []byte, h headerSpec) ([]byte, error) {
	if h.netx {
		dst = appendField(dst, "To", strings.Join(h.to, ", "), false)
		dst = appendField(dst, "From", h.from, false)
		dst = appendField(dst, "Subject", h.subject, false)
		dst = append(dst, "MIME-Version: 1.0\r\nContent-Type: "+defaultContentType+"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"...)
		return dst, nil // NetX checks no line length (its limit is 512 octets per field, in the session)
	}
	dst = appendField(dst, "To", strings.Join(h.to, ", "), true)
	if len(h.cc) > 0 {
		dst = appendField(dst, "Cc", strings.Join(h.cc, ", "), true)
	}
	dst = appendField(dst, "From", h.from, true)
	subject := h.subject
	if !isASCII(subject) {
		subject = mime.QEncoding.Encode("utf-8", subject)
	}
	dst = appendField(dst, "Subject", subject, true)
	dst = append(dst, "Date: "...)
	dst = h.date.AppendFormat(dst, time.RFC1123Z)
	dst = append(dst, "\r\nMessage-ID: <"...)
	dst = append(dst, h.messageID...)
	dst = append(dst, ">\r\n"...)
	xp, imp := h.priority.headers()
	dst = append(dst, "X-Priority: "+xp+"\r\nImportance: "+imp+"\r\n"...)
	ct := h.contentType
	if ct == "" {
		ct = defaultContentType
	}
	dst = append(dst, "MIME-Version: 1.0\r\nContent-Type: "+ct+"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"...)
	return dst, checkHeaderLines(dst)
}

// appendField appends "Name: value\r\n", folding at spaces when fold is set.
func appendField(dst []byte, name, value string, fold bool) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':')
	lineLen := len(name) + 1
	if !fold {
		dst = append(dst, ' ')
		dst = append(dst, value...)
		return append(dst, '\r', '\n')
	}
	words := strings.Split(value, " ")
	for i, w := range words {
		if i > 0 && lineLen+1+len(w) > 78 && lineLen > len(name)+1 {
			dst = append(dst, '\r', '\n')
			lineLen = 0
		}
		dst = append(dst, ' ')
		dst = append(dst, w...)
		lineLen += 1 + len(w)
	}
	return append(dst, '\r', '\n')
}

// checkHeaderLines rejects a header line longer than 998 octets.
func checkHeaderLines(h []byte) error {
	for len(h) > 0 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			i = len(h)
		}
		if i-1 > maxLine {
			return errorf(ErrInvalidParam, "smtpc: header line longer than 998 octets")
		}
		h = h[min(i+1, len(h)):]
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// newMessageID returns "<24 hex digits>.<date>@<domain of from>" without
// brackets, the hex digits read from r (Options.Rand, or crypto/rand) and
// the date in UTC from now (the Date header's time).
func newMessageID(r io.Reader, from string, now time.Time) (string, error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", errorf(ErrInvalidParam, "smtpc: message id: reading Options.Rand: %w", err)
	}
	domain := from[strings.LastIndexByte(from, '@')+1:]
	return hex.EncodeToString(b[:]) + "." + now.UTC().Format("20060102150405") + "@" + domain, nil
}
