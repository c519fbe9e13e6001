package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// DatabaseFile is the name of the SQLite database inside the data directory.
const DatabaseFile = "renkei.db"

func dbPath(dir string) string { return filepath.Join(dir, DatabaseFile) }

func noNodeError(dir string, cause error) error {
	err := fmt.Errorf("no renkei node in %s", dir)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return withHint(err, "create one with 'renkei init --data "+dir+" --org NAME', or point --data (or $RENKEI_DATA) at an existing node")
}

// openNode opens the store of an initialised node. It never creates anything.
func openNode(ctx context.Context, dir string, logger *slog.Logger, opts ...sqlite.Option) (store.Store, error) {
	if _, err := os.Stat(dbPath(dir)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, noNodeError(dir, nil)
		}
		return nil, fmt.Errorf("data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, dbPath(dir), append([]sqlite.Option{sqlite.WithLogger(logger), sqlite.WithLabeler(policy.Labeler{})}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	if _, err := st.NodeInfo(ctx); err != nil {
		cerr := st.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, errors.Join(noNodeError(dir, errors.New("the database holds no node record")), cerr)
		}
		return nil, errors.Join(fmt.Errorf("reading the node record: %w", err), cerr)
	}
	return st, nil
}

// createStore creates the data directory when needed and opens (creating) its database.
func createStore(ctx context.Context, dir string, logger *slog.Logger, opts ...sqlite.Option) (store.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, dbPath(dir), append([]sqlite.Option{sqlite.WithLogger(logger), sqlite.WithLabeler(policy.Labeler{})}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating the store: %w", err)
	}
	return st, nil
}

// closeStore closes st and joins its error to err.
func closeStore(st store.Store, err *error) {
	if cerr := st.Close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("closing the store: %w", cerr))
	}
}

// nodeSetup says how to initialise a node.
type nodeSetup struct {
	Owner store.Organisation
	// Identity is the owner's STIX identity object, imported with the node; nil when the caller
	// imports it itself (the demo's is in the demo bundle).
	Identity  []byte
	AdminName string
	Now       time.Time
}

// initialised is what initNode made.
type initialised struct {
	Node  store.NodeInfo
	Admin store.User
	Token server.Secret
}

// initNode makes an empty store into a node: the node record (refused with store.ErrInitialized when
// there is one, before anything else is written), the built-in TLP marking definitions, the owner's
// identity object, the owner organisation, its admin user and an API token.
func initNode(ctx context.Context, st store.Store, im *ingest.Importer, s nodeSetup) (initialised, error) {
	var out initialised
	node := store.NodeInfo{ID: uuid.NewString(), OwnerOrg: s.Owner.ID, CreatedAt: s.Now}
	if err := st.InitNode(ctx, node); err != nil {
		if errors.Is(err, store.ErrInitialized) {
			// The store's message names the database file; the command names the directory.
			return out, withHint(store.ErrInitialized, "init never overwrites a node; to start afresh, move the data directory away and run init again")
		}
		return out, fmt.Errorf("node record: %w", err)
	}
	out.Node = node
	if err := seedMarkings(ctx, im); err != nil {
		return out, err
	}
	if s.Identity != nil {
		if err := importStrict(ctx, im, s.Identity, "the organisation's identity"); err != nil {
			return out, err
		}
	}
	if err := st.CreateOrganisation(ctx, s.Owner); err != nil {
		return out, fmt.Errorf("organisation: %w", err)
	}
	admin := store.User{ID: uuid.NewString(), Name: s.AdminName, OrgID: s.Owner.ID, Role: store.RoleAdmin, CreatedAt: s.Now}
	if err := st.CreateUser(ctx, admin); err != nil {
		return out, fmt.Errorf("admin user: %w", err)
	}
	out.Admin = admin
	secret, hash, err := server.NewToken()
	if err != nil {
		return out, err
	}
	if err := st.CreateToken(ctx, store.Token{ID: uuid.NewString(), UserID: admin.ID, Hash: hash, CreatedAt: s.Now}); err != nil {
		return out, fmt.Errorf("token: %w", err)
	}
	out.Token = secret
	return out, nil
}

// importStrict imports data, which must be accepted whole.
func importStrict(ctx context.Context, im *ingest.Importer, data []byte, what string) error {
	rep, err := im.Import(ctx, bytes.NewReader(data), ingest.Options{Strict: true})
	if err != nil {
		return fmt.Errorf("importing %s: %w", what, err)
	}
	if rep.Rejected > 0 {
		return fmt.Errorf("importing %s: %d objects rejected", what, rep.Rejected)
	}
	return nil
}

// identityObject is the STIX identity of an organisation created by init, in the order written.
type identityObject struct {
	Type          string `json:"type"`
	SpecVersion   string `json:"spec_version"`
	ID            string `json:"id"`
	Created       string `json:"created"`
	Modified      string `json:"modified"`
	CreatedByRef  string `json:"created_by_ref"`
	Name          string `json:"name"`
	IdentityClass string `json:"identity_class"`
}

// stixTime formats t as a STIX timestamp with millisecond precision.
func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newOrganisation makes a new organisation and its identity object, which is its own creator.
func newOrganisation(name string, now time.Time) (store.Organisation, []byte, error) {
	id := "identity--" + uuid.NewString()
	ts := stixTime(now)
	raw, err := json.Marshal(identityObject{
		Type: "identity", SpecVersion: "2.1", ID: id, Created: ts, Modified: ts,
		CreatedByRef: id, Name: name, IdentityClass: "organization",
	})
	if err != nil {
		return store.Organisation{}, nil, fmt.Errorf("identity object: %w", err)
	}
	return store.Organisation{ID: id, Name: name, CreatedAt: now}, raw, nil
}
