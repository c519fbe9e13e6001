package policy

import (
	"testing"

	"github.com/renkei-cti/renkei/internal/store"
)

func TestCollectionAccess(t *testing.T) {
	grants := []store.Grant{
		{Kind: store.GrantOrg, Subject: orgLocal, Read: true},
		{Kind: store.GrantUser, Subject: "u-writer", Write: true},
		{Kind: store.GrantGroup, Subject: groupG, Read: true, Write: true},
	}
	tests := []struct {
		name        string
		v           Viewer
		read, write bool
	}{
		{"org grant", Viewer{UserID: "u1", Role: store.RoleAnalyst, Org: orgLocal}, true, false},
		{"user grant adds write", Viewer{UserID: "u-writer", Role: store.RoleAnalyst, Org: orgLocal}, true, true},
		{"user grant alone", Viewer{UserID: "u-writer", Role: store.RoleAnalyst, Org: orgRemote}, false, true},
		{"group grant", Viewer{UserID: "u2", Role: store.RolePeer, Org: orgRemote, Groups: []string{groupH, groupG}}, true, true},
		{"reader never writes", Viewer{UserID: "u3", Role: store.RoleReader, Org: orgRemote, Groups: []string{groupG}}, true, false},
		{"no grant", Viewer{UserID: "u4", Role: store.RoleAdmin, Org: orgViewer}, false, false},
		{"admin has no override", Viewer{UserID: "u5", Role: store.RoleAdmin, Org: orgRemote, Groups: []string{groupH}}, false, false},
		{"no organisation", Viewer{UserID: "u-writer", Role: store.RoleAnalyst}, false, false},
		{"unknown role", Viewer{UserID: "u-writer", Role: "root", Org: orgLocal}, false, false},
		{"empty user id matches no user grant", Viewer{Role: store.RoleAnalyst, Org: orgRemote}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, w := CollectionAccess(tc.v, grants)
			if r != tc.read || w != tc.write {
				t.Errorf("CollectionAccess = read %v write %v, want %v %v", r, w, tc.read, tc.write)
			}
		})
	}
	if r, w := CollectionAccess(Viewer{UserID: "u", Role: store.RoleAnalyst, Org: orgLocal}, []store.Grant{{Kind: store.GrantUser, Subject: ""}}); r || w {
		t.Error("a grant with an empty user subject applied")
	}
}
