package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
)

// blockTexts returns the blocks as "kind value" texts, sorted; nil when the store cannot list them.
func blockTexts(t *testing.T, s *Store, limit int) []string {
	t.Helper()
	got, err := s.ObservableBlocks(t.Context(), limit)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Known {
		if len(got.Blocks) > 0 {
			t.Errorf("unknown blocks, yet %d listed", len(got.Blocks))
		}
		return nil
	}
	out := []string{}
	for _, b := range got.Blocks {
		out = append(out, b.Kind+" "+b.Value)
	}
	slices.Sort(out)
	return out
}

// TestObservableBlocks: every write adds the blocks it stores, once each, and only blocks; a store
// holding more than the limit asked cannot list them; a database written before the table is
// back-filled when it is opened, with the blocks a lookup can read.
func TestObservableBlocks(t *testing.T) {
	open := func(t *testing.T, path string) *Store {
		t.Helper()
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	path := filepath.Join(t.TempDir(), "renkei.db")
	s := open(t, path)
	if got := blockTexts(t, s, 10); !slices.Equal(got, []string{}) {
		t.Fatalf("a new store: %v; want known and empty", got)
	}
	writeObservables(t, s, 0,
		[]stix.Observable{obs4("10.0.0.0/7"), obs4("198.51.100.7"), {Kind: stix.ObsURL, Value: "https://x.example/a/24"}},
		[]stix.Observable{obs6("2001:db8::/93"), obs6("2001:db8::1"), {Kind: stix.ObsDomain, Value: "x.example"}},
		[]stix.Observable{obs4("198.51.100.0/30"), obs4("10.0.0.0/7")},
		nil)
	want := []string{"ipv4-addr 10.0.0.0/7", "ipv4-addr 198.51.100.0/30", "ipv6-addr 2001:db8::/93"}
	if got := blockTexts(t, s, 10); !slices.Equal(got, want) {
		t.Fatalf("after a write: %v; want %v", got, want)
	}
	writeObservables(t, s, 10, []stix.Observable{obs4("192.0.0.0/2"), obs4("10.0.0.0/7")})
	want = []string{"ipv4-addr 10.0.0.0/7", "ipv4-addr 192.0.0.0/2", "ipv4-addr 198.51.100.0/30", "ipv6-addr 2001:db8::/93"}
	if got := blockTexts(t, s, 10); !slices.Equal(got, want) {
		t.Fatalf("after a second write: %v; want %v", got, want)
	}
	for _, limit := range []int{4, 3, 1, 0} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := blockTexts(t, s, limit)
			if limit >= len(want) && !slices.Equal(got, want) || limit < len(want) && got != nil {
				t.Errorf("%v; want the %d blocks listed only when the limit is at least that", got, len(want))
			}
		})
	}

	for _, tc := range []struct {
		name    string
		queries []string // after emptying the table, as migration 0006 leaves a database written before it
		want    []string
	}{
		{"back-filled", nil, want},
		// Of a blob that cannot be read to its end, the blocks before the damage (the only ones a
		// lookup can read).
		{"a malformed blob", []string{`UPDATE object_versions SET observables = observables || X'09' || CAST('ipv4-addr' AS BLOB) || X'50' || CAST('/' AS BLOB)
			WHERE vid = (SELECT max(vid) FROM object_versions)`}, want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			execOn(t, path, append([]string{`DELETE FROM observable_blocks`, `DELETE FROM observable_blocks_complete`}, tc.queries...)...)
			s = open(t, path)
			if got := blockTexts(t, s, 10); !slices.Equal(got, tc.want) {
				t.Errorf("%v; want %v", got, tc.want)
			}
			// The summary of lengths was complete: it is left as it was.
			if got := blockLengthsOf(t, s); !sameLengths(got, true, []int{2, 7, 30}, []int{93}) {
				t.Errorf("block lengths %+v; want them untouched", got)
			}
		})
	}
}

// TestBlocksMigration: migration 0006 marks the table complete in a database without observables,
// and leaves it to the back-fill in one with observables.
func TestBlocksMigration(t *testing.T) {
	testCompleteMarkMigration(t, 6, "blocks", "observable_blocks", obs4("198.51.100.0/24"))
}

// TestCheckBlocks: Check finds a block the table lacks, a block no form carries, a length the
// summary lacks, and a table or summary not marked complete; an intact store has no problem.
func TestCheckBlocks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage []string
		want   []string // one part of each problem expected; none for an intact store
	}{
		{"intact", nil, nil},
		{"a block missing", []string{`DELETE FROM observable_blocks WHERE value = '198.51.100.0/30'`},
			[]string{"carries ipv4-addr 198.51.100.0/30, which the table lacks"}},
		{"a block nobody carries", []string{`INSERT INTO observable_blocks VALUES ('ipv4-addr', '203.0.113.0/24')`},
			[]string{"observable_blocks: ipv4-addr 203.0.113.0/24: no stored form carries it"}},
		{"not a block", []string{`INSERT INTO observable_blocks VALUES ('domain-name', 'x.example')`},
			[]string{"observable_blocks: domain-name x.example: not a CIDR block"}},
		{"a length missing", []string{`DELETE FROM observable_block_lengths WHERE kind = 'ipv6-addr' AND bits = 93`},
			[]string{"carries ipv6-addr 2001:db8::/93, of a length the summary lacks"}},
		// A length nobody carries costs lookups that find nothing: not a problem.
		{"an extra length", []string{`INSERT INTO observable_block_lengths VALUES ('ipv4-addr', 12)`}, nil},
		{"a bad length", []string{`INSERT INTO observable_block_lengths VALUES ('ipv4-addr', 200)`},
			[]string{"observable_block_lengths: kind \"ipv4-addr\", length 200: not the length of a CIDR block"}},
		{"not complete", []string{`DELETE FROM observable_blocks_complete`, `DELETE FROM observable_block_lengths_complete`},
			[]string{"observable_block_lengths: not marked complete", "observable_blocks: not marked complete"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "renkei.db")
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			writeObservables(t, s, 0,
				[]stix.Observable{obs4("10.0.0.0/7"), obs4("198.51.100.7")},
				[]stix.Observable{obs6("2001:db8::/93"), obs4("198.51.100.0/30")},
				[]stix.Observable{obs4("10.0.0.0/7")})
			execOn(t, path, tc.damage...)
			rep, err := s.Check(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != len(tc.want) {
				t.Fatalf("problems %q; want %d, containing %q", rep.Problems, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(rep.Problems[i], w) {
					t.Errorf("problem %q; want one containing %q", rep.Problems[i], w)
				}
			}
		})
	}
}
