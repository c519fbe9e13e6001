package correlate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

const orgC = "identity--c2000000-0000-4000-8000-00000000000c" // hosted on another node

// policyStore opens a store labelled by the policy, with organisations A and B hosted here and C
// remote, the TLP marking definitions, and objs imported.
func policyStore(t *testing.T, objs ...string) *sqlite.Store {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, o := range []store.Organisation{{ID: orgA, Name: "A"}, {ID: orgB, Name: "B"}, {ID: orgC, Name: "C", Remote: true}} {
		if err := st.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var defs []string
	for _, m := range stix.BuiltinMarkings() {
		defs = append(defs, string(m.JSON))
	}
	importObjects(t, st, defs...)
	importObjects(t, st, objs...)
	return st
}

func importObjects(t *testing.T, st store.Objects, objs ...string) {
	t.Helper()
	if len(objs) == 0 {
		return
	}
	rep, err := ingest.New(st, nil).Import(t.Context(), strings.NewReader("["+strings.Join(objs, ",")+"]"), ingest.Options{})
	if err != nil || rep.Rejected > 0 {
		t.Fatalf("import: %v %+v", err, rep.Errors)
	}
}

// as returns the options of a viewer of org, through the policy.
func as(org string) correlate.Options {
	v := policy.Viewer{UserID: "u", Role: store.RoleAnalyst, Org: org, Local: org != orgC}
	return correlate.Options{Scope: policy.StoreScope(v), Allow: func(ver *store.Version) bool {
		return policy.CanVersion(v, policy.ActionRead, ver).Allow
	}}
}

func sco(typ, n, value, marking string) string {
	return fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":"%s--e0000000-0000-4000-8000-%012s","value":%q,"object_marking_refs":[%q]}`,
		typ, typ, n, value, marking)
}

// summary renders matches as "value via: count [objects] in [report objects]", with ids cut to
// their last two digits.
func summary(ms []correlate.Match) []string {
	short := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id[len(id)-2:]
		}
		return out
	}
	var out []string
	for _, m := range ms {
		var objs []string
		for _, o := range m.Objects {
			objs = append(objs, o.ID)
		}
		out = append(out, fmt.Sprintf("%s %q: %d %v in %v", m.Value.Value, m.Via, m.Count, short(objs), short(m.In)))
	}
	return out
}

// TestCheck: a report, not stored, checked against the store as A, as B and as the operator.
func TestCheck(t *testing.T) {
	st := policyStore(t,
		indicator(1, orgA, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']", stix.TLP2Green),
		indicator(2, orgB, "[ipv4-addr:value = '198.51.100.0/24']", stix.TLP2Green),
		indicator(3, orgB, "[ipv4-addr:value = '198.51.0.0/16']", stix.TLP2Red), // B's alone
		indicator(4, orgB, "[domain-name:value = 'secret.example']", stix.TLP2Red),
		indicator(5, orgC, "[file:hashes.'SHA-256' = '"+strings.Repeat("ab", 32)+"']", stix.TLP2Amber),
		indicator(6, orgA, "[ipv4-addr:value = '203.0.113.9']", stix.TLP2Green), // also in the report
		sco("ipv4-addr", "7", "198.51.100.7", stix.TLP2Clear),
		sco("ipv6-addr", "8", "2001:db8::/32", stix.TLP2Clear),
	)
	report := `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[` +
		indicator(6, orgA, "[ipv4-addr:value = '203.0.113.9']", stix.TLP2Green) + `,` + // the stored indicator 6 itself
		indicator(91, orgA, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'Secret.Example.']", stix.TLP2Green) + `,` +
		indicator(92, orgA, "[ipv4-addr:value = '198.51.100.0/28'] OR [ipv4-addr:value = '203.0.113.9'] OR [ipv6-addr:value = '2001:db8::1']", stix.TLP2Green) + `,` +
		indicator(93, orgA, "[file:hashes.SHA256 = '"+strings.Repeat("AB", 32)+"'] OR [url:value = 'https://nowhere.example/']", stix.TLP2Green) + `,` +
		sco("domain-name", "94", "c2.example", stix.TLP2Clear) + `]}`
	in, err := correlate.ReadInput(strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	if in.Objects() != 5 || in.Len() != 8 {
		t.Fatalf("input: %d objects, %d values; want 5 and 8", in.Objects(), in.Len())
	}
	for _, tc := range []struct {
		name string
		opt  correlate.Options
		want []string
	}{
		{"as A", as(orgA), []string{
			`198.51.100.7 "": 2 [01 07] in [91]`, // A's own and the CLEAR SCO
			`198.51.100.0/24 "198.51.100.7": 1 [02] in [91]`,
			`198.51.100.0/24 "198.51.100.0/28": 1 [02] in [92]`, // a block inside a block
			`2001:db8::/32 "2001:db8::1": 1 [08] in [92]`,
			`c2.example "": 1 [01] in [94]`,
			// 203.0.113.9: only indicator 6, the report's own object; secret.example: B's RED;
			// the hash: C's AMBER, not shared with A.
		}},
		{"as B", as(orgB), []string{
			`198.51.100.7 "": 2 [01 07] in [91]`,
			`198.51.100.0/24 "198.51.100.7": 1 [02] in [91]`,
			`198.51.0.0/16 "198.51.100.7": 1 [03] in [91]`, // B's RED block, for B
			`secret.example "": 1 [04] in [91]`,
			`198.51.100.0/24 "198.51.100.0/28": 1 [02] in [92]`,
			`198.51.0.0/16 "198.51.100.0/28": 1 [03] in [92]`,
			`2001:db8::/32 "2001:db8::1": 1 [08] in [92]`,
			`c2.example "": 1 [01] in [94]`,
		}},
		{"operator", correlate.Options{}, []string{
			`198.51.100.7 "": 2 [01 07] in [91]`,
			`198.51.100.0/24 "198.51.100.7": 1 [02] in [91]`,
			`198.51.0.0/16 "198.51.100.7": 1 [03] in [91]`,
			`secret.example "": 1 [04] in [91]`,
			`198.51.100.0/24 "198.51.100.0/28": 1 [02] in [92]`,
			`198.51.0.0/16 "198.51.100.0/28": 1 [03] in [92]`,
			`2001:db8::/32 "2001:db8::1": 1 [08] in [92]`,
			`` + strings.Repeat("ab", 32) + ` "": 1 [05] in [93]`,
			`c2.example "": 1 [01] in [94]`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := correlate.Check(t.Context(), st, in, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(res.Matches); !slices.Equal(got, tc.want) {
				t.Errorf("matches:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if res.Objects != 5 || res.Values != 8 {
				t.Errorf("result counts %d objects, %d values; want 5, 8", res.Objects, res.Values)
			}
		})
	}
	// A value hidden from A never shows, whichever way it is asked.
	for _, q := range []string{"secret.example", "198.51.100.9"} {
		in := &correlate.Input{}
		ob, err := correlate.ParseValue(q)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Add(ob, ""); err != nil {
			t.Fatal(err)
		}
		res, err := correlate.Check(t.Context(), st, in, as(orgA))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Matches {
			for _, o := range m.Objects {
				if o.ID == ind(3) || o.ID == ind(4) {
					t.Errorf("%s as A: B's RED object %s listed", q, o.ID)
				}
			}
		}
	}
}

// TestReadInput: the forms of input, and the errors that say where the input is wrong.
func TestReadInput(t *testing.T) {
	obj := indicator(1, orgA, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']", stix.TLP2Green)
	for _, tc := range []struct {
		name, in      string
		objects, vals int
		err           string
	}{
		{"bundle", `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[` + obj + `]}`, 1, 2, ""},
		{"objects before type", `{"objects":[` + obj + `],"type":"bundle"}`, 1, 2, ""},
		{"array", "[" + obj + "," + sco("url", "2", "https://x.example/", stix.TLP2Clear) + "]", 2, 3, ""},
		{"one object", "\n " + obj, 1, 2, ""},
		{"empty bundle", `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[]}`, 0, 0, ""},
		{"empty", "  \n", 0, 0, ""},
		{"values", "# from a partner\n198.51.100.7\n\nEvil.Example.\n198.51.100.7\n" + strings.Repeat("A", 64) + "\n", 0, 3, ""},
		{"bad value", "198.51.100.7\nnot a value\n", 0, 0, "line 2"},
		{"bad object", "[" + obj + `,{"type":"indicator","id":"indicator--x"}]`, 0, 0, "object 1"},
		{"truncated", "[" + obj, 0, 0, "bad input"},
		{"two values", obj + obj, 0, 0, "more than one top-level JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := correlate.ReadInput(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !errors.Is(err, correlate.ErrInput) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want ErrInput mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Objects() != tc.objects || in.Len() != tc.vals {
				t.Errorf("%d objects, %d values; want %d, %d", in.Objects(), in.Len(), tc.objects, tc.vals)
			}
		})
	}
}

// TestAll: re-correlating everything yields each value carried by two readable objects or more,
// once, with its carriers, creators and times; values shared only with hidden objects are not.
func TestAll(t *testing.T) {
	st := policyStore(t,
		indicator(1, orgA, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']", stix.TLP2Green),
		indicator(2, orgB, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'secret.example']", stix.TLP2Green),
		indicator(3, orgB, "[domain-name:value = 'C2.Example'] OR [domain-name:value = 'secret.example']", stix.TLP2Red),
		indicator(4, orgC, "[ipv4-addr:value = '198.51.100.7']", stix.TLP2Amber),
		sco("domain-name", "5", "lonely.example", stix.TLP2Clear),
	)
	collect := func(o correlate.Options) (map[string]string, correlate.AllStats) {
		t.Helper()
		got := map[string]string{}
		stats, err := correlate.All(t.Context(), st, o, func(v correlate.Value) error {
			var ids []string
			for _, ob := range v.Objects {
				ids = append(ids, ob.ID[len(ob.ID)-2:])
			}
			if _, dup := got[v.Value]; dup {
				t.Errorf("%s yielded twice", v.Value)
			}
			if v.FirstSeen.IsZero() || v.LastSeen.Before(v.FirstSeen) {
				t.Errorf("%s: first %v, last %v", v.Value, v.FirstSeen, v.LastSeen)
			}
			got[v.Value] = fmt.Sprintf("%d %v %d %v", v.Count, ids, v.Reporters, v.Orgs)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, stats
	}
	for _, tc := range []struct {
		name string
		opt  correlate.Options
		want map[string]string
	}{
		{"operator", correlate.Options{}, map[string]string{
			"198.51.100.7":   fmt.Sprintf("3 [01 02 04] 3 %v", []string{orgA, orgB, orgC}),
			"c2.example":     fmt.Sprintf("2 [01 03] 2 %v", []string{orgA, orgB}),
			"secret.example": fmt.Sprintf("2 [02 03] 1 %v", []string{orgB}),
		}},
		{"as A", as(orgA), map[string]string{
			"198.51.100.7": fmt.Sprintf("2 [01 02] 2 %v", []string{orgA, orgB}),
			// c2.example and secret.example are shared with B's RED indicator only.
		}},
		{"as C", as(orgC), map[string]string{
			"198.51.100.7": fmt.Sprintf("3 [01 02 04] 3 %v", []string{orgA, orgB, orgC}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, stats := collect(tc.opt)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("groups:\n%v\nwant\n%v", got, tc.want)
			}
			if stats.Groups != len(tc.want) {
				t.Errorf("stats %+v, want %d groups", stats, len(tc.want))
			}
		})
	}
	stop := errors.New("stop")
	if _, err := correlate.All(t.Context(), st, correlate.Options{}, func(correlate.Value) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the callback's error: %v", err)
	}
}

// TestOracle checks Check and All against a brute force over every latest form, read with Scan
// and decoded afresh (not through the observables index), on a random store, for several viewers.
func TestOracle(t *testing.T) {
	const nObjects = 300
	r := rand.New(rand.NewPCG(7, 7))
	var values []string // pattern comparisons
	for i := range 12 {
		values = append(values, fmt.Sprintf("ipv4-addr:value = '198.51.%d.%d'", 100+i%2, i*20))
	}
	for _, b := range []string{"198.51.100.0/24", "198.51.100.0/26", "198.51.0.0/16", "198.51.101.128/25", "198.48.0.0/13"} {
		values = append(values, "ipv4-addr:value = '"+b+"'")
	}
	for i := range 8 {
		values = append(values, fmt.Sprintf("domain-name:value = 'd%d.example'", i))
	}
	orgs := []string{orgA, orgB, orgC}
	markings := []string{stix.TLP2Clear, stix.TLP2Green, stix.TLP2Amber, stix.TLP2Red}
	var objs []string
	object := func(n int, modified string) string {
		var terms []string
		for range 1 + r.IntN(3) {
			terms = append(terms, "["+values[r.IntN(len(values))]+"]")
		}
		s := indicator(n, orgs[n%3], strings.Join(terms, " OR "), markings[r.IntN(len(markings))])
		return strings.Replace(s, `"modified":"2024-01-01T00:00:00.000Z"`, `"modified":"`+modified+`"`, 1)
	}
	for n := range nObjects {
		objs = append(objs, object(n, "2024-01-01T00:00:00.000Z"))
	}
	st := policyStore(t, objs...)
	// Later versions of some objects, with other values and markings.
	objs = objs[:0]
	for n := 0; n < nObjects; n += 5 {
		objs = append(objs, object(n, "2024-02-01T00:00:00.000Z"))
	}
	importObjects(t, st, objs...)

	// The report: some of the values, and addresses and blocks nobody stored.
	in := &correlate.Input{}
	var report []string
	for i, v := range append(slices.Clone(values), "ipv4-addr:value = '198.51.100.77'", "ipv4-addr:value = '198.51.101.200'", "ipv4-addr:value = '198.51.100.0/30'") {
		if i%3 == 0 && !strings.Contains(v, "77") {
			continue
		}
		n := 1000 + i
		if i%4 == 1 {
			n = i // an id of a stored object: its own stored carriers must not count
		}
		s := indicator(n, orgA, "["+v+"]", stix.TLP2Green)
		obj, err := stix.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if err := in.AddObject(obj); err != nil {
			t.Fatal(err)
		}
		report = append(report, s)
	}

	// "A by Allow" has no Scope: the policy's decision alone must hide what A may not read.
	viewers := map[string]correlate.Options{"operator": {}, "A": as(orgA), "B": as(orgB), "C": as(orgC),
		"A by Allow": {Allow: as(orgA).Allow}}
	for name, opt := range viewers {
		t.Run(name, func(t *testing.T) {
			// carriers: value → readable latest forms carrying it.
			carriers := map[stix.Observable][]string{}
			for v, err := range st.Scan(t.Context(), store.Filter{}) {
				if err != nil {
					t.Fatal(err)
				}
				if opt.Allow != nil && !opt.Allow(&v) {
					continue
				}
				obj, err := stix.Decode(v.Raw)
				if err != nil {
					t.Fatal(err)
				}
				pattern.AddObservables(obj)
				for _, o := range obj.Observables {
					carriers[o] = append(carriers[o], v.ID)
				}
			}
			// All.
			want := map[string][]string{}
			for o, ids := range carriers {
				if len(ids) >= 2 {
					want[o.Value] = sorted(ids)
				}
			}
			got := map[string][]string{}
			if _, err := correlate.All(t.Context(), st, opt, func(v correlate.Value) error {
				got[v.Value] = objectIDs(v.Objects)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("All:\n%v\nwant\n%v", got, want)
			}
			if len(want) < 5 {
				t.Errorf("only %d shared values: the random store is too sparse", len(want))
			}
			// Check.
			own := map[string]bool{}
			for _, s := range report {
				obj, err := stix.Decode([]byte(s))
				if err != nil {
					t.Fatal(err)
				}
				own[obj.ID] = true
			}
			others := func(o stix.Observable) []string {
				var out []string
				for _, id := range carriers[o] {
					if !own[id] {
						out = append(out, id)
					}
				}
				return sorted(out)
			}
			var wantChecks []string
			asked := map[string]bool{}
			for _, s := range report {
				obj, err := stix.Decode([]byte(s))
				if err != nil {
					t.Fatal(err)
				}
				pattern.AddObservables(obj)
				for _, o := range obj.Observables {
					if asked[o.Value] {
						continue
					}
					asked[o.Value] = true
					if ids := others(o); len(ids) > 0 {
						wantChecks = append(wantChecks, fmt.Sprintf("%s via %q: %v", o.Value, "", ids))
					}
					p, ok := toPrefix(o.Value)
					for c := range carriers {
						if !ok {
							break
						}
						b, err := netip.ParsePrefix(c.Value)
						if err != nil || b.Bits() >= p.Bits() || !b.Contains(p.Addr()) {
							continue
						}
						if ids := others(c); len(ids) > 0 {
							wantChecks = append(wantChecks, fmt.Sprintf("%s via %q: %v", c.Value, o.Value, ids))
						}
					}
				}
			}
			slices.Sort(wantChecks)
			// Through the store's table of blocks, its summary of block lengths alone (every block
			// of a stored length looked up), and neither (every length looked up).
			for how, st := range map[string]store.Objects{"blocks": st, "summary": unknownBlocks{st}, "no summary": unknownLengths{st}} {
				res, err := correlate.Check(t.Context(), st, in, opt)
				if err != nil {
					t.Fatal(err)
				}
				var gotChecks []string
				for _, m := range res.Matches {
					gotChecks = append(gotChecks, fmt.Sprintf("%s via %q: %v", m.Value.Value, m.Via, objectIDs(m.Objects)))
				}
				slices.Sort(gotChecks)
				if !slices.Equal(gotChecks, wantChecks) {
					t.Errorf("Check, %s:\n%s\nwant\n%s", how, strings.Join(gotChecks, "\n"), strings.Join(wantChecks, "\n"))
				}
			}
			if len(wantChecks) < 5 {
				t.Errorf("only %d matches: the random report is too sparse", len(wantChecks))
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func objectIDs(objs []correlate.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.ID)
	}
	return sorted(out)
}

// toPrefix returns an address as a one-address block, and a block as it is; false for anything
// else.
func toPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// TestAppendJSON: the fast encoder writes what json.Marshal writes, as JSON values.
func TestAppendJSON(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	for _, v := range []correlate.Value{
		{Kind: "ipv4-addr", Value: "198.51.100.0/24", Via: "198.51.100.7", Count: 2, More: true, Reporters: 2,
			Orgs: []string{orgA, orgB}, FirstSeen: at, LastSeen: at.Add(time.Hour),
			Objects: []correlate.Object{{ID: ind(1), Type: "indicator", CreatedByRef: orgA, Stored: at}, {ID: "ipv4-addr--x", Type: "ipv4-addr", Stored: at}}},
		{Kind: "url", Value: "https://x.example/<a>&\"q\"\\\u2028\x01é", Objects: []correlate.Object{}},
		{Kind: "url", Value: "bad \xff utf-8"},
	} {
		line := v.AppendJSON(nil)
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Errorf("%q is not one line", line)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if err := json.Unmarshal(want, &exp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("AppendJSON:\n%s\njson.Marshal:\n%s", line, want)
		}
	}
}
