package correlate_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// unknownLengths is a store that can say neither which blocks nor which block lengths it holds:
// every length is looked up.
type unknownLengths struct{ store.Objects }

func (unknownLengths) ObservableBlockLengths(context.Context) (store.BlockLengths, error) {
	return store.BlockLengths{}, nil
}

func (unknownLengths) ObservableBlocks(context.Context, int) (store.Blocks, error) {
	return store.Blocks{}, nil
}

// unknownBlocks is a store that cannot list its blocks: every block of a stored length is looked up.
type unknownBlocks struct{ store.Objects }

func (unknownBlocks) ObservableBlocks(context.Context, int) (store.Blocks, error) {
	return store.Blocks{}, nil
}

// fewLengths is a store whose summary names only the given lengths, ignoring those it holds, and
// that cannot list its blocks.
type fewLengths struct {
	store.Objects
	v4 []int
}

func (f fewLengths) ObservableBlockLengths(context.Context) (store.BlockLengths, error) {
	return store.BlockLengths{Known: true, IPv4: f.v4}, nil
}

func (fewLengths) ObservableBlocks(context.Context, int) (store.Blocks, error) {
	return store.Blocks{}, nil
}

// fewBlocks is a store that lists only the given blocks, ignoring those it holds.
type fewBlocks struct {
	store.Objects
	blocks []stix.Observable
}

func (f fewBlocks) ObservableBlocks(context.Context, int) (store.Blocks, error) {
	return store.Blocks{Known: true, Blocks: f.blocks}, nil
}

// countingStore counts the observables that LookupObservables is asked.
type countingStore struct {
	store.Objects
	asked *int
}

func (c countingStore) LookupObservables(ctx context.Context, obs []stix.Observable, scope *store.ReadScope, limit int) ([][]store.Version, error) {
	*c.asked += len(obs)
	return c.Objects.LookupObservables(ctx, obs, scope, limit)
}

// asBeforeBlocks puts the database at path in the state in which migrations 0005 and 0006 leave a
// database written before them: the summary of block lengths and the table of blocks empty and
// not complete.
func asBeforeBlocks(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM observable_block_lengths`, `DELETE FROM observable_block_lengths_complete`,
		`DELETE FROM observable_blocks`, `DELETE FROM observable_blocks_complete`} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestCheckBlockLengths: stored blocks of unusual lengths (/0, /13, /33) contain the report's
// addresses, and are found through the store's summary of block lengths, without a summary, and in
// a store written before the summary existed (back-filled when it is opened).
func TestCheckBlockLengths(t *testing.T) {
	objs := []string{
		indicator(1, orgA, "[ipv4-addr:value = '198.48.0.0/13']", stix.TLP2Green),
		indicator(2, orgA, "[ipv6-addr:value = '2001:db8:8000::/33'] OR [ipv4-addr:value = '0.0.0.0/0']", stix.TLP2Green),
		indicator(3, orgB, "[ipv4-addr:value = '203.0.113.0/24']", stix.TLP2Green),
		sco("ipv4-addr", "4", "198.51.100.7", stix.TLP2Clear),
	}
	in := &correlate.Input{}
	for _, v := range []string{"198.51.100.7", "2001:db8:8000::1", "2001:db8::1", "198.56.0.1"} {
		ob, err := correlate.ParseValue(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Add(ob, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`198.51.100.7 "": 1 [04] in []`,
		`198.48.0.0/13 "198.51.100.7": 1 [01] in []`,
		`0.0.0.0/0 "198.51.100.7": 1 [02] in []`,
		`2001:db8:8000::/33 "2001:db8:8000::1": 1 [02] in []`,
		`0.0.0.0/0 "198.56.0.1": 1 [02] in []`, // outside the /13
	}
	// check runs the check through st and compares the matches; it returns how many observables
	// the index was asked.
	check := func(t *testing.T, st store.Objects) int {
		t.Helper()
		asked := 0
		res, err := correlate.Check(t.Context(), countingStore{st, &asked}, in, correlate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(res.Matches); !slices.Equal(got, want) {
			t.Errorf("matches:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return asked
	}
	// What the index is asked: the 4 values, and of the blocks containing them, with the table
	// those stored (0.0.0.0/0, 198.48.0.0/13, 2001:db8:8000::/33); with the summary alone those
	// of the stored lengths (/0 once, /13 and /24 of each IPv4 address, /33 of each IPv6 one).
	const withTable, withSummary = 4 + 3, 4 + 1 + 2 + 2 + 2
	t.Run("table", func(t *testing.T) {
		st := policyStore(t, objs...)
		got, err := st.ObservableBlockLengths(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Known || !slices.Equal(got.IPv4, []int{0, 13, 24}) || !slices.Equal(got.IPv6, []int{33}) {
			t.Errorf("block lengths %+v; want known, IPv4 [0 13 24], IPv6 [33]", got)
		}
		if n := check(t, st); n != withTable {
			t.Errorf("%d observables asked of the index; want %d", n, withTable)
		}
	})
	t.Run("summary", func(t *testing.T) {
		if n := check(t, unknownBlocks{policyStore(t, objs...)}); n != withSummary {
			t.Errorf("%d observables asked of the index; want %d", n, withSummary)
		}
	})
	t.Run("no summary", func(t *testing.T) {
		check(t, unknownLengths{policyStore(t, objs...)})
	})
	// A store that holds more blocks than there are blocks to look up is not read: the summary
	// decides.
	t.Run("more blocks than lookups", func(t *testing.T) {
		st := policyStore(t, objs...)
		var many []string
		for i := range 20 {
			many = append(many, indicator(100+i, orgA, fmt.Sprintf("[ipv4-addr:value = '203.0.%d.0/24']", 114+i), stix.TLP2Green))
		}
		importObjects(t, st, many...)
		if n := check(t, st); n != withSummary {
			t.Errorf("%d observables asked of the index; want %d", n, withSummary)
		}
	})
	t.Run("written before the summary and the table", func(t *testing.T) {
		st := policyStore(t, objs...)
		asBeforeBlocks(t, st.Path())
		// Not back-filled yet: the store cannot say, and every length is looked up.
		if got, err := st.ObservableBlockLengths(t.Context()); err != nil || got.Known {
			t.Fatalf("block lengths %+v, %v; want unknown", got, err)
		}
		if got, err := st.ObservableBlocks(t.Context(), 100); err != nil || got.Known {
			t.Fatalf("blocks %+v, %v; want unknown", got, err)
		}
		check(t, st)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		// Opening it again back-fills both.
		st, err := sqlite.Open(t.Context(), st.Path(), sqlite.WithLabeler(policy.Labeler{}))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if got, err := st.ObservableBlockLengths(t.Context()); err != nil || !got.Known || !slices.Equal(got.IPv4, []int{0, 13, 24}) {
			t.Fatalf("block lengths after the back-fill %+v, %v; want known, IPv4 [0 13 24]", got, err)
		}
		if got, err := st.ObservableBlocks(t.Context(), 100); err != nil || !got.Known || len(got.Blocks) != 4 {
			t.Fatalf("blocks after the back-fill %+v, %v; want the 4 stored", got, err)
		}
		if n := check(t, st); n != withTable {
			t.Errorf("%d observables asked of the index; want %d", n, withTable)
		}
	})
	// The summary decides what is looked up when the table cannot: a length it leaves out is not
	// found. (So the tests above would fail if the lookups ignored it.)
	t.Run("a length left out", func(t *testing.T) {
		st := fewLengths{Objects: policyStore(t, objs...), v4: []int{0, 24}}
		res, err := correlate.Check(t.Context(), st, in, correlate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Matches {
			if m.Value.Value == "198.48.0.0/13" || m.Value.Value == "2001:db8:8000::/33" {
				t.Errorf("%s found through a summary that does not name its length", m.Value.Value)
			}
		}
		if len(res.Matches) != 3 {
			t.Errorf("%d matches; want 3 (the address, and 0.0.0.0/0 twice): %v", len(res.Matches), summary(res.Matches))
		}
	})
	// The table decides what is looked up: a block it leaves out is not found, and a listed block
	// is found only when the index holds it, and only in its canonical text.
	t.Run("a block left out", func(t *testing.T) {
		st := fewBlocks{Objects: policyStore(t, objs...), blocks: []stix.Observable{
			{Kind: stix.ObsIPv4, Value: "0.0.0.0/0"},
			{Kind: stix.ObsIPv4, Value: "198.51.100.0/24"},     // not stored
			{Kind: stix.ObsIPv6, Value: "2001:0db8:8000::/33"}, // not canonical
			{Kind: stix.ObsIPv4, Value: "2001:db8:8000::/33"},  // not of its kind
			{Kind: stix.ObsIPv4, Value: "198.51.100.7/32"},     // an address
			{Kind: stix.ObsDomain, Value: "x.example"},         // not a block
		}}
		asked := 0
		res, err := correlate.Check(t.Context(), countingStore{st, &asked}, in, correlate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			`198.51.100.7 "": 1 [04] in []`,
			`0.0.0.0/0 "198.51.100.7": 1 [02] in []`,
			`0.0.0.0/0 "198.56.0.1": 1 [02] in []`,
		}
		if got := summary(res.Matches); !slices.Equal(got, want) {
			t.Errorf("matches:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if want := 4 + 2; asked != want { // 0.0.0.0/0 and 198.51.100.0/24
			t.Errorf("%d observables asked of the index; want %d", asked, want)
		}
	})
}
