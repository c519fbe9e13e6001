package correlate_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

const (
	orgA = "identity--a2000000-0000-4000-8000-00000000000a"
	orgB = "identity--b2000000-0000-4000-8000-00000000000b"
)

func indicator(n int, owner, pattern string, markings ...string) string {
	s := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--f0000000-0000-4000-8000-%012d","created_by_ref":%q,`+
		`"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":%q,"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`,
		n, owner, pattern)
	if len(markings) > 0 {
		s += `,"object_marking_refs":["` + strings.Join(markings, `","`) + `"]`
	}
	return s + "}"
}

func ind(n int) string { return fmt.Sprintf("indicator--f0000000-0000-4000-8000-%012d", n) }

func TestCorrelate(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, o := range []store.Organisation{{ID: orgA, Name: "A"}, {ID: orgB, Name: "B"}} {
		if err := st.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var defs []string
	for _, m := range stix.BuiltinMarkings() {
		defs = append(defs, string(m.JSON))
	}
	objs := append(defs,
		indicator(1, orgA, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'C2.Example.']", stix.TLP2Green),
		indicator(2, orgB, "[ipv4-addr:value = '198.51.100.7']", stix.TLP2Green),
		indicator(3, orgB, "[ipv4-addr:value = '198.51.100.0/24']", stix.TLP2Green),
		indicator(4, orgB, "[ipv4-addr:value = '198.51.100.7']"), // unmarked: B's own
		indicator(5, orgB, "[file:hashes.'SHA-256' = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] AND [domain-name:value = 'c2.example']", stix.TLP2Green),
		`{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--f0000000-0000-4000-8000-000000000006","value":"198.51.100.7","object_marking_refs":["`+stix.TLP2Clear+`"]}`,
	)
	rep, err := ingest.New(st, nil).Import(ctx, strings.NewReader("["+strings.Join(objs, ",")+"]"), ingest.Options{Strict: true})
	if err != nil || rep.Rejected > 0 {
		t.Fatalf("%v %+v", err, rep)
	}
	viewer := policy.Viewer{UserID: "u", Role: store.RoleAnalyst, Org: orgA, Local: true}
	asA := correlate.Options{Scope: policy.StoreScope(viewer), Allow: func(v *store.Version) bool {
		return policy.CanVersion(viewer, policy.ActionRead, v).Allow
	}}
	summary := func(vals []correlate.Value) []string {
		var out []string
		for _, v := range vals {
			var ids []string
			for _, o := range v.Objects {
				ids = append(ids, o.ID[len(o.ID)-2:])
			}
			out = append(out, fmt.Sprintf("%s %s via %q: %d from %d %v", v.Kind, v.Value, v.Via, v.Count, v.Reporters, ids))
		}
		return out
	}
	got, err := correlate.ObjectValues(ctx, st, ind(1), asA)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ipv4-addr 198.51.100.7 via "": 2 from 2 [02 06]`,             // B's green indicator and the CLEAR SCO; not B's own (4)
		`ipv4-addr 198.51.100.0/24 via "198.51.100.7": 1 from 1 [03]`, // the block that contains it
		`domain-name c2.example via "": 1 from 1 [05]`,                // normalised: case and trailing dot
	}
	if !slices.Equal(summary(got), want) {
		t.Errorf("as A:\n%s\nwant\n%s", strings.Join(summary(got), "\n"), strings.Join(want, "\n"))
	}
	// The operator sees B's own indicator too.
	ob, err := correlate.ParseValue("198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	all, err := correlate.Lookup(ctx, st, ob, correlate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Count != 4 || all[0].Reporters != 3 || all[0].FirstSeen.IsZero() || all[0].LastSeen.Before(all[0].FirstSeen) {
		t.Errorf("operator: %+v", all[0])
	}
	// A value seen only in objects the viewer may not read is not seen.
	st4, err := correlate.Lookup(ctx, st, stix.Observable{Kind: stix.ObsHashKind + "SHA-256", Value: strings.Repeat("a", 64)}, asA)
	if err != nil || st4[0].Count != 1 {
		t.Errorf("hash as A: %+v %v", st4, err)
	}
	// B's unmarked indicator is not even an object A may correlate.
	if _, err := correlate.ObjectValues(ctx, st, ind(4), asA); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("B's own indicator as A: %v, want ErrNotFound", err)
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":          "ipv4-addr 198.51.100.7",
		"198.51.100.0/24":       "ipv4-addr 198.51.100.0/24",
		"2001:db8::1":           "ipv6-addr 2001:db8::1",
		"Evil.Example.":         "domain-name evil.example",
		"https://x.example/a":   "url https://x.example/a",
		"Bob@Example.org":       "email-addr bob@example.org",
		strings.Repeat("A", 32): "hash:MD5 " + strings.Repeat("a", 32),
		strings.Repeat("b", 64): "hash:SHA-256 " + strings.Repeat("b", 64),
	} {
		o, err := correlate.ParseValue(in)
		if err != nil || o.Kind+" "+o.Value != want {
			t.Errorf("ParseValue(%q) = %v %v, want %s", in, o, err, want)
		}
	}
	for _, bad := range []string{"", "hello", "not a value.", strings.Repeat("a", 33)} {
		if _, err := correlate.ParseValue(bad); !errors.Is(err, correlate.ErrUnknownValue) {
			t.Errorf("ParseValue(%q): %v", bad, err)
		}
	}
}
