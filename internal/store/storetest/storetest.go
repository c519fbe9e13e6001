// Package storetest owns the conformance suite of renkei's stores: Run exercises a store.Store through
// its interfaces only, so that every backend (SQLite, PostgreSQL) is held to the same behaviour. It
// holds nothing specific to one backend.
package storetest

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Run runs the conformance suite. open returns a new, empty store for each subtest; it registers the
// store's Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RawRoundTrip", testRawRoundTrip},
		{"Duplicate", testDuplicate},
		{"Conflict", testConflict},
		{"VersionsAndLatest", testVersionsAndLatest},
		{"Revocation", testRevocation},
		{"RevocationOutOfOrder", testRevocationOutOfOrder},
		{"SCOSingleVersion", testSCO},
		{"SameVersionTwiceInBatch", testSameVersionTwiceInBatch},
		{"BatchAtomic", testBatchAtomic},
		{"StrictBatch", testStrictBatch},
		{"Collections", testCollections},
		{"DateAddedIncreases", testDateAdded},
		{"DuplicateJoinsCollection", testDuplicateJoinsCollection},
		{"Paging", testPaging},
		{"PagingWhileWriting", testPagingWhileWriting},
		{"FilterFields", testFilterFields},
		{"VersionMatch", testVersionMatch},
		{"AddedAfter", testAddedAfter},
		{"Owner", testOwner},
		{"SpecVersionForms", testSpecVersionForms},
		{"SpecVersionLatest", testSpecVersionLatest},
		{"SpecVersionRevocation", testSpecVersionRevocation},
		{"SpecVersionFilter", testSpecVersionFilter},
		{"SpecVersionPaging", testSpecVersionPaging},
		{"ScanEqualsPaging", testScanEqualsPaging},
		{"ScanStops", testScanStops},
		{"Related", testRelated},
		{"ObservableVersions", testObservableVersions},
		{"Organisations", testOrganisations},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Node", testNode},
		{"Stats", testStats},
		{"CheckClean", testCheckClean},
		{"Concurrent", testConcurrent},
		{"Grants", testGrants},
		{"RemoveFromCollection", testRemoveFromCollection},
		{"Statuses", testStatuses},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// newID makes a new, valid STIX id.
func newID(typ string) string { return typ + "--" + uuid.NewString() }

// ts returns the STIX timestamp n seconds after 2020-01-01, with millisecond precision.
func ts(n int) string {
	return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second).Format("2006-01-02T15:04:05.000Z")
}

// key returns the version key of a timestamp text.
func key(t *testing.T, s string) string {
	t.Helper()
	v, err := stix.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return v.Key()
}

// decode decodes one object, failing the test when it is not valid.
func decode(t testing.TB, raw string) *stix.Object {
	t.Helper()
	o, err := stix.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("test object does not decode: %v\n%s", err, raw)
	}
	return o
}

// indicator builds a valid indicator version; extra holds further `"name": value` members.
func indicator(t testing.TB, id string, modified int, extra ...string) *stix.Object {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,`+
		`"name":"test indicator","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",`+
		`"valid_from":%q`, id, ts(0), ts(modified), ts(0))
	for _, e := range extra {
		b.WriteString(",")
		b.WriteString(e)
	}
	b.WriteString("}")
	return decode(t, b.String())
}

// ipv4 builds an ipv4-addr SCO; extra holds further members.
func ipv4(t testing.TB, id, value string, extra ...string) *stix.Object {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":%q,"value":%q`, id, value)
	for _, e := range extra {
		raw += "," + e
	}
	return decode(t, raw+"}")
}

// digest is the SHA-256 of the RFC 8785 canonical form, as ingest computes it.
func digest(t testing.TB, raw []byte) [sha256.Size]byte {
	t.Helper()
	d, err := stix.Digest(raw)
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

func batch(t testing.TB, coll string, objs ...*stix.Object) store.Batch {
	t.Helper()
	b := store.Batch{Collection: coll}
	for _, o := range objs {
		b.Versions = append(b.Versions, store.NewVersion{Object: o, Digest: digest(t, o.Raw)})
	}
	return b
}

// write writes objects in one batch and fails the test on error.
func write(t testing.TB, s store.Store, coll string, objs ...*stix.Object) []store.Outcome {
	t.Helper()
	out, err := s.Write(t.Context(), batch(t, coll, objs...))
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(out) != len(objs) {
		t.Fatalf("Write returned %d outcomes for %d versions", len(out), len(objs))
	}
	return out
}

// expect checks the statuses of outcomes.
func expect(t testing.TB, out []store.Outcome, want ...store.Status) {
	t.Helper()
	if len(out) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(out), len(want))
	}
	for i := range want {
		if out[i].Status != want[i] {
			t.Errorf("outcome %d: %v (err %v), want %v", i, out[i].Status, out[i].Err, want[i])
		}
		if (out[i].Status == store.StatusRejected) != (out[i].Err != nil) {
			t.Errorf("outcome %d: status %v with error %v", i, out[i].Status, out[i].Err)
		}
	}
}

func collection(t testing.TB, s store.Store, alias string) store.Collection {
	t.Helper()
	c := store.Collection{
		ID:          uuid.NewString(),
		Alias:       alias,
		Title:       "Collection " + alias,
		Description: "for tests",
		CreatedAt:   time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
	}
	if err := s.CreateCollection(t.Context(), c); err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	return c
}

// listAll pages through a query with the given page size.
func listAll(t testing.TB, s store.Store, f store.Filter, limit int) []store.Version {
	t.Helper()
	var (
		all   []store.Version
		after store.Cursor
	)
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatal("List does not end")
		}
		p, err := s.List(t.Context(), f, after, limit)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(p.Versions) > limit {
			t.Fatalf("List returned %d versions for limit %d", len(p.Versions), limit)
		}
		all = append(all, p.Versions...)
		if !p.More {
			return all
		}
		if len(p.Versions) == 0 {
			t.Fatal("List returned an empty page with More set")
		}
		after = p.Next
	}
}

// vkey identifies a version in comparisons.
type vkey struct{ id, key string }

func keysOf(vs []store.Version) []vkey {
	out := make([]vkey, len(vs))
	for i, v := range vs {
		out[i] = vkey{v.ID, v.VersionKey}
	}
	return out
}

func equalKeys(a, b []vkey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
