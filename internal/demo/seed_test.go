package demo

import (
	"errors"
	"log/slog"
	"path/filepath"
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
	// Seeding twice is refused: the collection exists.
	if _, err := Seed(ctx, st, im, now); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Seed: %v, want ErrExists", err)
	}
}
