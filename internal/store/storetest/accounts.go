package storetest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

// RunAccounts runs the conformance cases of token listing and revocation, disabling users, sharing
// groups and the audit log. open returns a new, empty store for each subtest.
func RunAccounts(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ListAndRevokeTokens", testListAndRevokeTokens},
		{"DisableUser", testDisableUser},
		{"Groups", testGroups},
		{"Audit", testAudit},
		{"AuditWithChange", testAuditWithChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// orgAndUser creates an organisation and a user in it.
func orgAndUser(t *testing.T, s store.Store, name string) (store.Organisation, store.User) {
	t.Helper()
	org := store.Organisation{ID: newID("identity"), Name: name + " org"}
	u := store.User{ID: uuid.NewString(), Name: name, OrgID: org.ID, Role: store.RoleAnalyst}
	if err := s.CreateOrganisation(t.Context(), org); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return org, u
}

func testListAndRevokeTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, alice := orgAndUser(t, s, "alice")
	_, bob := orgAndUser(t, s, "bob")
	var mine []store.Token
	for i := range 3 {
		tok := store.Token{ID: uuid.NewString(), UserID: alice.ID, Hash: sha256.Sum256([]byte{'a', byte(i)}),
			CreatedAt: when.Add(time.Duration(i) * time.Hour)}
		if i == 1 {
			tok.ExpiresAt = when.Add(48 * time.Hour)
		}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, tok)
	}
	if err := s.CreateToken(ctx, store.Token{ID: uuid.NewString(), UserID: bob.ID, Hash: sha256.Sum256([]byte("b")), CreatedAt: when}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListTokens(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(mine) {
		t.Fatalf("ListTokens(alice) = %d tokens, want %d", len(got), len(mine))
	}
	for i, want := range mine {
		g := got[i]
		if g.ID != want.ID || g.UserID != alice.ID || g.Hash != want.Hash || !g.CreatedAt.Equal(want.CreatedAt) ||
			g.ExpiresAt.IsZero() != want.ExpiresAt.IsZero() || !g.ExpiresAt.Equal(want.ExpiresAt) || !g.RevokedAt.IsZero() {
			t.Errorf("ListTokens(alice)[%d] = %+v, want %+v", i, g, want)
		}
	}
	if _, err := s.ListTokens(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ListTokens of an unknown user: %v, want ErrNotFound", err)
	}

	at := when.Add(72 * time.Hour)
	if err := s.RevokeToken(ctx, mine[1].ID, at); err != nil {
		t.Fatal(err)
	}
	// A second revocation keeps the first time.
	if err := s.RevokeToken(ctx, mine[1].ID, at.Add(time.Hour)); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	tok, err := s.TokenByHash(ctx, mine[1].Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.RevokedAt.Equal(at) {
		t.Errorf("RevokedAt = %v, want %v", tok.RevokedAt, at)
	}
	for _, other := range []store.Token{mine[0], mine[2]} {
		tok, err := s.TokenByHash(ctx, other.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !tok.RevokedAt.IsZero() {
			t.Errorf("token %s revoked along with another: %v", other.ID, tok.RevokedAt)
		}
	}
	if err := s.RevokeToken(ctx, uuid.NewString(), at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v, want ErrNotFound", err)
	}
}

func testDisableUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, alice := orgAndUser(t, s, "alice")
	_, bob := orgAndUser(t, s, "bob")
	if err := s.DisableUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableUser(ctx, "alice"); err != nil {
		t.Errorf("disabling again: %v", err)
	}
	for _, tc := range []struct {
		id       string
		disabled bool
	}{{alice.ID, true}, {bob.ID, false}} {
		u, err := s.User(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Disabled != tc.disabled {
			t.Errorf("user %s: Disabled = %v, want %v", u.Name, u.Disabled, tc.disabled)
		}
	}
	if err := s.DisableUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disabling an unknown user: %v, want ErrNotFound", err)
	}
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, _ := orgAndUser(t, s, "alice")
	other, _ := orgAndUser(t, s, "bob")
	remote := newID("identity") // an organisation of another node: not known here
	g := store.Group{ID: uuid.NewString(), Name: "finance-isac", OwnerOrg: owner.ID, Members: []string{owner.ID}, CreatedAt: when}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	got, err := s.Group(ctx, "finance-isac")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != g.ID || got.Name != g.Name || got.OwnerOrg != owner.ID || got.Revision != 1 ||
		!slices.Equal(got.Members, []string{owner.ID}) || !got.CreatedAt.Equal(when) {
		t.Errorf("Group = %+v, want %+v at revision 1", got, g)
	}
	for i, m := range []string{other.ID, remote} {
		if err := s.AddGroupMember(ctx, g.ID, m); err != nil {
			t.Fatalf("AddGroupMember(%s): %v", m, err)
		}
		got, err := s.Group(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revision != 2+i {
			t.Errorf("after adding member %d: Revision = %d, want %d", i+1, got.Revision, 2+i)
		}
		if !slices.Contains(got.Members, m) || len(got.Members) != 2+i {
			t.Errorf("after adding %s: Members = %v", m, got.Members)
		}
	}
	if err := s.AddGroupMember(ctx, "finance-isac", other.ID); !errors.Is(err, store.ErrExists) {
		t.Errorf("adding a member twice: %v, want ErrExists", err)
	}
	if got, err := s.Group(ctx, g.ID); err != nil || got.Revision != 3 {
		t.Errorf("a refused addition changed the group: revision %d, %v", got.Revision, err)
	}
	if err := s.AddGroupMember(ctx, "no-such-group", other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("adding to an unknown group: %v, want ErrNotFound", err)
	}
	tests := []struct {
		name string
		g    store.Group
		want error
	}{
		{"same name", store.Group{ID: uuid.NewString(), Name: "finance-isac", OwnerOrg: owner.ID}, store.ErrExists},
		{"same id", store.Group{ID: g.ID, Name: "other", OwnerOrg: owner.ID}, store.ErrExists},
		{"name is another's id", store.Group{ID: uuid.NewString(), Name: g.ID, OwnerOrg: owner.ID}, store.ErrExists},
		{"unknown owner", store.Group{ID: uuid.NewString(), Name: "x", OwnerOrg: remote}, store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.CreateGroup(ctx, tc.g); !errors.Is(err, tc.want) {
				t.Errorf("CreateGroup: %v, want %v", err, tc.want)
			}
		})
	}
	if err := s.CreateGroup(ctx, store.Group{ID: uuid.NewString(), Name: "alpha", OwnerOrg: other.ID}); err != nil {
		t.Fatal(err)
	}
	gs, err := s.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"alpha", "finance-isac"}) {
		t.Errorf("ListGroups names = %v, want [alpha finance-isac]", names)
	}
	if len(gs) == 2 && (len(gs[0].Members) != 0 || len(gs[1].Members) != 3 || gs[1].Revision != 3) {
		t.Errorf("ListGroups = %+v", gs)
	}
	if _, err := s.Group(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Group(unknown): %v, want ErrNotFound", err)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := []store.AuditRecord{
		{At: when, Actor: "cli:root", Action: "org.add", Target: "identity--x", Detail: `name "ACME"`},
		{At: when.Add(time.Second), Actor: "cli:root", Action: "user.add", Target: "alice", Detail: "role analyst"},
		{At: when.Add(time.Second), Actor: uuid.NewString(), Action: "token.revoke", Target: uuid.NewString()},
	}
	var appended []store.AuditRecord
	for i, r := range in {
		got, err := s.AppendAudit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != int64(i+1) {
			t.Errorf("record %d: Seq = %d, want %d", i, got.Seq, i+1)
		}
		// The canonical bytes hold every field, the sequence number included.
		var c map[string]any
		if err := json.Unmarshal(got.Canonical, &c); err != nil {
			t.Fatalf("record %d: canonical bytes %q: %v", i, got.Canonical, err)
		}
		if c["seq"] != float64(got.Seq) || c["actor"] != r.Actor || c["action"] != r.Action || c["target"] != r.Target || c["detail"] != r.Detail {
			t.Errorf("record %d: canonical bytes %s do not match %+v", i, got.Canonical, r)
		}
		appended = append(appended, got)
	}
	if string(appended[1].Canonical) == string(appended[2].Canonical) {
		t.Error("two different records have the same canonical bytes")
	}
	if _, err := s.AppendAudit(ctx, store.AuditRecord{Action: "x"}); err == nil {
		t.Error("a record without an actor was appended")
	}
	all, err := s.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(in) {
		t.Fatalf("ListAudit = %d records, want %d", len(all), len(in))
	}
	for i, got := range all {
		want := appended[i]
		if got.Seq != want.Seq || !got.At.Equal(want.At) || got.Actor != want.Actor || got.Action != want.Action ||
			got.Target != want.Target || got.Detail != want.Detail || string(got.Canonical) != string(want.Canonical) {
			t.Errorf("ListAudit[%d] = %+v, want %+v", i, got, want)
		}
	}
	page, err := s.ListAudit(ctx, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Seq != 2 {
		t.Errorf("ListAudit(after 1, limit 1) = %+v, want record 2", page)
	}
}

// testAuditWithChange: a change made under store.WithAudit commits its record in the same
// transaction; a change that fails leaves no record; the record is used once.
func testAuditWithChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	actions := func() []string {
		t.Helper()
		rs, err := s.ListAudit(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Action+" "+r.Target)
		}
		return out
	}
	org := store.Organisation{ID: newID("identity"), Name: "audited"}
	actx := store.WithAudit(ctx, store.AuditRecord{Actor: "cli:test", Action: "org.add", Target: org.ID})
	if err := s.CreateOrganisation(actx, org); err != nil {
		t.Fatal(err)
	}
	if got := actions(); len(got) != 1 || got[0] != "org.add "+org.ID {
		t.Fatalf("audit log after the change: %v", got)
	}
	// Used once: a second change under the same context adds no record.
	if err := s.CreateOrganisation(actx, store.Organisation{ID: newID("identity"), Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if got := actions(); len(got) != 1 {
		t.Errorf("a used record was appended again: %v", got)
	}
	// A change that fails records nothing; its record stays for a change that succeeds.
	fctx := store.WithAudit(ctx, store.AuditRecord{Actor: "cli:test", Action: "org.add", Target: "again"})
	if err := s.CreateOrganisation(fctx, org); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate organisation: %v", err)
	}
	if got := actions(); len(got) != 1 {
		t.Errorf("a failed change left a record: %v", got)
	}
	if err := s.CreateOrganisation(fctx, store.Organisation{ID: newID("identity"), Name: "third"}); err != nil {
		t.Fatal(err)
	}
	if got := actions(); len(got) != 2 || got[1] != "org.add again" {
		t.Errorf("after a failed then a good change: %v", got)
	}
	// Object batches never take the record (imports are audited as a whole).
	wctx := store.WithAudit(ctx, store.AuditRecord{Actor: "cli:test", Action: "import", Target: "x"})
	b := batch(t, "", indicator(t, newID("indicator"), 1))
	if _, err := s.Write(wctx, b); err != nil {
		t.Fatal(err)
	}
	if got := actions(); len(got) != 2 {
		t.Errorf("a batch took the record: %v", got)
	}
}
