package correlate_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// unknownLengths is a store that cannot say which block lengths it holds: every length is looked up.
type unknownLengths struct{ store.Objects }

func (unknownLengths) ObservableBlockLengths(context.Context) (store.BlockLengths, error) {
	return store.BlockLengths{}, nil
}

// fewLengths is a store whose summary names only the given lengths, ignoring those it holds.
type fewLengths struct {
	store.Objects
	v4 []int
}

func (f fewLengths) ObservableBlockLengths(context.Context) (store.BlockLengths, error) {
	return store.BlockLengths{Known: true, IPv4: f.v4}, nil
}

// asBeforeBlockLengths puts the database at path in the state in which migration 0005 leaves a
// database written before it: the summary of block lengths empty and not complete.
func asBeforeBlockLengths(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM observable_block_lengths`, `DELETE FROM observable_block_lengths_complete`} {
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
	check := func(t *testing.T, st store.Objects) {
		t.Helper()
		res, err := correlate.Check(t.Context(), st, in, correlate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(res.Matches); !slices.Equal(got, want) {
			t.Errorf("matches:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	t.Run("summary", func(t *testing.T) {
		st := policyStore(t, objs...)
		got, err := st.ObservableBlockLengths(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Known || !slices.Equal(got.IPv4, []int{0, 13, 24}) || !slices.Equal(got.IPv6, []int{33}) {
			t.Errorf("block lengths %+v; want known, IPv4 [0 13 24], IPv6 [33]", got)
		}
		check(t, st)
	})
	t.Run("no summary", func(t *testing.T) {
		check(t, unknownLengths{policyStore(t, objs...)})
	})
	t.Run("written before the summary", func(t *testing.T) {
		st := policyStore(t, objs...)
		asBeforeBlockLengths(t, st.Path())
		// Not back-filled yet: the store cannot say, and every length is looked up.
		if got, err := st.ObservableBlockLengths(t.Context()); err != nil || got.Known {
			t.Fatalf("block lengths %+v, %v; want unknown", got, err)
		}
		check(t, st)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		// Opening it again back-fills the summary.
		st, err := sqlite.Open(t.Context(), st.Path(), sqlite.WithLabeler(policy.Labeler{}))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if got, err := st.ObservableBlockLengths(t.Context()); err != nil || !got.Known || !slices.Equal(got.IPv4, []int{0, 13, 24}) {
			t.Fatalf("block lengths after the back-fill %+v, %v; want known, IPv4 [0 13 24]", got, err)
		}
		check(t, st)
	})
	// The summary decides what is looked up: a length it leaves out is not found. (So the test
	// above would fail if the lookups ignored it.)
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
}
