package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// obj is a stored version of any type, for CollectObjects.
func obj(typ string, n int, modified, extra string) store.Version {
	id := fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, n)
	raw := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":%q%s}`, typ, id, modified, extra)
	return store.Version{ID: id, Type: typ, SpecVersion: "2.1", Created: "2024-01-01T00:00:00.000Z", Modified: modified,
		VersionKey: modified, Raw: []byte(raw), Label: store.Label{Cell: store.NoLabelCell}}
}

const jan = "2024-01-01T00:00:00.000Z"

func TestCollectObjects(t *testing.T) {
	green := `,"object_marking_refs":["` + stix.TLP2Green + `"]`
	red := `,"object_marking_refs":["` + stix.TLP2Red + `"]`
	revokedRow := obj("note", 4, jan, `,"content":"x","object_refs":["report--1"]`)
	revokedRow.Revoked = true
	vs := []store.Version{
		obj("report", 9, jan, `,"name":"r"`+green),
		obj("indicator", 1, jan, `,"pattern":"[ipv4-addr:value = '192.0.2.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`+green),
		obj("indicator", 2, jan, `,"pattern":"rule x {}","pattern_type":"yara","valid_from":"2024-01-01T00:00:00Z"`),
		obj("indicator", 3, jan, `,"pattern":"[ipv4-addr:value = '192.0.2.3']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","valid_until":"2025-01-01T00:00:00Z"`),
		obj("indicator", 5, jan, `,"pattern":"[ipv4-addr:value = '192.0.2.5']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"`),
		obj("indicator", 6, jan, `,"revoked":true,"pattern":"[ipv4-addr:value = '192.0.2.6']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`),
		revokedRow,
		obj("note", 7, jan, `,"content":"red","object_refs":["report--1"]`+red),
		obj("observed-data", 8, jan, `,"first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z","number_observed":1,"object_refs":["ipv4-addr--1"]`),
	}
	type want struct {
		ids     []string
		reasons map[Reason]int
	}
	tests := []struct {
		name string
		o    Options
		want want
	}{
		{"leaving the organisation", Options{}, want{
			[]string{"indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002",
				"observed-data--00000000-0000-4000-8000-000000000008", "report--00000000-0000-4000-8000-000000000009"},
			map[Reason]int{ReasonExpired: 1, ReasonNotYetValid: 1, ReasonRevoked: 2, ReasonTLP: 1}}},
		{"internal: the RED note too", Options{Internal: true}, want{
			[]string{"indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002",
				"note--00000000-0000-4000-8000-000000000007", "observed-data--00000000-0000-4000-8000-000000000008",
				"report--00000000-0000-4000-8000-000000000009"},
			map[Reason]int{ReasonExpired: 1, ReasonNotYetValid: 1, ReasonRevoked: 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Now = now
			// Any order gives the same set, sorted by id.
			for _, order := range [][]store.Version{vs, reversed(vs)} {
				set, err := CollectObjects(t.Context(), seqOf(order), tc.o)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, o := range set.Objects {
					got = append(got, o.ID)
				}
				if !slices.Equal(got, tc.want.ids) {
					t.Errorf("exported %v, want %v", got, tc.want.ids)
				}
				if set.Report.Exported != len(tc.want.ids) || set.Report.Read != len(vs) || set.Report.Skipped() != len(vs)-len(tc.want.ids) {
					t.Errorf("report %+v", set.Report)
				}
				for r, n := range tc.want.reasons {
					if set.Report.Counts[r] != n {
						t.Errorf("%s: %d, want %d", r, set.Report.Counts[r], n)
					}
				}
			}
		})
	}
	t.Run("TLP of each object: the store's label, else markings, else the default", func(t *testing.T) {
		labelled := obj("note", 20, jan, `,"content":"x","object_refs":["report--1"]`+green)
		labelled.Label = store.Label{Cell: uint8(stix.TLPAmber)}
		set, err := CollectObjects(t.Context(), seqOf([]store.Version{labelled, obj("note", 21, jan, `,"content":"x","object_refs":["report--1"]`+green),
			obj("note", 22, jan, `,"content":"x","object_refs":["report--1"]`)}), Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		var got []stix.TLP
		for _, o := range set.Objects {
			got = append(got, o.TLP)
		}
		if want := []stix.TLP{stix.TLPAmber, stix.TLPGreen, stix.TLPAmber}; !slices.Equal(got, want) {
			t.Errorf("TLPs %v, want %v", got, want)
		}
	})
}

func reversed(vs []store.Version) []store.Version {
	out := slices.Clone(vs)
	slices.Reverse(out)
	return out
}

func TestCollectObjectsLatestVersion(t *testing.T) {
	old := obj("note", 1, jan, `,"content":"old","object_refs":["report--1"]`)
	newer := obj("note", 1, "2024-02-01T00:00:00.000Z", `,"content":"new","object_refs":["report--1"]`)
	for _, order := range [][]store.Version{{old, newer}, {newer, old}} {
		set, err := CollectObjects(t.Context(), seqOf(order), Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Objects) != 1 || !bytes.Contains(set.Objects[0].Raw, []byte(`"new"`)) || set.Report.Counts[ReasonSuperseded] != 1 {
			t.Errorf("%d objects, report %+v", len(set.Objects), set.Report)
		}
	}
}

func TestCollectObjectsPersonalData(t *testing.T) {
	vs := []store.Version{
		obj("note", 1, jan, `,"content":"call 090-1234-5678","object_refs":["report--1"]`),
		obj("indicator", 2, jan, `,"name":"from 090-1234-5678","pattern":"[ipv4-addr:value = '192.0.2.2']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`),
		obj("indicator", 3, jan, `,"pattern":"[url:value = 'http://x.example/?tel=090-1234-5678']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`),
		obj("note", 4, jan, `,"content":"clean","object_refs":["report--1"]`),
	}
	t.Run("redact", func(t *testing.T) {
		set, err := CollectObjects(t.Context(), seqOf(vs), Options{Now: now, PII: &pii.Policy{Mode: pii.ModeRedact}})
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Objects) != 3 || set.Report.Redacted != 2 || set.Report.Counts[ReasonPersonalPat] != 1 {
			t.Fatalf("%d objects, report %+v", len(set.Objects), set.Report)
		}
		for _, o := range set.Objects {
			if bytes.Contains(o.Raw, []byte("090-1234-5678")) {
				t.Errorf("%s carries the number: %s", o.ID, o.Raw)
			}
		}
		if !bytes.Contains(vs[0].Raw, []byte("090-1234-5678")) {
			t.Error("the stored bytes changed")
		}
	})
	t.Run("block", func(t *testing.T) {
		set, err := CollectObjects(t.Context(), seqOf(vs), Options{Now: now, PII: &pii.Policy{Mode: pii.ModeBlock}})
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Objects) != 1 || set.Objects[0].ID != "note--00000000-0000-4000-8000-000000000004" || set.Report.Counts[ReasonPersonal] != 3 {
			t.Errorf("%d objects, report %+v", len(set.Objects), set.Report)
		}
	})
}

func TestCollectObjectsErrors(t *testing.T) {
	vs := []store.Version{obj("note", 1, jan, `,"content":"a","object_refs":["report--1"]`), obj("note", 2, jan, `,"content":"b","object_refs":["report--1"]`)}
	if _, err := CollectObjects(t.Context(), seqOf(vs), Options{}); err == nil {
		t.Error("no Now: no error")
	}
	if _, err := CollectObjects(t.Context(), seqOf(vs), Options{Now: now, MaxObjects: 1}); !errors.Is(err, ErrTooMany) {
		t.Errorf("over the limit: %v", err)
	}
	failing := func(yield func(store.Version, error) bool) { yield(store.Version{}, io.ErrUnexpectedEOF) }
	if _, err := CollectObjects(t.Context(), failing, Options{Now: now}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a failing sequence: %v", err)
	}
	bad := obj("note", 3, jan, "")
	bad.Raw = []byte("not json")
	set, err := CollectObjects(t.Context(), seqOf([]store.Version{bad}), Options{Now: now})
	if err != nil || len(set.Objects) != 0 || set.Report.Counts[ReasonInvalid] != 1 {
		t.Errorf("bad bytes: %v %+v", err, set)
	}
}
