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
// into it (strictly: the demo data must be accepted whole), adds an organisation record for every
// demo organisation not already known, and the layout of a sharing hub: a collection per sector
// (energy, telecom, government) and an inbox per partner, with grants. It returns the import's report.
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
	if err := seedOrganisations(ctx, st, now); err != nil {
		return rep, err
	}
	if err := seedLayout(ctx, st, im, col, now); err != nil {
		return rep, err
	}
	return rep, nil
}

// Demo organisations by role in the layout.
var (
	orgEE       = Organisations()[1]
	orgEnergy   = Organisations()[2]
	orgTelecom  = Organisations()[3]
	sectorSlugs = map[string]string{orgEE.ID: "ee-cert", orgEnergy.ID: "nordlicht", orgTelecom.ID: "kaiyo"}
)

// Slug returns the short name of a demo organisation, used for its inbox and its demo user.
func Slug(orgID string) string {
	if orgID == Owner.ID {
		return "jp-cert"
	}
	return sectorSlugs[orgID]
}

// grant is one collection grant of the demo layout.
type grant struct {
	org         string
	read, write bool
}

// seedLayout adds the collections a sharing hub would have: one per sector, with the sector's
// organisations granted access, and an inbox per partner organisation, where it writes and the
// node's owner reads. The demo bundle (a campaign against an electricity operator) goes into the
// energy collection as well.
func seedLayout(ctx context.Context, st store.Store, im *ingest.Importer, demoCol store.Collection, now time.Time) error {
	everyone := []grant{{org: Owner.ID, read: true, write: true}}
	for _, o := range Organisations()[1:] {
		everyone = append(everyone, grant{org: o.ID, read: true})
	}
	if err := grantAll(ctx, st, demoCol.ID, everyone); err != nil {
		return err
	}
	layout := []struct {
		alias, title string
		grants       []grant
		data         bool
	}{
		{"energy", "Energy sector", []grant{{Owner.ID, true, true}, {orgEnergy.ID, true, true}, {orgEE.ID, true, false}}, true},
		{"telecom", "Telecommunications sector", []grant{{Owner.ID, true, true}, {orgTelecom.ID, true, true}}, false},
		{"government", "Government and e-government", []grant{{Owner.ID, true, true}, {orgEE.ID, true, true}}, false},
	}
	for _, o := range Organisations()[1:] {
		layout = append(layout, struct {
			alias, title string
			grants       []grant
			data         bool
		}{"inbox-" + Slug(o.ID), "Inbox of " + o.Name, []grant{{o.ID, false, true}, {Owner.ID, true, false}}, false})
	}
	for _, l := range layout {
		c := store.Collection{ID: uuid.NewString(), Alias: l.alias, Title: l.title + " (demo)", CreatedAt: now}
		if err := st.CreateCollection(ctx, c); err != nil {
			return fmt.Errorf("demo: collection %s: %w", l.alias, err)
		}
		if err := grantAll(ctx, st, c.ID, l.grants); err != nil {
			return err
		}
		if l.data {
			if _, err := im.Import(ctx, Bundle(), ingest.Options{Collection: c.ID, Strict: true}); err != nil {
				return fmt.Errorf("demo: import into %s: %w", l.alias, err)
			}
		}
	}
	return nil
}

func grantAll(ctx context.Context, st store.Store, collection string, gs []grant) error {
	for _, g := range gs {
		if err := st.SetGrant(ctx, store.Grant{Collection: collection, Kind: store.GrantOrg, Subject: g.org, Read: g.read, Write: g.write}); err != nil {
			return fmt.Errorf("demo: grant on %s: %w", collection, err)
		}
	}
	return nil
}

// seedOrganisations adds an organisation record for every demo organisation not already known.
func seedOrganisations(ctx context.Context, st store.Store, now time.Time) error {
	for _, o := range Organisations() {
		_, err := st.Organisation(ctx, o.ID)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("demo: organisation %s: %w", o.Name, err)
		}
		if err := st.CreateOrganisation(ctx, store.Organisation{ID: o.ID, Name: o.Name, CreatedAt: now}); err != nil {
			return fmt.Errorf("demo: organisation %s: %w", o.Name, err)
		}
	}
	return nil
}
