package policy

import (
	"github.com/renkei-cti/renkei/internal/stix"
)

// Cell numbers a (distribution, TLP) pair of an effective label: distribution × 8 + TLP. A store
// keeps it as one small integer column so that a read filter is a few IN lists (see ReadScope).
func Cell(d Distribution, t stix.TLP) uint8 { return uint8(d)<<3 | uint8(t) }

// CellOf returns the cell of a label, after the normalisation Can applies.
func CellOf(l Label) uint8 {
	l = l.normal()
	return Cell(l.Distribution, l.TLP)
}

// CellSet is a set of cells.
type CellSet uint64

// Has reports whether the set holds the cell.
func (s CellSet) Has(c uint8) bool { return c < 64 && s&(1<<c) != 0 }

// Cells lists the cells of the set in increasing order, for an SQL IN list.
func (s CellSet) Cells() []uint8 {
	var out []uint8
	for c := uint8(0); c < 64; c++ {
		if s.Has(c) {
			out = append(out, c)
		}
	}
	return out
}

// ReadScope is the set of labels one viewer may read, in a form a store can turn into a query, so
// that a TAXII page is filtered in SQL rather than after the fact:
//
//	   (owner = Org AND cell IN Owner)
//	OR (group IN Groups AND cell IN Group)
//	OR (owner <> Org AND owner_local AND cell IN LocalOwner)
//	OR (owner <> Org AND NOT owner_local AND cell IN RemoteOwner)
//
// where owner, owner_local, group and cell are the label's columns (an ownerless label has owner
// "" and owner_local false). Scope.Allows evaluates the same expression; a test checks it agrees
// with Can for every label. Each object that leaves must still pass Can: the scope narrows the
// query, it does not replace the decision.
type ReadScope struct {
	Org         string
	Groups      []string
	Owner       CellSet // cells readable on labels owned by Org
	Group       CellSet // cells readable on labels addressed to one of Groups
	LocalOwner  CellSet // cells readable on labels of another organisation hosted here
	RemoteOwner CellSet // cells readable on labels of an organisation hosted elsewhere, or of none
}

// Placeholders Scope uses for "an organisation that is not the viewer's" and "a group the viewer
// is not in". They start with a NUL byte, so no identity id or group id can equal them.
const (
	otherOrg   = "\x00other-organisation"
	otherGroup = "\x00other-group"
)

// Scope computes the read scope of a viewer by asking Can about one label per cell and relation,
// so it cannot disagree with Can. A viewer that may read nothing gets the zero scope.
func Scope(v Viewer) ReadScope {
	if v.Org == "" {
		return ReadScope{}
	}
	s := ReadScope{Org: v.Org, Groups: v.Groups}
	read := func(l Label) bool { return Can(v, ActionRead, l).Allow }
	for d := DistOrganisation; d <= DistAll; d++ {
		for t := stix.TLPClear; t <= stix.TLPRed; t++ {
			bit := CellSet(1) << Cell(d, t)
			grp := ""
			if d == DistGroup {
				grp = otherGroup
			}
			if read(Label{TLP: t, Distribution: d, Group: grp, Owner: v.Org, OwnerLocal: v.Local}) {
				s.Owner |= bit
			}
			if d == DistGroup && len(v.Groups) > 0 {
				// Ask with an owner hosted here and one hosted elsewhere and keep what both allow,
				// so that the group term never depends on where the owner lives.
				g := v.Groups[0]
				if read(Label{TLP: t, Distribution: d, Group: g, Owner: otherOrg, OwnerLocal: true}) &&
					read(Label{TLP: t, Distribution: d, Group: g, Owner: otherOrg}) {
					s.Group |= bit
				}
			}
			if read(Label{TLP: t, Distribution: d, Group: grp, Owner: otherOrg, OwnerLocal: true}) {
				s.LocalOwner |= bit
			}
			if read(Label{TLP: t, Distribution: d, Group: grp, Owner: otherOrg}) {
				s.RemoteOwner |= bit
			}
		}
	}
	return s
}

// Allows evaluates the scope's expression on a label, term by term, as the store's query would.
func (s ReadScope) Allows(l Label) bool {
	if s.Org == "" {
		return false
	}
	l = l.normal()
	c := CellOf(l)
	if l.Owner == s.Org && s.Owner.Has(c) {
		return true
	}
	if l.Distribution == DistGroup && s.Group.Has(c) {
		for _, g := range s.Groups {
			if g == l.Group {
				return true
			}
		}
	}
	if l.Owner != s.Org && l.OwnerLocal && s.LocalOwner.Has(c) {
		return true
	}
	return l.Owner != s.Org && !l.OwnerLocal && s.RemoteOwner.Has(c)
}
