package policy

import (
	"slices"

	"github.com/renkei-cti/renkei/internal/store"
)

// CollectionAccess decides whether a viewer may read and write a collection, from the collection's
// grants: a grant applies to the viewer when it names the viewer's user, the viewer's organisation, or
// a sharing group the viewer is a recipient of. The viewer may read when an applying grant allows
// reading, and write when one allows writing, except readers, who never write. An invalid viewer gets
// nothing. Collection access only opens the door: every object inside is still judged by Can.
func CollectionAccess(v Viewer, grants []store.Grant) (read, write bool) {
	if v.Org == "" || !validRole(v.Role) {
		return false, false
	}
	for _, g := range grants {
		applies := false
		switch g.Kind {
		case store.GrantUser:
			applies = g.Subject == v.UserID && v.UserID != ""
		case store.GrantOrg:
			applies = g.Subject == v.Org
		case store.GrantGroup:
			applies = slices.Contains(v.Groups, g.Subject)
		}
		if applies {
			read = read || g.Read
			write = write || g.Write
		}
	}
	if v.Role == store.RoleReader {
		write = false
	}
	return read, write
}

func validRole(r store.Role) bool {
	switch r {
	case store.RoleAdmin, store.RoleOrgAdmin, store.RoleAnalyst, store.RoleReader, store.RolePeer:
		return true
	}
	return false
}
