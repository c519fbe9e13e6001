// Package demo owns the demonstration data set of `renkei serve --demo`: a hand-written STIX 2.1
// bundle (a fictional intrusion set, a campaign against an electricity operator, its malware,
// indicators, infrastructure, a sighting and a report, shared by four fictional organisations under
// TLP 2.0 markings), the organisations that take part, and Seed, which loads them into a node.
//
// Every address in the data is in a documentation range (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24) and every domain ends in .example, so nothing in it can match real traffic.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/store"
)

//go:embed bundle.json
var bundle []byte

// Bundle returns a reader over the demo bundle.
func Bundle() io.Reader { return bytes.NewReader(bundle) }

// BundleSize is the size of the demo bundle in bytes.
func BundleSize() int64 { return int64(len(bundle)) }

// CollectionAlias is the alias of the collection the demo data is imported into.
const CollectionAlias = "demo"

// Org is an organisation of the demo: its identity object is in the bundle.
type Org struct {
	ID   string // identity id
	Name string
}

// Owner is the organisation that runs the demo node.
var Owner = Org{ID: "identity--51ea40b0-7088-4482-8231-74d06cde3e3a", Name: "JP-CERT (demo)"}

// Organisations lists every organisation of the demo, Owner first.
func Organisations() []Org {
	return []Org{
		Owner,
		{ID: "identity--ff4122a9-6cc0-4b07-b5aa-48c3efe4c23f", Name: "EE-CERT (demo)"},
		{ID: "identity--d0fa9cc4-4840-46a1-8358-c2d6d005628e", Name: "Nordlicht Energie AS (demo)"},
		{ID: "identity--ec073868-e5ad-4acf-9c87-6c19c5cdfc75", Name: "Kaiyo Telecom (demo)"},
	}
}

// Seed loads the demo into an initialised node: it creates the "demo" collection, imports the bundle
// into it (strictly: the demo data must be accepted whole), and adds an organisation record for every
// demo organisation not already known. It returns the import's report.
func Seed(ctx context.Context, st store.Store, im *ingest.Importer, now time.Time) (ingest.Report, error) {
	col := store.Collection{
		ID:          uuid.NewString(),
		Alias:       CollectionAlias,
		Title:       "Demo: Operation Cold Turbine",
		Description: "Fictional intelligence shared by four demo organisations.",
		CreatedAt:   now,
	}
	if err := st.CreateCollection(ctx, col); err != nil {
		return ingest.Report{}, fmt.Errorf("demo: collection: %w", err)
	}
	rep, err := im.Import(ctx, Bundle(), ingest.Options{Collection: col.ID, Strict: true})
	if err != nil {
		return rep, fmt.Errorf("demo: import: %w", err)
	}
	for _, o := range Organisations() {
		_, err := st.Organisation(ctx, o.ID)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, store.ErrNotFound):
			return rep, fmt.Errorf("demo: organisation %s: %w", o.Name, err)
		}
		if err := st.CreateOrganisation(ctx, store.Organisation{ID: o.ID, Name: o.Name, CreatedAt: now}); err != nil {
			return rep, fmt.Errorf("demo: organisation %s: %w", o.Name, err)
		}
	}
	return rep, nil
}
