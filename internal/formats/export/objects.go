package export

import (
	"context"
	"errors"
	"iter"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Object is one STIX object an object export (a MISP event) carries: the bytes to write (the
// personal-data guard's copy when it rewrote them) and the TLP the object is shared under.
type Object struct {
	ID       string
	Type     string
	Modified string // as written; "" when absent
	Raw      []byte
	TLP      stix.TLP
}

// ObjectSet is what CollectObjects chose, sorted by id, with the report of how.
type ObjectSet struct {
	Objects []Object
	Report  Report // Exported counts the objects
}

// DefaultMaxObjects is the default bound of Options.MaxObjects.
const DefaultMaxObjects = 1 << 20

// objectDoc is the part of any object CollectObjects reads.
type objectDoc struct {
	Type              string            `json:"type"`
	Revoked           bool              `json:"revoked"`
	ValidFrom         string            `json:"valid_from"`
	ValidUntil        string            `json:"valid_until"`
	ObjectMarkingRefs []string          `json:"object_marking_refs"`
	GranularMarkings  []granularMarking `json:"granular_markings"`
}

// CollectObjects is Collect for the exports that carry STIX objects of several types rather than
// the values of indicators (a MISP event): it reads versions (already filtered by the policy for the
// viewer) and keeps, of each id, the latest version that may leave, by the same rules as Collect:
//
//   - revoked objects (the stored row or the revoked property) are left out;
//   - indicators only when active: valid_from ≤ now < valid_until (any pattern_type: the format
//     decides what it can carry);
//   - the TLP rule of the destination (docs/EXPORT.md) applies to every object;
//   - with Options.PII, every object passes the personal-data guard: blocked objects are left out,
//     rewritten ones are exported as rewritten, and an indicator with personal data in its pattern is
//     left out (its values would be personal).
//
// The objects are sorted by id, so the same versions in any order give the same set. An error of
// the sequence ends CollectObjects with that error.
func CollectObjects(ctx context.Context, versions iter.Seq2[store.Version, error], o Options) (*ObjectSet, error) {
	if o.Now.IsZero() {
		return nil, errors.New("export: Options.Now is not set")
	}
	limit := o.MaxObjects
	if limit <= 0 {
		limit = DefaultMaxObjects
	}
	set := &ObjectSet{}
	var err error
	set.Objects, err = latest(ctx, versions, &set.Report, limit, "objects", o.object,
		func(obj *Object) (string, string) { return obj.ID, obj.Modified })
	if err != nil {
		return nil, err
	}
	rep := &set.Report
	rep.Exported = len(set.Objects)
	return set, nil
}

// object decides whether one version may leave, and in which form.
func (o *Options) object(v *store.Version) (obj Object, reason Reason, detail string, redacted bool) {
	if v.Revoked {
		return obj, ReasonRevoked, "", false
	}
	raw := v.Raw
	var doc objectDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return obj, ReasonInvalid, "not a JSON object", false
	}
	if doc.Revoked {
		return obj, ReasonRevoked, "", false
	}
	if v.Type == "indicator" {
		from, err1 := optTime(doc.ValidFrom)
		until, err2 := optTime(doc.ValidUntil)
		switch {
		case err1 != nil || err2 != nil:
			return obj, ReasonInvalid, "bad valid_from or valid_until", false
		case !from.IsZero() && from.After(o.Now):
			return obj, ReasonNotYetValid, doc.ValidFrom, false
		case !until.IsZero() && !until.After(o.Now):
			return obj, ReasonExpired, doc.ValidUntil, false
		}
	}
	tlp := tlpOf(v, doc.ObjectMarkingRefs, doc.GranularMarkings, o.DefaultTLP)
	if !o.Internal && tlp >= stix.TLPAmberStrict {
		return obj, ReasonTLP, tlp.String(), false
	}
	if o.PII != nil {
		out, findings, err := pii.Apply(raw, *o.PII)
		if err != nil {
			return obj, ReasonPersonal, findingsDetail(findings), false
		}
		if v.Type == "indicator" {
			for _, f := range findings {
				if f.Path == "/pattern" {
					return obj, ReasonPersonalPat, string(f.Rule), false
				}
			}
		}
		if len(findings) > 0 {
			raw, redacted = out, true
		}
	}
	return Object{ID: v.ID, Type: v.Type, Modified: v.Modified, Raw: raw, TLP: tlp}, "", "", redacted
}
