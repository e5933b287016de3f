package pop3c

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// uidlListing is a UIDL reply of n entries with short unique ids (the
// worst case for memory per listing byte), cut into 1400-byte segments.
// verb LIST gives a scan listing instead.
func uidlListing(n int, verb ...string) (chunks []string, size int) {
	format := "%d %x\r\n"
	if len(verb) > 0 && verb[0] == "LIST" {
		format = "%d %d\r\n"
	}
	var b strings.Builder
	b.WriteString("+OK\r\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, format, i, i)
	}
	b.WriteString(".\r\n")
	s := b.String()
	for i := 0; i < len(s); i += 1400 {
		chunks = append(chunks, s[i:min(i+1400, len(s))])
	}
	return chunks, len(s)
}

func openListing(t testing.TB, opts Options, verb string, chunks []string, stat ...step) *Client {
	t.Helper()
	opts.Auth = AuthUserPass
	steps := []step{{"CAPA", []string{"-ERR\r\n"}}, {"USER recipient@domain.com", []string{"+OK\r\n"}},
		{"PASS testpwd", []string{"+OK\r\n"}}}
	steps = append(append(steps, stat...), step{verb, chunks}, step{"NOOP", []string{"+OK\r\n"}})
	c, _, err := openFake(t, opts, 1536, greetNoTS, steps...)
	must(t, err, "Create()")
	return c
}

// Issue 9 §2 "memory bounds": a huge UIDL listing costs a few times its size
// (a 30 MB listing used to cost 740 MB: one slice grown 1.25x at a time
// allocates about five times its final size). Measured with
// runtime.MemStats, not time.
func TestListingMemoryBound(t *testing.T) {
	const n = 200000
	chunks, size := uidlListing(n)
	for _, tt := range []struct {
		name  string
		stat  bool
		bound uint64 // allocated bytes per listing byte, at most
	}{
		{"after STAT", true, 5},    // one exact allocation; measured 3.3x (4.1x under -race)
		{"without STAT", false, 8}, // measured 5.1x; the old single slice took 11.4x
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stat []step
			if tt.stat {
				stat = []step{{"STAT", []string{fmt.Sprintf("+OK %d 9999\r\n", n)}}}
			}
			c := openListing(t, Options{MaxListEntries: -1}, "UIDL", chunks, stat...)
			if tt.stat {
				if _, _, err := c.MailItemsGet(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			ids, err := c.UIDL(context.Background())
			runtime.ReadMemStats(&m1)
			must(t, err, "UIDL()")
			if len(ids) != n || ids[n-1].Index != n || ids[n-1].UID != fmt.Sprintf("%x", n) {
				t.Fatalf("UIDL() = %d entries, want %d", len(ids), n)
			}
			alloc := m1.TotalAlloc - m0.TotalAlloc
			t.Logf("UIDL of %d entries: listing %d bytes, allocated %d bytes (%.1fx), %d mallocs", n, size, alloc, float64(alloc)/float64(size), m1.Mallocs-m0.Mallocs)
			if alloc > tt.bound*uint64(size) {
				t.Errorf("UIDL() allocated %d bytes for a %d-byte listing (%.1fx), want at most %dx", alloc, size, float64(alloc)/float64(size), tt.bound)
			}
			must(t, c.Noop(context.Background()), "Noop()")
		})
	}
}

// Past Options.MaxListEntries the listing is read to its end and dropped:
// a clear status, the entries kept, and the session still in step.
func TestListingEntriesCap(t *testing.T) {
	for _, verb := range []string{"UIDL", "LIST"} {
		t.Run(verb, func(t *testing.T) {
			chunks, _ := uidlListing(5000, verb)
			c := openListing(t, Options{MaxListEntries: 1000}, verb, chunks)
			var n int
			var err error
			if verb == "UIDL" {
				var ids []UniqueID
				ids, err = c.UIDL(context.Background())
				n = len(ids)
			} else {
				var items []MailItem
				items, err = c.List(context.Background())
				n = len(items)
			}
			if !errors.Is(err, ErrMailBufferOverflow) || !strings.Contains(err.Error(), "MaxListEntries") || n != 1000 {
				t.Fatalf("%s() of 5000 entries = %d entries, %v; want 1000 and NX_POP3_MAIL_BUFFER_OVERFLOW naming MaxListEntries", verb, n, err)
			}
			must(t, c.Noop(context.Background()), "Noop() after the capped listing")
		})
	}
}

func BenchmarkUIDLListing(b *testing.B) {
	chunks, size := uidlListing(20000)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		b.StopTimer()
		c := openListing(b, Options{MaxListEntries: -1}, "UIDL", chunks)
		b.StartTimer()
		if _, err := c.UIDL(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = c.Delete(context.Background())
		b.StartTimer()
	}
}
