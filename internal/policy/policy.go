package policy

import (
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Viewer is who asks: an authenticated user or peer account. The server builds it from the token
// after authentication; nothing in a request body or header may set any field of it.
type Viewer struct {
	UserID string
	Role   store.Role
	// Org is the identity id of the viewer's organisation; for a peer, the organisation the peer
	// node represents. A Viewer with no Org may do nothing.
	Org string
	// Node is the id of the node the viewer's organisation is hosted on (for audit records; the
	// decision uses Local).
	Node string
	// Local is true when the viewer's organisation is hosted on this node. A peer is never local,
	// whatever this says.
	Local bool
	// Groups are the ids of the sharing groups the viewer is a recipient of: the groups its
	// organisation is a member of (for a peer: the groups with a member organisation hosted on the
	// peer's node) or owns.
	Groups []string
}

// Action is what the viewer wants to do with an object.
type Action uint8

const (
	// ActionRead covers every way of seeing an object or learning of it: get, list, manifest,
	// versions, search, export, counts and totals, correlation results, matcher hits, streams, the UI.
	ActionRead Action = iota + 1
	// ActionWrite adds an object or a new version of one (created_by_ref names the owner).
	ActionWrite
	// ActionRevoke adds the version that revokes an object.
	ActionRevoke
	// ActionShare pushes or relays the object to the peer node the viewer (a peer account) stands for.
	ActionShare
)

func (a Action) String() string {
	switch a {
	case ActionRead:
		return "read"
	case ActionWrite:
		return "write"
	case ActionRevoke:
		return "revoke"
	case ActionShare:
		return "share"
	}
	return "unknown"
}

// Relation is how the viewer relates to an object's owner. The first that holds applies.
type Relation uint8

const (
	RelSameOrg   Relation = iota + 1 // the viewer's organisation is the owner
	RelSameGroup                     // the object is addressed to a sharing group the viewer is a recipient of
	RelSameNode                      // viewer and owner are both hosted on this node
	RelFederated                     // one of viewer and owner is hosted here, the other on a peer node
	RelNone                          // neither is hosted here: passing it on would be a relay
)

func (r Relation) String() string {
	switch r {
	case RelSameOrg:
		return "same-org"
	case RelSameGroup:
		return "same-group"
	case RelSameNode:
		return "same-node"
	case RelFederated:
		return "federated"
	case RelNone:
		return "none"
	}
	return "unknown"
}

// Relate returns the relation of a viewer to the owner of a label.
func Relate(v *Viewer, l *Label) Relation {
	if l.Owner != "" && l.Owner == v.Org {
		return RelSameOrg
	}
	if l.Distribution == DistGroup && l.Group != "" {
		for _, g := range v.Groups {
			if g == l.Group {
				return RelSameGroup
			}
		}
	}
	local := v.Local && v.Role != store.RolePeer
	switch {
	case local && l.OwnerLocal:
		return RelSameNode
	case local != l.OwnerLocal:
		return RelFederated
	}
	return RelNone
}

// Reason says why a decision was made, for audit records and logs. It is never shown to a client
// whose read was denied: a hidden object is indistinguishable from a missing one.
type Reason uint8

const (
	ReasonOwner       Reason = iota + 1 // allowed: the viewer's organisation owns the object
	ReasonShared                        // allowed: the TLP and the distribution reach the viewer
	ReasonRole                          // allowed: the role may do this (admin actions)
	DenyInvalidViewer                   // denied: the viewer has no organisation or an unknown role
	DenyRole                            // denied: the role may not do this
	DenyNotOwner                        // denied: only the owner organisation may do this
	DenyDistribution                    // denied: the distribution does not reach the viewer
	DenyTLP                             // denied: the TLP level does not reach the viewer
	DenyOtherOrg                        // denied: an administrative action on another organisation
	DenyUnknownAction                   // denied: not an action this policy knows
)

func (r Reason) String() string {
	switch r {
	case ReasonOwner:
		return "owner"
	case ReasonShared:
		return "shared"
	case ReasonRole:
		return "role"
	case DenyInvalidViewer:
		return "invalid viewer"
	case DenyRole:
		return "role may not"
	case DenyNotOwner:
		return "not the owner"
	case DenyDistribution:
		return "distribution"
	case DenyTLP:
		return "tlp"
	case DenyOtherOrg:
		return "other organisation"
	case DenyUnknownAction:
		return "unknown action"
	}
	return "unknown"
}

// Decision is the answer of Can.
type Decision struct {
	Allow  bool
	Reason Reason
}

func allow(r Reason) Decision { return Decision{Allow: true, Reason: r} }
func deny(r Reason) Decision  { return Decision{Reason: r} }

// relSet is a set of relations, bit r set for Relation r.
type relSet uint8

func rels(rs ...Relation) relSet {
	var s relSet
	for _, r := range rs {
		s |= 1 << r
	}
	return s
}

func (s relSet) has(r Relation) bool { return s&(1<<r) != 0 }

// reach is, per distribution, the relations the owner addressed the object to.
var reach = [DistAll + 1]relSet{
	DistOrganisation: rels(RelSameOrg),
	DistGroup:        rels(RelSameOrg, RelSameGroup),
	DistCommunity:    rels(RelSameOrg, RelSameNode),
	DistFederation:   rels(RelSameOrg, RelSameNode, RelFederated),
	DistAll:          rels(RelSameOrg, RelSameGroup, RelSameNode, RelFederated, RelNone),
}

// ceiling is, per TLP level, the relations the level lets the object travel to at most.
var ceiling = [stix.TLPRed + 1]relSet{
	stix.TLPClear:       rels(RelSameOrg, RelSameGroup, RelSameNode, RelFederated, RelNone),
	stix.TLPGreen:       rels(RelSameOrg, RelSameGroup, RelSameNode, RelFederated, RelNone),
	stix.TLPAmber:       rels(RelSameOrg, RelSameGroup, RelSameNode, RelFederated),
	stix.TLPAmberStrict: rels(RelSameOrg, RelSameGroup, RelSameNode),
	stix.TLPRed:         rels(RelSameOrg, RelSameGroup),
}

// Can decides whether the viewer may perform the action on an object with this label. It is the
// one decision every path calls; docs/POLICY.md gives it as tables.
//
// Reading depends on the organisation, not the role: every role reads what the label lets its
// organisation read. Writing a version and revoking are for the owner organisation only, and never
// for readers. Sharing (pushing or relaying to a peer node) is judged with the peer account as
// the viewer and follows the read rules for it.
func Can(v Viewer, a Action, l Label) Decision {
	if v.Org == "" || !validRole(v.Role) {
		return deny(DenyInvalidViewer)
	}
	l = l.normal()
	rel := Relate(&v, &l)
	switch a {
	case ActionWrite, ActionRevoke:
		if v.Role == store.RoleReader {
			return deny(DenyRole)
		}
		if rel != RelSameOrg {
			return deny(DenyNotOwner)
		}
		return allow(ReasonOwner)
	case ActionShare:
		if v.Role != store.RolePeer {
			return deny(DenyRole)
		}
	case ActionRead:
	default:
		return deny(DenyUnknownAction)
	}
	if rel == RelSameOrg {
		return allow(ReasonOwner)
	}
	if !reach[l.Distribution].has(rel) {
		return deny(DenyDistribution)
	}
	if !ceiling[l.TLP].has(rel) {
		return deny(DenyTLP)
	}
	return allow(ReasonShared)
}
