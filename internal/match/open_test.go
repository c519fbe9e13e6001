package match

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// memStore serves Scan, List (types and AddedAfter) and ListOrganisations from memory, in stored
// order; any other method panics.
type memStore struct {
	store.Objects
	versions []store.Version
	orgs     []store.Organisation
	scans    int
}

func (m *memStore) selected(f store.Filter) []store.Version {
	var out []store.Version
	for _, v := range m.versions {
		if (len(f.Types) == 0 || slices.Contains(f.Types, v.Type)) && v.Stored.After(f.AddedAfter) {
			out = append(out, v)
		}
	}
	return out
}

func (m *memStore) Scan(_ context.Context, f store.Filter) iter.Seq2[store.Version, error] {
	if slices.Contains(f.Types, "indicator") {
		m.scans++
	}
	return func(yield func(store.Version, error) bool) {
		for _, v := range m.selected(f) {
			if !yield(v, nil) {
				return
			}
		}
	}
}

func (m *memStore) List(_ context.Context, f store.Filter, _ store.Cursor, limit int) (store.Page, error) {
	vs := m.selected(f)
	return store.Page{Versions: vs[:min(limit, len(vs))], More: len(vs) > limit}, nil
}

func (m *memStore) ListOrganisations(context.Context) ([]store.Organisation, error) {
	return slices.Clone(m.orgs), nil
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// add stores an indicator n with the pattern, valid from valid_from (and until until, when set),
// at t0 + n seconds.
func (m *memStore) add(n int, pattern, from, until string) {
	id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
	raw := fmt.Sprintf(`{"type":"indicator","id":%q,"pattern":%q,"pattern_type":"stix","valid_from":%q`, id, pattern, from)
	if until != "" {
		raw += fmt.Sprintf(`,"valid_until":%q`, until)
	}
	m.versions = append(m.versions, store.Version{ID: id, Type: "indicator", Raw: []byte(raw + "}"),
		Label: store.Label{Cell: uint8(n % 60)}, Object: store.ObjectLabel{Label: store.Label{Cell: uint8(n % 60)}},
		Stored: t0.Add(time.Duration(n) * time.Second)})
}

func hitIDs(t *testing.T, c *Compiled, line string) []string {
	t.Helper()
	var ids []string
	m := &Matcher{Source: c.Index, Verify: c.Verify}
	_, err := m.Run(t.Context(), strings.NewReader(line+"\n"), Text{}, func(h *Hit) error {
		ids = append(ids, c.Record(h, h.Refs).Indicators...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func TestLoad(t *testing.T) {
	st := &memStore{orgs: []store.Organisation{{ID: "identity--a"}, {ID: "identity--b", Remote: true}}}
	st.add(1, "[ipv4-addr:value = '198.51.100.7']", "2024-01-01T00:00:00Z", "")
	st.add(2, "[domain-name:value = 'evil.example']", "2024-01-01T00:00:00Z", "2025-07-01T00:00:00Z")
	st.add(3, "[domain-name:value = 'later.example']", "2025-09-01T00:00:00Z", "")
	st.versions = append(st.versions, store.Version{ID: "marking-definition--1", Type: "marking-definition", Stored: t0.Add(-time.Hour)})
	path := filepath.Join(t.TempDir(), IndexFileName)
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	opts := func(at time.Time) LoadOptions {
		return LoadOptions{Path: path, Compile: CompileOptions{At: at}}
	}
	load := func(t *testing.T, o LoadOptions, wantLoaded bool, wantWhy string) *Compiled {
		t.Helper()
		scans := st.scans
		c, info, err := Load(t.Context(), st, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		})
		if info.Loaded != wantLoaded || !strings.Contains(info.Why, wantWhy) || (st.scans > scans) == wantLoaded {
			t.Errorf("loaded %v (%q, %d scans), want loaded %v (%q)", info.Loaded, info.Why, st.scans-scans, wantLoaded, wantWhy)
		}
		if !wantLoaded && !o.NoWrite && o.Path != "" && !info.Written {
			t.Errorf("compiled but not written: %v", info.WriteErr)
		}
		return c
	}
	const ind1, ind2 = "indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002"
	line := "198.51.100.7 a.evil.example evil.example later.example"

	c := load(t, opts(at), false, "no index file yet")
	if got := hitIDs(t, c, line); !slices.Equal(got, []string{ind1, ind2}) {
		t.Fatalf("compiled: hits %v", got)
	}
	if want := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC); !c.NextChange.Equal(want) {
		t.Errorf("NextChange %v, want %v", c.NextChange, want)
	}
	c = load(t, opts(at.Add(time.Hour)), true, "")
	if got := hitIDs(t, c, line); !slices.Equal(got, []string{ind1, ind2}) {
		t.Errorf("loaded: hits %v", got)
	}
	if c.Stats.Active != 2 || c.Stats.NotYetValid != 1 {
		t.Errorf("loaded stats %+v", c.Stats)
	}

	t.Run("stale", func(t *testing.T) {
		tests := []struct {
			name   string
			change func() func() // makes the change, returns its undoing
			at     time.Time
			why    string
		}{
			{"earlier time", nil, at.Add(-time.Second), "compiled for"},
			{"valid_until passed", nil, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), "passed at 2025-07-01T00:00:00Z"},
			{"new indicator", func() func() {
				st.add(4, "[ipv4-addr:value = '203.0.113.1']", "2024-01-01T00:00:00Z", "")
				return func() { st.versions = st.versions[:len(st.versions)-1] }
			}, at, "indicators were stored"},
			{"new marking definition", func() func() {
				st.versions = append(st.versions, store.Version{ID: "marking-definition--2", Type: "marking-definition", Stored: t0.Add(time.Hour)})
				return func() { st.versions = st.versions[:len(st.versions)-1] }
			}, at, "marking definitions"},
			{"organisation now hosted here", func() func() {
				st.orgs[1].Remote = false
				return func() { st.orgs[1].Remote = true }
			}, at, "organisations changed"},
			{"organisation added", func() func() {
				st.orgs = append(st.orgs, store.Organisation{ID: "identity--c"})
				return func() { st.orgs = st.orgs[:2] }
			}, at, "organisations changed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l, err := OpenFile(path, OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				if why, err := l.Stale(t.Context(), st, at); why != "" || err != nil {
					t.Fatalf("stale before the change: %q %v", why, err)
				}
				if tt.change != nil {
					defer tt.change()()
				}
				why, err := l.Stale(t.Context(), st, tt.at)
				if err != nil || !strings.Contains(why, tt.why) {
					t.Errorf("stale %q %v, want %q", why, err, tt.why)
				}
			})
		}
	})

	// A new indicator: the file is compiled again, written, and then loaded.
	st.add(5, "[ipv4-addr:value = '203.0.113.5']", "2024-01-01T00:00:00Z", "")
	load(t, opts(at), false, "indicators were stored since")
	c = load(t, opts(at), true, "")
	if got := hitIDs(t, c, "203.0.113.5"); len(got) != 1 || !strings.HasSuffix(got[0], "5") {
		t.Errorf("the new indicator: hits %v", got)
	}
	// After valid_until passed, indicator 2 is gone; with NoWrite the file stays as it was.
	later := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o := opts(later)
	o.NoWrite = true
	c = load(t, o, false, "passed at")
	if got := hitIDs(t, c, line); !slices.Equal(got, []string{ind1}) {
		t.Errorf("after valid_until: hits %v", got)
	}
	if after, err := os.ReadFile(path); err != nil || string(after) != string(before) {
		t.Errorf("NoWrite changed the file (%v)", err)
	}
	// Rebuild compiles a fresh file; a damaged file is compiled again, not an error.
	o = opts(at)
	o.Rebuild = true
	load(t, o, false, "rebuild asked for")
	if err := os.WriteFile(path, before[:len(before)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	load(t, opts(at), false, "truncated")
	load(t, opts(at), true, "")
	// No path: compiled in memory, nothing written.
	c = load(t, LoadOptions{Compile: CompileOptions{At: at}}, false, "no index file")
	if c.State.Orgs == 0 {
		t.Error("the store state was not recorded")
	}
}
