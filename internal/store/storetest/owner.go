package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// writeAs writes objects in one batch on behalf of the organisation owner.
func writeAs(t *testing.T, s store.Store, owner string, objs ...*stix.Object) []store.Outcome {
	t.Helper()
	b := batch(t, "", objs...)
	b.Owner = owner
	out, err := s.Write(t.Context(), b)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out
}

// testOwner: a batch written on behalf of an organisation may add versions only of objects that
// organisation created, naming itself as creator; the refusal reads the same whether or not the
// object exists. Duplicates and the operator's own batches (no Owner) are unaffected.
func testOwner(t *testing.T, s store.Store) {
	orgA, orgB := newID("identity"), newID("identity")
	by := func(org string) string { return fmt.Sprintf(`"created_by_ref":%q`, org) }
	forbidden := func(t *testing.T, o store.Outcome) {
		t.Helper()
		if o.Status != store.StatusRejected || !errors.Is(o.Err, store.ErrForbidden) {
			t.Fatalf("outcome %v (%v), want rejected with ErrForbidden", o.Status, o.Err)
		}
	}

	id := newID("indicator")
	expect(t, writeAs(t, s, orgA, indicator(t, id, 1, by(orgA))), store.StatusAdded)
	// The creator adds a version, and revokes.
	expect(t, writeAs(t, s, orgA, indicator(t, id, 2, by(orgA))), store.StatusAdded)
	// Another organisation cannot add a version, whether it names itself or the creator.
	forbidden(t, writeAs(t, s, orgB, indicator(t, id, 3, by(orgB)))[0])
	forbidden(t, writeAs(t, s, orgB, indicator(t, id, 3, by(orgA)))[0])
	forbidden(t, writeAs(t, s, orgB, indicator(t, id, 3, by(orgA), `"revoked":true`))[0])
	// An exact duplicate is a duplicate, whoever sends it.
	expect(t, writeAs(t, s, orgB, indicator(t, id, 2, by(orgA))), store.StatusDuplicate)

	// A new object must name the writer as its creator; an unowned SDO is refused.
	forbidden(t, writeAs(t, s, orgB, indicator(t, newID("indicator"), 1, by(orgA)))[0])
	forbidden(t, writeAs(t, s, orgB, indicator(t, newID("indicator"), 1))[0])
	// The refusal for a missing object and for another's object reads the same.
	missing := newID("indicator")
	a := writeAs(t, s, orgB, indicator(t, missing, 1, by(orgA)))[0].Err.Error()
	b := writeAs(t, s, orgB, indicator(t, id, 9, by(orgA)))[0].Err.Error()
	if len(a) != len(b) || a[:20] != b[:20] {
		t.Errorf("refusals differ in shape: %q and %q", a, b)
	}

	// Within one batch: the first version decides the creator for the next.
	id2 := newID("indicator")
	expect(t, writeAs(t, s, orgA, indicator(t, id2, 1, by(orgA)), indicator(t, id2, 2, by(orgB))),
		store.StatusAdded, store.StatusRejected)

	// A new SCO without created_by_ref is accepted.
	expect(t, writeAs(t, s, orgB, ipv4(t, newID("ipv4-addr"), "203.0.113.77")), store.StatusAdded)

	// The node operator's own batches carry no owner and are not restricted.
	expect(t, write(t, s, "", indicator(t, id, 10, by(orgA))), store.StatusAdded)

	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("%d versions stored, want 3 (1, 2 and the operator's 10)", len(vs))
	}
}
