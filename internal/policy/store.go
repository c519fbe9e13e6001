package policy

import (
	"errors"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Labeler labels every form a store writes (store.Labeler), with Classify and the node's default
// TLP. It asks the store, inside the write transaction, which marking definitions it holds and who
// owns the sharing groups managed on this node.
type Labeler struct {
	// Default is the TLP level of objects without a TLP marking; TLPNone means DefaultTLP.
	Default stix.TLP
}

var _ store.Labeler = Labeler{}

// Label implements store.Labeler.
func (l Labeler) Label(obj *stix.Object, dir store.LabelDirectory) store.Labeling {
	d := &storeDir{dir: dir}
	lab := Classify(obj, d, l.Default)
	return store.Labeling{Label: store.Label{Cell: CellOf(lab), Group: lab.normal().Group}, Unresolved: d.unresolved}
}

// storeDir answers Classify from a store, and notes the marking definitions it could not resolve.
type storeDir struct {
	dir        store.LabelDirectory
	unresolved []string
}

// Marking: a marking definition the store does not hold is unknown until it arrives. A sharing
// group's revision is trusted only when this node manages the group and the revision was created by
// the group's owner; any other (a group managed elsewhere, until federation establishes whom to
// trust, or a forged revision) stays unknown. A malformed sharing-group marking is unknown; any
// other marking definition says nothing about distribution.
func (d *storeDir) Marking(id string) (MarkingKind, string) {
	md, ok := d.dir.MarkingDefinition(id)
	if !ok {
		d.unresolved = append(d.unresolved, id)
		return MarkingUnknown, ""
	}
	g, err := ParseSharingGroupMarking(md)
	switch {
	case errors.Is(err, ErrNotSharingGroup):
		return MarkingOther, ""
	case err != nil:
		return MarkingUnknown, ""
	}
	if owner, ok := d.dir.GroupOwner(g.ID); ok && owner == g.Owner && md.CreatedByRef == owner {
		return MarkingGroup, g.ID
	}
	d.unresolved = append(d.unresolved, id)
	return MarkingUnknown, ""
}

// IsLocal is not asked of the store: it keeps the owner and answers at read time whether the owner
// is hosted here, so that adding an organisation needs no relabelling.
func (d *storeDir) IsLocal(string) bool { return false }

// StoreScope is the read scope of a viewer in the form a store queries (store.ReadScope).
func StoreScope(v Viewer) *store.ReadScope {
	s := Scope(v)
	return &store.ReadScope{Org: s.Org, Groups: s.Groups, Owner: uint64(s.Owner), Group: uint64(s.Group),
		LocalOwner: uint64(s.LocalOwner), RemoteOwner: uint64(s.RemoteOwner)}
}

// LabelFromCell rebuilds a label from what a store keeps.
func LabelFromCell(l store.Label, owner string, ownerLocal bool) Label {
	return Label{TLP: stix.TLP(l.Cell & 7), Distribution: Distribution(l.Cell >> 3), Group: l.Group,
		Owner: owner, OwnerLocal: ownerLocal}
}

// CanVersion decides an action on a stored form: the policy must allow it on both the form's own
// label and its object's latest label (docs/POLICY.md, "Versions"). Every read path calls it on
// every form it returns, even when the store's query was already narrowed by StoreScope.
func CanVersion(v Viewer, a Action, ver *store.Version) Decision {
	if ver.Label.Cell == store.NoLabelCell || ver.Object.Cell == store.NoLabelCell {
		return deny(DenyDistribution) // written without a Labeler: for the operator's eyes only
	}
	if d := Can(v, a, LabelFromCell(ver.Label, ver.CreatedByRef, ver.OwnerLocal)); !d.Allow {
		return d
	}
	return Can(v, a, LabelFromCell(ver.Object.Label, ver.Object.Owner, ver.Object.OwnerLocal))
}
