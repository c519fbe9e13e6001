package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// policyNode is a node on a real store labelled by the sharing policy, owned by the first
// organisation, with the organisations and users given; it returns the store and each user's token.
func policyNode(t *testing.T, orgs []store.Organisation, users []store.User) (store.Store, map[string]string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := st.InitNode(ctx, store.NodeInfo{ID: "node-1", OwnerOrg: orgs[0].ID}); err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if err := st.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	for _, u := range users {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		secret, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, store.Token{ID: "tok-" + u.Name, UserID: u.ID, Hash: hash, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		tokens[u.Name] = string(secret)
	}
	return st, tokens
}
