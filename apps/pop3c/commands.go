package pop3c

import (
	"context"
	"fmt"

	"github.com/simboard/simboard/nx"
)

// checkIndex applies NetX's index checks. upper asks for the check against
// the last STAT.
func (c *Client) checkIndex(verb string, item int, upper bool) error {
	if item <= 0 {
		return errf("%s %d: mail items are numbered from 1: %w", verb, item, ErrClientInvalidIndex)
	}
	if !upper {
		return nil
	}
	if c.netx && item > c.statCount {
		return errf("%s %d: beyond the %d items of the last STAT: %w", verb, item, c.statCount, ErrInvalidMailItem)
	}
	if !c.netx && c.statKnown && item > c.statCount {
		return errf("%s %d: beyond the %d items of the last STAT: %w", verb, item, c.statCount, ErrInvalidMailItem)
	}
	return nil
}

// MailItemsGet mirrors nx_pop3_client_mail_items_get: it sends STAT and
// returns the number of messages and their total size in octets. The counts
// are cached for the index checks of LIST and RETR. It blocks for the send
// and reply waits. Statuses: ErrServerErrorStatus (*ReplyError for -ERR,
// *ProtocolError for a reply without two numbers), transport statuses
// (nx.ErrNoPacket on timeout, nx.ErrNotConnected), ErrClientInvalidState while
// a message is being read.
func (c *Client) MailItemsGet(ctx context.Context) (count int, totalSize int64, err error) {
	if c == nil {
		return 0, 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("STAT"); err != nil {
		return 0, 0, err
	}
	c.statKnown, c.statCount, c.statSize = false, 0, 0
	text, err := c.command(ctx, "STAT", nil)
	if err != nil {
		return 0, 0, err
	}
	n, size, ok := parseStat(text)
	if !ok {
		return 0, 0, protoErr("STAT", text, ErrServerErrorStatus, "malformed drop listing")
	}
	c.statKnown, c.statCount, c.statSize = true, n, size
	return n, size, nil
}

// MailItemSizeGet mirrors nx_pop3_client_mail_item_size_get: it sends
// LIST item and returns the message size in octets. Item 0 is
// ErrClientInvalidIndex and an item beyond the last STAT count
// ErrInvalidMailItem (in ProfileNetX also when no STAT was sent), both before
// any traffic. A reply whose number differs from item, or is malformed, is a
// *ProtocolError (ErrServerErrorStatus). Blocks for the send and reply waits.
func (c *Client) MailItemSizeGet(ctx context.Context, item int) (int64, error) {
	if c == nil {
		return 0, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("LIST"); err != nil {
		return 0, err
	}
	if err := c.checkIndex("LIST", item, true); err != nil {
		return 0, err
	}
	text, err := c.command(ctx, "LIST", []int{item})
	if err != nil {
		return 0, err
	}
	n, size, ok := parseScanListing(text)
	if !ok {
		return 0, protoErr("LIST", text, ErrServerErrorStatus, "malformed scan listing")
	}
	if n != item {
		return 0, protoErr("LIST", text, ErrServerErrorStatus, fmt.Sprintf("listing is for item %d, not %d", n, item))
	}
	return size, nil
}

// MailItem is one line of a LIST listing.
type MailItem struct {
	Index int
	Size  int64
}

// List sends LIST without an argument and returns the scan listing of every
// message (not in NetX, which only lists one item). Malformed lines give a
// *ProtocolError (ErrServerErrorStatus) after the listing has been read; the
// session stays usable. Blocks for the send and reply waits. Not available
// in ProfileNetX (nx.ErrNotSupported).
func (c *Client) List(ctx context.Context) ([]MailItem, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("LIST"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("LIST: listing every item is not in NetX: %w", nx.ErrNotSupported)
	}
	if _, err := c.command(ctx, "LIST", nil); err != nil {
		return nil, err
	}
	items := newCollector[MailItem](c.listHint(), c.opts.MaxListEntries)
	err := c.readListing(ctx, "LIST", func(line []byte) error {
		n, size, ok := parseScanListing(line)
		if !ok || n == 0 {
			return protoErr("LIST", line, ErrServerErrorStatus, "malformed scan listing")
		}
		return items.add("LIST", MailItem{Index: n, Size: size})
	})
	return items.result(), err
}

// UniqueID is one line of a UIDL listing (RFC 1939 §7).
type UniqueID struct {
	Index int
	UID   string
}

// UIDL sends UIDL and returns the unique-id listing of every message. Not in
// NetX (nx.ErrNotSupported in ProfileNetX). Malformed lines give a
// *ProtocolError (ErrServerErrorStatus) once the listing is read; -ERR a
// *ReplyError. Blocks for the send and reply waits.
func (c *Client) UIDL(ctx context.Context) ([]UniqueID, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("UIDL"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("UIDL: not in NetX: %w", nx.ErrNotSupported)
	}
	if _, err := c.command(ctx, "UIDL", nil); err != nil {
		return nil, err
	}
	ids := newCollector[UniqueID](c.listHint(), c.opts.MaxListEntries)
	err := c.readListing(ctx, "UIDL", func(line []byte) error {
		if ids.full() {
			return ids.add("UIDL", UniqueID{}) // counted, not parsed: nothing is kept past the cap
		}
		n, uid, ok := parseUIDListing(line)
		if !ok {
			return protoErr("UIDL", line, ErrServerErrorStatus, "malformed unique-id listing")
		}
		return ids.add("UIDL", UniqueID{Index: n, UID: uid})
	})
	return ids.result(), err
}

// UIDLItem sends UIDL item and returns that message's unique id. Index checks
// as MailItemSizeGet. Not in NetX (nx.ErrNotSupported in ProfileNetX).
func (c *Client) UIDLItem(ctx context.Context, item int) (string, error) {
	if c == nil {
		return "", nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("UIDL"); err != nil {
		return "", err
	}
	if c.netx {
		return "", errf("UIDL: not in NetX: %w", nx.ErrNotSupported)
	}
	if err := c.checkIndex("UIDL", item, true); err != nil {
		return "", err
	}
	text, err := c.command(ctx, "UIDL", []int{item})
	if err != nil {
		return "", err
	}
	n, uid, ok := parseUIDListing(text)
	if !ok {
		return "", protoErr("UIDL", text, ErrServerErrorStatus, "malformed unique-id listing")
	}
	if n != item {
		return "", protoErr("UIDL", text, ErrServerErrorStatus, fmt.Sprintf("listing is for item %d, not %d", n, item))
	}
	return uid, nil
}

// Capa sends CAPA (RFC 2449) and returns the server's capabilities, also
// cached for Capabilities. -ERR is a *ReplyError. Not in NetX
// (nx.ErrNotSupported in ProfileNetX). Blocks for the send and reply waits.
func (c *Client) Capa(ctx context.Context) (Capabilities, error) {
	if c == nil {
		return nil, nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("CAPA"); err != nil {
		return nil, err
	}
	if c.netx {
		return nil, errf("CAPA: not in NetX: %w", nx.ErrNotSupported)
	}
	caps, err := c.capa(ctx)
	if err != nil {
		return nil, err
	}
	c.caps = caps
	return caps, nil
}

// MailItemDelete mirrors nx_pop3_client_mail_item_delete: it sends DELE
// item. Item 0 is ErrClientInvalidIndex; as in NetX there is no upper bound
// check in ProfileNetX, while the default profile checks against a known
// STAT count (ErrInvalidMailItem). -ERR is a *ReplyError
// (ErrServerErrorStatus). Blocks for the send and reply waits.
func (c *Client) MailItemDelete(ctx context.Context, item int) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("DELE"); err != nil {
		return err
	}
	if err := c.checkIndex("DELE", item, !c.netx); err != nil {
		return err
	}
	_, err := c.command(ctx, "DELE", []int{item})
	return err
}

// Noop sends NOOP (NX_POP3_COMMAND_NOOP, defined but never sent by NetX).
// -ERR is a *ReplyError. Blocks for the send and reply waits.
func (c *Client) Noop(ctx context.Context) error {
	return c.simple(ctx, "NOOP")
}

// Rset sends RSET (NX_POP3_COMMAND_RSET, defined but never sent by NetX):
// the server unmarks every message marked deleted. -ERR is a *ReplyError.
// Blocks for the send and reply waits.
func (c *Client) Rset(ctx context.Context) error {
	return c.simple(ctx, "RSET")
}

func (c *Client) simple(ctx context.Context, verb string) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready(verb); err != nil {
		return err
	}
	_, err := c.command(ctx, verb, nil)
	return err
}

// Quit mirrors nx_pop3_client_quit: it sends QUIT and checks the +OK (the
// server then removes the messages marked deleted). As in NetX the socket
// stays open until Delete; every other call after Quit is
// ErrClientInvalidState. -ERR is a *ReplyError. Blocks for the send and
// reply waits.
func (c *Client) Quit(ctx context.Context) error {
	if c == nil {
		return nx.ErrPtr
	}
	ctx, stop := c.enter(ctx)
	defer c.leave(stop)
	if err := c.ready("QUIT"); err != nil {
		return err
	}
	_, err := c.command(ctx, "QUIT", nil)
	if c.state == stateTransaction {
		c.state = stateQuit
	}
	return err
}

// listHint is the expected number of listing entries: the last STAT's count
// when known, else 0.
func (c *Client) listHint() int {
	if c.statKnown {
		return c.statCount
	}
	return 0
}

// collector gathers listing entries with bounded memory: fixed-size chunks
// while the listing streams in (no repeated re-allocation of one growing
// slice, which costs about five times the final size), one exact slice at
// the end, and at most max entries (negative: no limit).
type collector[T any] struct {
	chunks [][]T
	cur    []T
	n, max int
	over   int // entries past max
}

const collectorChunk = 4096

func newCollector[T any](hint, max int) *collector[T] {
	c := &collector[T]{max: max}
	if hint > 0 && (max < 0 || hint <= max) {
		c.cur = make([]T, 0, hint) // STAT said how many: one allocation
	}
	return c
}

func (c *collector[T]) full() bool { return c.max >= 0 && c.n >= c.max }

// add keeps v, or counts it once max entries are kept; the first entry past
// max gives ErrMailBufferOverflow (readListing reports it after reading the
// listing to its end).
func (c *collector[T]) add(verb string, v T) error {
	if c.full() {
		c.over++
		if c.over == 1 {
			return errf("%s: listing has more than %d entries (Options.MaxListEntries): %w", verb, c.max, ErrMailBufferOverflow)
		}
		return nil
	}
	if len(c.cur) == cap(c.cur) {
		if len(c.cur) > 0 {
			c.chunks = append(c.chunks, c.cur)
		}
		c.cur = make([]T, 0, collectorChunk)
	}
	c.cur = append(c.cur, v)
	c.n++
	return nil
}

// result returns the kept entries in order, nil when there are none.
func (c *collector[T]) result() []T {
	if len(c.chunks) == 0 {
		if len(c.cur) == 0 {
			return nil
		}
		return c.cur
	}
	out := make([]T, 0, c.n)
	for _, ch := range c.chunks {
		out = append(out, ch...)
	}
	return append(out, c.cur...)
}
