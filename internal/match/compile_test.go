package match_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/store"
)

// scanStore serves Scan from a list of versions; any other method panics.
type scanStore struct {
	store.Objects
	versions []store.Version
	filters  []store.Filter
}

func (s *scanStore) Scan(_ context.Context, f store.Filter) iter.Seq2[store.Version, error] {
	s.filters = append(s.filters, f)
	return func(yield func(store.Version, error) bool) {
		for _, v := range s.versions {
			if !yield(v, nil) {
				return
			}
		}
	}
}

func indicator(n int, extra string) store.Version {
	id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
	raw := `{"type":"indicator","id":"` + id + `","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"` + extra + `}`
	return store.Version{ID: id, Type: "indicator", Raw: []byte(raw), Revoked: strings.Contains(extra, `"revoked":true`),
		Label: store.Label{Cell: byte(n)}, Stored: time.Date(2024, 1, 1, 0, 0, n, 0, time.UTC)}
}

func pat(p string) string { return `,"pattern":"` + strings.ReplaceAll(p, `"`, `\"`) + `"` }

func TestCompile(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	st := &scanStore{versions: []store.Version{
		indicator(1, pat("[ipv4-addr:value = '198.51.100.7']")),
		indicator(2, pat("[ipv4-addr:value = '198.51.100.8']")+`,"revoked":true`),
		indicator(3, pat("[ipv4-addr:value = '198.51.100.9']")+`,"valid_until":"2025-01-01T00:00:00Z"`),
		indicator(4, strings.Replace(pat("[ipv4-addr:value = '198.51.100.10']"), "", "", 1)+`,"valid_from":"2026-01-01T00:00:00Z"`),
		indicator(5, strings.Replace(pat("alert ip 198.51.100.11"), "", "", 1)+`,"pattern_type":"snort"`),
		indicator(6, pat("[file:size > 10]")),                                                         // nothing to index
		indicator(7, pat("[domain-name:value = 'evil.example'] OR [domain-name:value LIKE '%.bad']")), // not every match keyed
		indicator(8, pat("[domain-name:value = 'evil.example'] OR [url:value = 'http://x.example/']")),
		indicator(9, pat("[ipv4-addr:value ISSUBSET '10.9.0.0/16']")+`,"valid_until":"2025-09-01T00:00:00Z"`),
		indicator(10, pat("[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F']")),
		indicator(11, pat("[ipv4-addr:value = ")), // bad pattern
		indicator(12, pat("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')] FOLLOWEDBY [process:name = 'x']")),
	}}
	c, err := match.Compile(t.Context(), st, match.CompileOptions{At: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.filters) != 1 || !slices.Equal(st.filters[0].Types, []string{"indicator"}) || st.filters[0].Scope != nil {
		t.Errorf("scan filters %+v, want one unscoped scan of indicators", st.filters)
	}
	want := match.CompileStats{Read: 12, Active: 5, Revoked: 1, Expired: 1, NotYetValid: 1, NotSTIX: 1, Invalid: 1, NotIndexable: 2, Entries: 7}
	if c.Stats != want {
		t.Errorf("stats %+v\nwant  %+v", c.Stats, want)
	}
	var ids []string
	for r := range uint32(c.Indicators.Len()) {
		id := c.Indicators.ID(r)
		ids = append(ids, id[len(id)-2:])
		// indicator(n) gives version n the label cell n.
		n, err := strconv.Atoi(id[len(id)-12:])
		if err != nil {
			t.Fatal(err)
		}
		if v := c.Indicators.Version(r); v.ID != id || v.Type != "indicator" || int(v.Label.Cell) != n {
			t.Errorf("%s: version %+v", id, v)
		}
	}
	if want := []string{"01", "08", "09", "10", "12"}; !slices.Equal(ids, want) {
		t.Errorf("active %v, want %v", ids, want)
	}
	if want := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC); !c.NextChange.Equal(want) {
		t.Errorf("NextChange %v, want %v", c.NextChange, want)
	}
	if want := time.Date(2024, 1, 1, 0, 0, 12, 0, time.UTC); !c.LastStored.Equal(want) {
		t.Errorf("LastStored %v, want %v", c.LastStored, want)
	}

	// Each log line against the compiled set: index hit, then full evaluation.
	idOf := func(refs []uint32) []string {
		var out []string
		for _, r := range refs {
			id := c.Indicators.ID(r)
			out = append(out, id[len(id)-2:])
		}
		return out
	}
	tests := []struct {
		line string
		want []string
	}{
		{"conn 198.51.100.7", []string{"01"}},
		{"conn 198.51.100.8 198.51.100.9 198.51.100.10 198.51.100.11", nil},
		{"dns evil.example", []string{"08"}}, // 7 is not in the index
		{"get http://X.example/", []string{"08"}},
		{"dns a.evil.example", nil}, // a suffix hit in the index, but the patterns say '='
		{"from 10.9.200.1", []string{"09"}},
		{"hash aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f", []string{"10"}},
		{"ip 192.0.2.2", nil}, // FOLLOWEDBY needs a process observation
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			m := &match.Matcher{Source: c.Index, Verify: c.Verify}
			var got []string
			_, err := m.Run(t.Context(), strings.NewReader(tt.line+"\n"), match.Text{}, func(h *match.Hit) error {
				got = append(got, idOf(h.Refs)...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("hits %v, want %v", got, tt.want)
			}
		})
	}
}

func TestViewFilter(t *testing.T) {
	st := &scanStore{versions: []store.Version{
		indicator(1, pat("[ipv4-addr:value = '198.51.100.7']")),
		indicator(2, pat("[ipv4-addr:value = '198.51.100.7']")),
	}}
	c, err := match.Compile(t.Context(), st, match.CompileOptions{At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]int{}
	// The viewer may read the indicators whose label cell is even (indicator 2).
	f := c.NewViewFilter(func(v *store.Version) bool { asked[v.ID]++; return v.Label.Cell%2 == 0 })
	for range 3 {
		got := f.Filter([]uint32{0, 1})
		if len(got) != 1 || c.Indicators.ID(got[0]) != st.versions[1].ID {
			t.Fatalf("filter kept %v", got)
		}
	}
	for id, n := range asked {
		if n != 1 {
			t.Errorf("%s decided %d times, want once", id, n)
		}
	}
	if got := c.NewViewFilter(nil).Filter([]uint32{0, 1}); len(got) != 2 {
		t.Errorf("operator filter kept %v", got)
	}
}
