package demo

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

func TestSeed(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	im := ingest.New(st, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	n := len(objects(t))

	rep, err := Seed(ctx, st, im, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != n || rep.Rejected != 0 {
		t.Errorf("report %+v, want %d accepted", rep, n)
	}
	col, err := st.Collection(ctx, CollectionAlias)
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.List(ctx, store.Filter{Collection: col.ID, Versions: store.VersionMatch{Kind: store.VersionsAll}}, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Versions) != n {
		t.Errorf("the demo collection holds %d versions, want %d", len(page.Versions), n)
	}
	// The intrusion set has two versions; the latest carries the second alias.
	vs, err := st.Versions(ctx, "intrusion-set--d4e9d6ac-7253-48ff-9a10-52535f763fae")
	if err != nil || len(vs) != 2 {
		t.Fatalf("intrusion set versions: %d, %v", len(vs), err)
	}
	orgs, err := st.ListOrganisations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != len(Organisations()) {
		t.Errorf("%d organisations, want %d", len(orgs), len(Organisations()))
	}
	// The layout: sector collections and inboxes, with grants; the energy collection holds the data.
	for alias, want := range map[string][]store.Grant{
		"energy": {{Kind: store.GrantOrg, Subject: Owner.ID, Read: true, Write: true},
			{Kind: store.GrantOrg, Subject: orgEnergy.ID, Read: true, Write: true}, {Kind: store.GrantOrg, Subject: orgEE.ID, Read: true}},
		"inbox-kaiyo": {{Kind: store.GrantOrg, Subject: Owner.ID, Read: true}, {Kind: store.GrantOrg, Subject: orgTelecom.ID, Write: true}},
		"government":  {{Kind: store.GrantOrg, Subject: Owner.ID, Read: true, Write: true}, {Kind: store.GrantOrg, Subject: orgEE.ID, Read: true, Write: true}},
	} {
		c, err := st.Collection(ctx, alias)
		if err != nil {
			t.Fatalf("collection %s: %v", alias, err)
		}
		got, err := st.Grants(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].Collection = c.ID
		}
		slices.SortFunc(want, func(a, b store.Grant) int { return strings.Compare(a.Subject, b.Subject) })
		slices.SortFunc(got, func(a, b store.Grant) int { return strings.Compare(a.Subject, b.Subject) })
		if !slices.Equal(got, want) {
			t.Errorf("grants of %s: %+v\nwant %+v", alias, got, want)
		}
	}
	energy, err := st.List(ctx, store.Filter{Collection: "energy", Versions: store.VersionMatch{Kind: store.VersionsAll}}, store.Cursor{}, 1000)
	if err != nil || len(energy.Versions) != n {
		t.Errorf("energy holds %d versions (%v), want %d", len(energy.Versions), err, n)
	}
	// Seeding twice is refused: the collection exists.
	if _, err := Seed(ctx, st, im, now); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Seed: %v, want ErrExists", err)
	}
}
