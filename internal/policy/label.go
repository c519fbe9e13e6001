package policy

import (
	"github.com/renkei-cti/renkei/internal/stix"
)

// Label is what the policy needs to know about one object version. Classify computes it; a store
// keeps it beside the version (see docs/POLICY.md, "What the store keeps"). The zero Label is the
// most restrictive: TLP:RED, distribution organisation, no owner — nobody may read or write it.
type Label struct {
	// TLP is the effective level: the most restrictive TLP marking, else the node's default.
	// TLPNone (or any value out of range) is treated as TLP:RED.
	TLP stix.TLP
	// Distribution is the effective distribution. DistUnset is treated as DistOrganisation.
	Distribution Distribution
	// Group is the sharing group's id when Distribution is DistGroup. A DistGroup label with no Group
	// is treated as DistOrganisation.
	Group string
	// Owner is the identity id of the creator organisation (created_by_ref); "" when the object
	// names none. Nobody is the owner of an ownerless object.
	Owner string
	// OwnerLocal is true when the owner organisation is hosted on this node.
	OwnerLocal bool
}

// MarkingKind is what the node knows of a marking definition that is neither a TLP marking nor one
// of renkei's fixed distribution markings.
type MarkingKind uint8

const (
	// MarkingUnknown: the node does not hold this marking definition, or holds a sharing-group
	// revision it does not trust, or one that is malformed. It might restrict distribution, so it
	// counts as distribution organisation.
	MarkingUnknown MarkingKind = iota
	// MarkingGroup: a trusted revision of a sharing group.
	MarkingGroup
	// MarkingOther: a marking definition the node holds that does not restrict distribution (a
	// statement, a copyright, PAP…).
	MarkingOther
)

// Directory is what Classify asks the node about. A store implements it from its marking,
// organisation and sharing-group tables. Implementations must be safe for concurrent use.
type Directory interface {
	// Marking says what the marking definition with this id is; with MarkingGroup, groupID is the
	// sharing group's id.
	Marking(markingID string) (kind MarkingKind, groupID string)
	// IsLocal reports whether the organisation with this identity id is hosted on this node.
	IsLocal(orgID string) bool
}

// DefaultTLP is the level of unmarked objects unless the node is configured otherwise.
const DefaultTLP = stix.TLPAmber

// DefaultDistribution returns the distribution of an object that carries no distribution marking:
// the audience its TLP level implies (docs/POLICY.md, "Unmarked objects"). CLEAR reaches everyone,
// GREEN the community and the federation, and anything stricter only the owner organisation.
func DefaultDistribution(t stix.TLP) Distribution {
	switch t {
	case stix.TLPClear:
		return DistAll
	case stix.TLPGreen:
		return DistFederation
	}
	return DistOrganisation
}

// Classify computes the label of an object version.
//
//   - The predefined definitions (the TLP 1.0 and 2.0 marking definitions, the TLP 2.0
//     extension-definition, renkei's identity, extension-definition and distribution markings)
//     are TLP:CLEAR, distribution all, and have no owner: everyone reads them, nobody changes them.
//   - TLP is the most restrictive TLP marking among object_marking_refs and granular markings
//     (renkei cannot redact part of an object, so the strictest part governs the whole), else
//     nodeDefault (TLPNone means DefaultTLP).
//   - Distribution is the meet of every distribution marking, fixed ids and trusted sharing groups
//     alike, else DefaultDistribution of the TLP. A marking definition dir does not know (or a nil
//     dir) counts as organisation: it may be a sharing group not yet received or not trusted. A
//     sharing group's own marking definition is addressed to its group.
//   - Owner is created_by_ref; OwnerLocal asks dir.
//
// Marking definitions dir knows to say nothing about distribution (statements, copyright, PAP…)
// do not change the label.
func Classify(obj *stix.Object, dir Directory, nodeDefault stix.TLP) Label {
	if isPredefined(obj.ID) {
		return Label{TLP: stix.TLPClear, Distribution: DistAll}
	}
	var (
		tlp   = stix.TLPNone
		dist  = DistUnset
		group string
	)
	add := func(id string) {
		if l, ok := stix.TLPLevel(id); ok {
			tlp = max(tlp, l)
			return
		}
		if d, ok := DistributionLevel(id); ok {
			dist, group = meet(dist, group, d, "")
			return
		}
		kind, g := MarkingUnknown, ""
		if dir != nil {
			kind, g = dir.Marking(id)
		}
		switch {
		case kind == MarkingGroup && g != "":
			dist, group = meet(dist, group, DistGroup, g)
		case kind == MarkingOther:
		default:
			// It might be a sharing group this node does not know or trust yet: the owner only.
			dist, group = meet(dist, group, DistOrganisation, "")
		}
	}
	for _, id := range obj.ObjectMarkingRefs {
		add(id)
	}
	for _, e := range obj.Edges {
		if e.Type == "marking_ref" {
			add(e.Target)
		}
	}
	if obj.Type == "marking-definition" {
		// A sharing group's marking definition is addressed to the group itself: its members list
		// is for the members (and the owner) to see.
		if g, err := ParseSharingGroupMarking(obj); err == nil {
			dist, group = meet(dist, group, DistGroup, g.ID)
		}
	}
	if tlp == stix.TLPNone {
		tlp = nodeDefault
		if tlp == stix.TLPNone || tlp > stix.TLPRed {
			tlp = DefaultTLP
		}
	}
	if dist == DistUnset {
		dist = DefaultDistribution(tlp)
	}
	l := Label{TLP: tlp, Distribution: dist, Group: group, Owner: obj.CreatedByRef}
	if l.Owner != "" && dir != nil {
		l.OwnerLocal = dir.IsLocal(l.Owner)
	}
	return l
}

// meet combines two distributions into the widest audience contained in both, in the lattice
// all > federation > community > organisation and sharing group > organisation. A sharing group is
// comparable with nothing else, not even all: a group names its recipients and all names none, and
// TLP:RED and AMBER+STRICT reach named recipients only, so "all" is not wider than a group. A group
// with any other distribution, or two different groups, leave the owner organisation. DistUnset is
// the neutral element.
func meet(a Distribution, ga string, b Distribution, gb string) (Distribution, string) {
	switch {
	case a == DistUnset:
		return b, gb
	case b == DistUnset:
		return a, ga
	case a == DistGroup || b == DistGroup:
		if a == b && ga == gb {
			return DistGroup, ga
		}
		return DistOrganisation, ""
	case a == DistOrganisation || b == DistOrganisation:
		return DistOrganisation, ""
	}
	// Both among community < federation < all.
	return min(a, b), ""
}

// normal returns the label as Can reads it: out-of-range values replaced by the most restrictive.
func (l Label) normal() Label {
	if l.TLP == stix.TLPNone || l.TLP > stix.TLPRed {
		l.TLP = stix.TLPRed
	}
	switch {
	case l.Distribution == DistUnset || l.Distribution > DistAll:
		l.Distribution, l.Group = DistOrganisation, ""
	case l.Distribution == DistGroup && l.Group == "":
		l.Distribution = DistOrganisation
	case l.Distribution != DistGroup:
		l.Group = ""
	}
	return l
}
