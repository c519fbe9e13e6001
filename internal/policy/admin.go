package policy

import "github.com/renkei-cti/renkei/internal/store"

// AdminAction is an administrative action: it concerns accounts and the node, not an object.
type AdminAction uint8

const (
	// AdminManageNode: node settings, peers, collections and organisations.
	AdminManageNode AdminAction = iota + 1
	// AdminManageUsers: add, disable and list the users of an organisation, and their tokens.
	AdminManageUsers
	// AdminManageGroups: create a sharing group owned by an organisation, or publish a new revision
	// of its members.
	AdminManageGroups
	// AdminReadAudit: read the audit records about an organisation.
	AdminReadAudit
)

func (a AdminAction) String() string {
	switch a {
	case AdminManageNode:
		return "manage-node"
	case AdminManageUsers:
		return "manage-users"
	case AdminManageGroups:
		return "manage-groups"
	case AdminReadAudit:
		return "read-audit"
	}
	return "unknown"
}

// adminScope is who may do an administrative action.
type adminScope uint8

const (
	scopeNone   adminScope = iota // nobody with this role
	scopeOwnOrg                   // on the viewer's own organisation only
	scopeAny                      // on any organisation
)

func adminScopeOf(r store.Role, a AdminAction) adminScope {
	switch r {
	case store.RoleAdmin:
		switch a {
		case AdminManageNode, AdminManageUsers, AdminReadAudit:
			return scopeAny
		case AdminManageGroups:
			// A node admin who could edit another organisation's group could add itself to it:
			// that would be a read override by the back door.
			return scopeOwnOrg
		}
	case store.RoleOrgAdmin:
		switch a {
		case AdminManageUsers, AdminManageGroups, AdminReadAudit:
			return scopeOwnOrg
		}
	}
	return scopeNone
}

// CanAdmin decides whether the viewer may perform an administrative action concerning the
// organisation targetOrg (ignored for AdminManageNode). A peer, an analyst and a reader have no
// administrative action; each user manages their own tokens regardless (that is not a policy
// question).
func CanAdmin(v Viewer, a AdminAction, targetOrg string) Decision {
	if v.Org == "" {
		return deny(DenyInvalidViewer)
	}
	if a < AdminManageNode || a > AdminReadAudit {
		return deny(DenyUnknownAction)
	}
	switch adminScopeOf(v.Role, a) {
	case scopeAny:
		return allow(ReasonRole)
	case scopeOwnOrg:
		if a != AdminManageNode && targetOrg == v.Org {
			return allow(ReasonRole)
		}
		return deny(DenyOtherOrg)
	}
	return deny(DenyRole)
}

// CanAssignRole decides whether the viewer may give a user of targetOrg the role r (creating the
// user or changing their role). An admin may give any role in any organisation; an org-admin may
// give org-admin, analyst and reader in their own organisation; nobody else may give a role.
func CanAssignRole(v Viewer, r store.Role, targetOrg string) Decision {
	if v.Org == "" {
		return deny(DenyInvalidViewer)
	}
	switch r {
	case store.RoleAdmin, store.RoleOrgAdmin, store.RoleAnalyst, store.RoleReader, store.RolePeer:
	default:
		return deny(DenyUnknownAction)
	}
	switch v.Role {
	case store.RoleAdmin:
		return allow(ReasonRole)
	case store.RoleOrgAdmin:
		if r == store.RoleAdmin || r == store.RolePeer {
			return deny(DenyRole)
		}
		if targetOrg != v.Org {
			return deny(DenyOtherOrg)
		}
		return allow(ReasonRole)
	}
	return deny(DenyRole)
}
