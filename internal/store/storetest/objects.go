package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// testRawRoundTrip: what is written comes back byte for byte, with its properties read from it.
func testRawRoundTrip(t *testing.T, s store.Store) {
	ind, idn, mrk, sco, old := newID("indicator"), newID("identity"), newID("marking-definition"), newID("ipv4-addr"), newID("indicator")
	raws := []struct {
		name string
		raw  string
		key  string // the expected version key's timestamp text, "" for none
	}{
		{"odd layout and escapes", "{ \"type\" : \"indicator\",\n\t\"spec_version\":\"2.1\", \"id\":\"" + ind + "\",\"created\":\"2016-05-12T08:17:27.100Z\"," +
			"\"modified\":\"2016-05-12T08:17:27.123456789123Z\",\"name\":\"caf\\u00e9 \u65e5\u672c \\\"q\\\" \\/ \U0001F600\"," +
			"\"pattern\":\"[file:name = 'x']\",\"pattern_type\":\"stix\",\"valid_from\":\"2016-05-12T08:17:27Z\"," +
			"\"created_by_ref\":\"" + idn + "\",\"confidence\":42,\"revoked\":false, \"x_num\": 1.50e3 }\n",
			"2016-05-12T08:17:27.123456789123Z"},
		{"identity", `{"type":"identity","spec_version":"2.1","id":"` + idn + `","created":"2016-01-01T00:00:00.000Z","modified":"2016-01-01T00:00:00.000Z","name":"ACME","identity_class":"organization"}`,
			"2016-01-01T00:00:00.000Z"},
		{"marking definition: created only", `{"type":"marking-definition","spec_version":"2.1","id":"` + mrk + `","created":"2017-01-20T00:00:00.000Z","definition_type":"statement","definition":{"statement":"Copyright 2017"}}`,
			"2017-01-20T00:00:00.000Z"},
		{"sco", `{"type":"ipv4-addr","spec_version":"2.1","id":"` + sco + `","value":"203.0.113.9"}`, ""},
		{"no spec_version", `{"type":"indicator","id":"` + old + `","created":"2016-01-01T00:00:00.000Z","modified":"2016-01-02T00:00:00.000Z","labels":["malicious-activity"],"pattern":"[ipv4-addr:value = '203.0.113.1']","valid_from":"2016-01-01T00:00:00Z"}`,
			"2016-01-02T00:00:00.000Z"},
	}
	var objs []*stix.Object
	for _, r := range raws {
		objs = append(objs, decode(t, r.raw))
	}
	b := batch(t, "", objs...)
	out, err := s.Write(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, out, store.StatusAdded, store.StatusAdded, store.StatusAdded, store.StatusAdded, store.StatusAdded)

	listed := map[string]store.Version{}
	for _, v := range listAll(t, s, store.Filter{}, 100) {
		listed[v.ID] = v
	}
	for i, r := range raws {
		t.Run(r.name, func(t *testing.T) {
			o := objs[i]
			vs, err := s.Versions(t.Context(), o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 {
				t.Fatalf("%d versions, want 1", len(vs))
			}
			for _, v := range []store.Version{vs[0], listed[o.ID]} {
				if !bytes.Equal(v.Raw, []byte(r.raw)) {
					t.Errorf("raw bytes differ:\n got %q\nwant %q", v.Raw, r.raw)
				}
				wantKey := ""
				if r.key != "" {
					wantKey = key(t, r.key)
				}
				want := store.Version{ID: o.ID, Type: o.Type, SpecVersion: o.SpecVersion, Created: o.Created.String(),
					Modified: o.Modified.String(), VersionKey: wantKey, CreatedByRef: o.CreatedByRef, Revoked: o.Revoked,
					Digest: b.Versions[i].Digest}
				got := v
				got.Raw, got.Stored, got.DateAdded = nil, want.Stored, want.DateAdded
				got.Label, got.OwnerLocal, got.Object = store.Label{}, false, store.ObjectLabel{} // see testLabels
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("version row:\n got %+v\nwant %+v", got, want)
				}
				if v.Stored.IsZero() {
					t.Error("Stored is zero")
				}
			}
		})
	}
}

// testDuplicate: the same version again is a duplicate, whatever its layout, and the first bytes stay.
func testDuplicate(t *testing.T, s store.Store) {
	id := newID("indicator")
	first := indicator(t, id, 5)
	expect(t, write(t, s, "", first), store.StatusAdded)
	again := indicator(t, id, 5)
	expect(t, write(t, s, "", again), store.StatusDuplicate)

	// Same canonical form, other bytes: still the same version.
	relaid := decode(t, " "+string(bytes.ReplaceAll(first.Raw, []byte(","), []byte(", ")))+"\n")
	if bytes.Equal(relaid.Raw, first.Raw) {
		t.Fatal("test is broken: the bytes are the same")
	}
	expect(t, write(t, s, "", relaid), store.StatusDuplicate)

	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || !bytes.Equal(vs[0].Raw, first.Raw) {
		t.Fatalf("after duplicates: %d versions, raw %q; want 1 with the first bytes", len(vs), vs[0].Raw)
	}
}

// testConflict: the same version key with other content is rejected and the stored version stays.
func testConflict(t *testing.T, s store.Store) {
	id := newID("indicator")
	orig := indicator(t, id, 5)
	expect(t, write(t, s, "", orig), store.StatusAdded)
	cases := []struct {
		name string
		obj  *stix.Object
	}{
		{"other content", indicator(t, id, 5, `"description":"changed"`)},
		// The same instant written with other precision is the same version, with other content.
		{"same instant, other text", decode(t, string(bytes.Replace(orig.Raw,
			[]byte(`"modified":"`+ts(5)+`"`), []byte(`"modified":"`+ts(5)[:23]+`0Z"`), 1)))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.obj.Raw, orig.Raw) {
				t.Fatal("test is broken: same bytes")
			}
			out := write(t, s, "", tc.obj)
			expect(t, out, store.StatusRejected)
			if !errors.Is(out[0].Err, store.ErrConflict) {
				t.Errorf("error %v does not wrap ErrConflict", out[0].Err)
			}
			vs, err := s.Versions(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 || !bytes.Equal(vs[0].Raw, orig.Raw) {
				t.Errorf("stored: %d versions, first %q", len(vs), vs[0].Raw)
			}
		})
	}
}

// testVersionsAndLatest: versions arrive in any order; Versions sorts them; the latest is the greatest key.
func testVersionsAndLatest(t *testing.T, s store.Store) {
	id := newID("indicator")
	expect(t, write(t, s, "", indicator(t, id, 10)), store.StatusAdded)
	expect(t, write(t, s, "", indicator(t, id, 30), indicator(t, id, 20)), store.StatusAdded, store.StatusAdded)
	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Modified)
	}
	if want := []string{ts(10), ts(20), ts(30)}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Versions: %v, want %v", got, want)
	}
	for _, tc := range []struct {
		kind store.VersionMatchKind
		want string
	}{{store.VersionsLast, ts(30)}, {store.VersionsFirst, ts(10)}} {
		p, err := s.List(t.Context(), store.Filter{IDs: []string{id}, Versions: store.VersionMatch{Kind: tc.kind}}, store.Cursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Versions) != 1 || p.Versions[0].Modified != tc.want {
			t.Errorf("match %d: %v, want the version of %s", tc.kind, keysOf(p.Versions), tc.want)
		}
	}
	if _, err := s.Versions(t.Context(), newID("indicator")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Versions of an unknown id: %v, want ErrNotFound", err)
	}
}

func modifiedOf(vs []store.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Modified)
	}
	return out
}

// testRevocation: once revoked, later versions are refused and earlier ones still accepted.
func testRevocation(t *testing.T, s store.Store) {
	t.Run("across batches", func(t *testing.T) {
		id := newID("indicator")
		expect(t, write(t, s, "", indicator(t, id, 10)), store.StatusAdded)
		revoked := indicator(t, id, 20, `"revoked":true`)
		expect(t, write(t, s, "", revoked), store.StatusAdded)
		out := write(t, s, "", indicator(t, id, 30))
		expect(t, out, store.StatusRejected)
		if !errors.Is(out[0].Err, store.ErrRevoked) {
			t.Errorf("later version: %v, want ErrRevoked", out[0].Err)
		}
		out = write(t, s, "", indicator(t, id, 30, `"revoked":true`))
		expect(t, out, store.StatusRejected)
		if !errors.Is(out[0].Err, store.ErrRevoked) {
			t.Errorf("later revoked version: %v, want ErrRevoked", out[0].Err)
		}
		// The revoked version itself is still a duplicate, and an earlier version is accepted.
		expect(t, write(t, s, "", indicator(t, id, 20, `"revoked":true`), indicator(t, id, 5)),
			store.StatusDuplicate, store.StatusAdded)
		vs, err := s.Versions(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := modifiedOf(vs), []string{ts(5), ts(10), ts(20)}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("versions %v, want %v", got, want)
		}
		if !vs[2].Revoked || vs[0].Revoked || vs[1].Revoked {
			t.Errorf("revoked flags of the versions: %v %v %v", vs[0].Revoked, vs[1].Revoked, vs[2].Revoked)
		}
	})
	t.Run("within a batch", func(t *testing.T) {
		id := newID("indicator")
		out := write(t, s, "", indicator(t, id, 10), indicator(t, id, 20, `"revoked":true`), indicator(t, id, 30), indicator(t, id, 15))
		expect(t, out, store.StatusAdded, store.StatusAdded, store.StatusRejected, store.StatusAdded)
		if !errors.Is(out[2].Err, store.ErrRevoked) {
			t.Errorf("later version: %v, want ErrRevoked", out[2].Err)
		}
	})
}

// testRevocationOutOfOrder: a revoked version arriving after later versions still revokes the object,
// the latest version stays the greatest, and no version after the revoked one may be added.
func testRevocationOutOfOrder(t *testing.T, s store.Store) {
	id := newID("indicator")
	expect(t, write(t, s, "", indicator(t, id, 30)), store.StatusAdded)
	expect(t, write(t, s, "", indicator(t, id, 20, `"revoked":true`)), store.StatusAdded)
	out := write(t, s, "", indicator(t, id, 40), indicator(t, id, 25), indicator(t, id, 10))
	expect(t, out, store.StatusRejected, store.StatusRejected, store.StatusAdded)
	for _, o := range out[:2] {
		if !errors.Is(o.Err, store.ErrRevoked) {
			t.Errorf("%v, want ErrRevoked", o.Err)
		}
	}
	p, err := s.List(t.Context(), store.Filter{IDs: []string{id}}, store.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := modifiedOf(p.Versions); fmt.Sprint(got) != fmt.Sprint([]string{ts(30)}) {
		t.Errorf("latest version: %v, want %s", got, ts(30))
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Revoked != 1 {
		t.Errorf("Stats.Revoked = %d, want 1", st.Revoked)
	}
}

// testSCO: an object without created or modified has exactly one version.
func testSCO(t *testing.T, s store.Store) {
	id := newID("ipv4-addr")
	out := write(t, s, "", ipv4(t, id, "198.51.100.7"), ipv4(t, id, "198.51.100.7"))
	expect(t, out, store.StatusAdded, store.StatusDuplicate)
	out = write(t, s, "", ipv4(t, id, "198.51.100.7", `"x_note":"other"`))
	expect(t, out, store.StatusRejected)
	if !errors.Is(out[0].Err, store.ErrConflict) {
		t.Errorf("%v, want ErrConflict", out[0].Err)
	}
	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].VersionKey != "" || vs[0].Created != "" || vs[0].Modified != "" {
		t.Errorf("versions: %+v", keysOf(vs))
	}
}

// testSameVersionTwiceInBatch: a batch may repeat a version; the repeat is a duplicate or a conflict.
func testSameVersionTwiceInBatch(t *testing.T, s store.Store) {
	c := collection(t, s, "twice")
	id, id2 := newID("indicator"), newID("indicator")
	out := write(t, s, c.ID, indicator(t, id, 1), indicator(t, id, 1), indicator(t, id2, 1),
		indicator(t, id2, 1, `"description":"other"`))
	expect(t, out, store.StatusAdded, store.StatusDuplicate, store.StatusAdded, store.StatusRejected)
	if !errors.Is(out[3].Err, store.ErrConflict) {
		t.Errorf("%v, want ErrConflict", out[3].Err)
	}
	if !out[1].DateAdded.Equal(out[0].DateAdded) {
		t.Errorf("the repeat's date_added %v differs from the first's %v", out[1].DateAdded, out[0].DateAdded)
	}
	all := listAll(t, s, store.Filter{Collection: c.ID, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10)
	if len(all) != 2 {
		t.Errorf("collection holds %d versions, want 2", len(all))
	}
}

// testBatchAtomic: a batch that fails stores nothing.
func testBatchAtomic(t *testing.T, s store.Store) {
	id := newID("indicator")
	_, err := s.Write(t.Context(), batch(t, "no-such-collection", indicator(t, id, 1)))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Write to an unknown collection: %v, want ErrNotFound", err)
	}
	if _, err := s.Versions(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failed batch left a version behind: %v", err)
	}
	expect(t, write(t, s, "", indicator(t, id, 1)), store.StatusAdded)
}

// testStrictBatch: a strict batch with a rejection stores nothing and says why; without one it is
// written as usual.
func testStrictBatch(t *testing.T, s store.Store) {
	c := collection(t, s, "strict")
	old := newID("indicator")
	expect(t, write(t, s, c.ID, indicator(t, old, 1)), store.StatusAdded)

	fresh := newID("indicator")
	b := batch(t, c.ID, indicator(t, fresh, 1), indicator(t, old, 1, `"description":"conflicting"`), indicator(t, old, 2))
	b.Strict = true
	out, err := s.Write(t.Context(), b)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("strict batch with a conflict: %v, want an error wrapping ErrConflict", err)
	}
	if len(out) != 3 {
		t.Fatalf("%d outcomes, want 3", len(out))
	}
	if out[1].Status != store.StatusRejected || !errors.Is(out[1].Err, store.ErrConflict) {
		t.Errorf("outcome of the conflicting version: %v %v", out[1].Status, out[1].Err)
	}
	if out[0].Err != nil || out[2].Err != nil {
		t.Errorf("outcomes of the good versions carry errors: %v, %v", out[0].Err, out[2].Err)
	}
	if _, err := s.Versions(t.Context(), fresh); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the strict batch stored %s: %v", fresh, err)
	}
	if vs, err := s.Versions(t.Context(), old); err != nil || len(vs) != 1 {
		t.Errorf("the strict batch changed %s: %d versions, %v", old, len(vs), err)
	}
	if vs := listAll(t, s, store.Filter{Collection: c.ID, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10); len(vs) != 1 {
		t.Errorf("the collection holds %d versions after the strict batch, want 1", len(vs))
	}

	b = batch(t, c.ID, indicator(t, fresh, 1), indicator(t, old, 1), indicator(t, old, 2))
	b.Strict = true
	out, err = s.Write(t.Context(), b)
	if err != nil {
		t.Fatalf("strict batch without rejection: %v", err)
	}
	expect(t, out, store.StatusAdded, store.StatusDuplicate, store.StatusAdded)
	if out[0].DateAdded.IsZero() || out[2].DateAdded.IsZero() {
		t.Error("a stored strict batch has no date_added")
	}
}
