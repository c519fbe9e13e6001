package policy

import (
	"context"
	"fmt"
	"slices"

	"github.com/renkei-cti/renkei/internal/store"
)

// ViewerStore is what ViewerFor reads.
type ViewerStore interface {
	NodeInfo(ctx context.Context) (store.NodeInfo, error)
	Organisation(ctx context.Context, id string) (store.Organisation, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
}

// ViewerFor builds the viewer of an authenticated user: its role and organisation, whether the
// organisation is hosted here (a peer never is), and the sharing groups its organisation owns or is
// a member of. The server calls it after checking a token; the command line's --as USER too. Whether
// the user is disabled is the caller's check.
func ViewerFor(ctx context.Context, st ViewerStore, u store.User) (Viewer, error) {
	node, err := st.NodeInfo(ctx)
	if err != nil {
		return Viewer{}, fmt.Errorf("viewer of %s: %w", u.Name, err)
	}
	org, err := st.Organisation(ctx, u.OrgID)
	if err != nil {
		return Viewer{}, fmt.Errorf("viewer of %s: organisation: %w", u.Name, err)
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return Viewer{}, fmt.Errorf("viewer of %s: %w", u.Name, err)
	}
	v := Viewer{UserID: u.ID, Role: u.Role, Org: u.OrgID, Local: !org.Remote && u.Role != store.RolePeer}
	if v.Local {
		v.Node = node.ID
	}
	for _, g := range groups {
		if g.OwnerOrg == u.OrgID || slices.Contains(g.Members, u.OrgID) {
			v.Groups = append(v.Groups, g.ID)
		}
	}
	return v, nil
}
