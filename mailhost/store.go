package mailhost

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/simboard/simboard/nx"
)

// ErrUnknownMailbox is returned (wrapped) by Store.Deliver when a recipient
// resolves to no mailbox and the host has no catch-all mailbox. SMTP answers
// such a RCPT with 550 5.1.1.
var ErrUnknownMailbox = errors.New("mailhost: no such mailbox")

// ErrMaildropLocked is returned (wrapped) when a POP3 session tries to open
// a maildrop that another session holds (RFC 1939 exclusive-access lock).
var ErrMaildropLocked = errors.New("mailhost: maildrop locked")

// Message is one message in a maildrop.
type Message struct {
	// UID is the message's unique id as UIDL reports it: stable for the
	// message's life, never reused by the same Store (RFC 1939 §7).
	UID string
	// Data is the message exactly as received: after SMTP DATA decoding
	// (dot-unstuffing, terminator removed), nothing normalised.
	Data []byte
	// Received is the delivery time on the host's clock.
	Received time.Time
}

// Size is the message size in octets, as STAT, LIST and RETR report it.
func (m Message) Size() int { return len(m.Data) }

// Envelope records one accepted delivery: what the SMTP client said, who it
// authenticated as, and the exact bytes. Deliveries through Store.Deliver
// are recorded too, with Proto "api".
type Envelope struct {
	Proto     string    // "smtp" or "api"
	Remote    string    // client address (SMTP), "" for api
	Helo      string    // EHLO/HELO argument
	From      string    // MAIL FROM reverse-path, "" for the null sender <>
	Rcpts     []string  // RCPT TO addresses, in order, as the client sent them
	Mailboxes []string  // users that received a copy (duplicates removed)
	AuthUser  string    // authenticated user, "" when the client did not AUTH
	AuthMech  string    // SASL mechanism used, "" when none
	TLS       bool      // the message travelled over TLS (STARTTLS or implicit)
	UTF8      bool      // MAIL FROM carried SMTPUTF8
	Body      string    // MAIL FROM BODY= value ("", "7BIT", "8BITMIME")
	Data      []byte    // the message exactly as stored
	Time      time.Time // delivery time on the host's clock
}

// Store is the host's in-memory maildrop: one mailbox per user, plus the log
// of accepted envelopes. All methods are safe for concurrent use; returned
// slices and byte slices are copies the caller owns.
//
// Addresses resolve to users in this order: the whole address equals a user
// name (case-insensitive), else the local part before the last '@' equals a
// user name, else the catch-all mailbox when one is configured. Domains are
// not checked: the host accepts mail for any domain.
type Store struct {
	clock    nx.Clock
	catchAll string
	prefix   string

	mu       sync.Mutex
	seq      uint64
	boxes    map[string]*mailbox // key: lower-cased user name
	received []Envelope
}

type mailbox struct {
	name   string
	msgs   []*Message
	locked bool
}

// newStore returns an empty store; its UID prefix is 4 bytes from r.
func newStore(users map[string]string, catchAll string, clk nx.Clock, r io.Reader) *Store {
	var b [4]byte
	_, _ = io.ReadFull(r, b[:]) // crypto/rand or a seeded stream: never fails
	s := &Store{
		clock:    clk,
		catchAll: strings.ToLower(catchAll),
		prefix:   hex.EncodeToString(b[:]),
		boxes:    make(map[string]*mailbox),
	}
	for u := range users {
		s.boxes[strings.ToLower(u)] = &mailbox{name: u}
	}
	if catchAll != "" && s.boxes[s.catchAll] == nil {
		s.boxes[s.catchAll] = &mailbox{name: catchAll}
	}
	return s
}

// resolve maps an address to a mailbox key, "" when none.
func (s *Store) resolve(addr string) string {
	a := strings.ToLower(strings.TrimSpace(addr))
	a = strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
	if _, ok := s.boxes[a]; ok && a != "" {
		return a
	}
	if i := strings.LastIndexByte(a, '@'); i > 0 {
		if _, ok := s.boxes[a[:i]]; ok {
			return a[:i]
		}
	}
	return s.catchAll
}

// Resolve reports which user's mailbox mail for addr goes to, and false when
// addr has no mailbox (SMTP would reject it with 550). It does not block.
func (s *Store) Resolve(addr string) (user string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.resolve(addr)
	if k == "" {
		return "", false
	}
	return s.boxes[k].name, true
}

// Deliver puts a copy of body into the mailbox of every recipient (one copy
// per mailbox even when several addresses resolve to it) and records an
// Envelope with Proto "api". It fails without delivering anything when a
// recipient has no mailbox (ErrUnknownMailbox) or rcpts is empty. The store
// keeps its own copy of body.
func (s *Store) Deliver(from string, rcpts []string, body []byte) error {
	return s.deliver(Envelope{Proto: "api", From: from, Rcpts: rcpts, Data: append([]byte(nil), body...)})
}

// deliver stores env; the store takes ownership of env.Data.
func (s *Store) deliver(env Envelope) error {
	if len(env.Rcpts) == 0 {
		return errors.New("mailhost: deliver: no recipients")
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	seen := make(map[string]bool)
	for _, r := range env.Rcpts {
		k := s.resolve(r)
		if k == "" {
			return fmt.Errorf("mailhost: deliver to %q: %w", r, ErrUnknownMailbox)
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	data := env.Data
	env.Rcpts = append([]string(nil), env.Rcpts...)
	env.Time = now
	env.Mailboxes = nil
	for _, k := range keys {
		s.seq++
		b := s.boxes[k]
		b.msgs = append(b.msgs, &Message{
			UID:      s.prefix + "." + strconv.FormatUint(s.seq, 10),
			Data:     data, // shared, never mutated
			Received: now,
		})
		env.Mailboxes = append(env.Mailboxes, b.name)
	}
	s.received = append(s.received, env)
	return nil
}

// Messages returns copies of the messages in user's mailbox, oldest first,
// or nil when user has none. It does not block (beyond the store's mutex).
func (s *Store) Messages(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boxes[strings.ToLower(user)]
	if b == nil {
		return nil
	}
	out := make([]Message, len(b.msgs))
	for i, m := range b.msgs {
		out[i] = Message{UID: m.UID, Data: append([]byte(nil), m.Data...), Received: m.Received}
	}
	return out
}

// Received returns copies of every accepted envelope, oldest first.
func (s *Store) Received() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, len(s.received))
	for i, e := range s.received {
		e.Rcpts = append([]string(nil), e.Rcpts...)
		e.Mailboxes = append([]string(nil), e.Mailboxes...)
		e.Data = append([]byte(nil), e.Data...)
		out[i] = e
	}
	return out
}

// Reset removes every message from every mailbox and forgets every
// envelope; mailboxes and UIDs already handed out stay unique. A POP3
// session in progress keeps its snapshot, and its deletions become no-ops.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.boxes {
		clear(b.msgs)
		b.msgs = nil
	}
	clear(s.received)
	s.received = nil
}

// lock takes the exclusive POP3 lock on user's maildrop and returns a
// snapshot of its messages (the POP3 session's fixed numbering).
func (s *Store) lock(user string) ([]*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boxes[strings.ToLower(user)]
	if b == nil {
		return nil, fmt.Errorf("mailhost: maildrop %q: %w", user, ErrUnknownMailbox)
	}
	if b.locked {
		return nil, fmt.Errorf("mailhost: maildrop %q: %w", user, ErrMaildropLocked)
	}
	b.locked = true
	return append([]*Message(nil), b.msgs...), nil
}

// unlock releases the POP3 lock, first removing the messages whose UIDs are
// in del (the UPDATE state). It returns how many messages remain.
func (s *Store) unlock(user string, del map[string]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boxes[strings.ToLower(user)]
	if b == nil {
		return 0
	}
	if len(del) > 0 {
		kept := b.msgs[:0]
		for _, m := range b.msgs {
			if !del[m.UID] {
				kept = append(kept, m)
			}
		}
		clear(b.msgs[len(kept):])
		b.msgs = kept
	}
	b.locked = false
	return len(b.msgs)
}
