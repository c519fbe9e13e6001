// Package store defines how renkei keeps STIX objects, collections and accounts: the interfaces every
// backend implements, the filters and pages of a query, and the sentinel errors. Backends live in
// sub-packages (sqlite, and later postgres); storetest holds the conformance suite they all pass.
//
// The model: every version of every object is kept, identified by (id, version key), where the version
// key is the sortable Key of modified, else created, else "" (SCOs have a single version). The raw bytes
// of each version are kept exactly as received. A collection holds object versions, each with a
// date_added in microseconds that strictly increases within the collection.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"iter"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict: a version with the same id and version timestamp is stored with different content.
	ErrConflict = errors.New("version conflict")
	// ErrRevoked: the object was revoked; no later version may be added (STIX 2.1 §3.6).
	ErrRevoked = errors.New("object is revoked")
	// ErrInitialized: the data directory already holds a node.
	ErrInitialized = errors.New("node already initialised")
)

// Store is a complete backend.
type Store interface {
	Objects
	Collections
	Accounts
	Node
	// Stats counts what the store holds.
	Stats(ctx context.Context) (Stats, error)
	// Check verifies the store's integrity and reports every problem it finds.
	Check(ctx context.Context) (CheckReport, error)
	Close() error
}

// NewVersion is one object version to write, with the SHA-256 of its RFC 8785 canonical form.
type NewVersion struct {
	Object *stix.Object
	Digest [sha256.Size]byte
}

// Outcome says what Write did with one NewVersion.
type Outcome struct {
	Status Status
	Err    error // with StatusRejected: wraps ErrConflict or ErrRevoked
	// DateAdded is the version's date_added in the batch's collection, when it has one.
	DateAdded time.Time
}

// Status of one written version.
type Status uint8

const (
	StatusAdded     Status = iota + 1 // a new version was stored
	StatusDuplicate                   // the same version with the same content was already stored
	StatusRejected                    // refused; Outcome.Err says why
)

func (s Status) String() string {
	switch s {
	case StatusAdded:
		return "added"
	case StatusDuplicate:
		return "duplicate"
	case StatusRejected:
		return "rejected"
	}
	return "unknown"
}

// Batch is written in one transaction: all of it or none of it.
type Batch struct {
	// Collection, when set, is the id of a collection every version of the batch is added to.
	// A duplicate version not yet in the collection is added to it (and still reported duplicate).
	Collection string
	Versions   []NewVersion
	// Strict makes the batch all or nothing: if any version would be rejected, Write stores nothing,
	// reports every version's Outcome (the rejected ones with their Err) and returns an error wrapping
	// the first rejection's Err.
	Strict bool
}

// Version is one stored version of an object: the row, not the decoded object.
type Version struct {
	ID           string
	Type         string
	SpecVersion  string
	Created      string // text as received; "" when absent
	Modified     string // text as received; "" when absent
	VersionKey   string // stix.Timestamp.Key of modified, else created, else ""
	CreatedByRef string
	Revoked      bool // this version's own revoked property
	Digest       [sha256.Size]byte
	Raw          []byte    // the bytes as received
	Stored       time.Time // when this node first stored the version
	// DateAdded is set when the version was read through a collection.
	DateAdded time.Time
}

// VersionMatch selects versions of each object, as TAXII's match[version] does.
type VersionMatch struct {
	Kind VersionMatchKind
	Keys []string // with VersionKeys: the version keys to return
}

// VersionMatchKind enumerates the ways of selecting versions.
type VersionMatchKind uint8

const (
	VersionsLast  VersionMatchKind = iota // the latest version of each object (the default)
	VersionsFirst                         // the earliest version of each object
	VersionsAll                           // every version
	VersionsKeys                          // the versions whose key is in Keys
)

// Filter narrows a query. Empty fields do not filter. Within a field values are ORed; fields are ANDed.
// Versions are selected among those in scope: the collection's when Collection is set, else the store's.
type Filter struct {
	Collection   string
	IDs          []string
	Types        []string
	SpecVersions []string
	Versions     VersionMatch
	// AddedAfter keeps versions whose date_added (Collection set) or Stored time is strictly later.
	AddedAfter time.Time
}

// Cursor is a position in a query's order: (date_added or stored time, then a tie-breaking sequence).
// It is opaque to callers; the TAXII layer seals it before it leaves the node.
type Cursor struct {
	At  int64 // microseconds since the epoch
	Seq int64
}

// Page is one page of a query, in ascending date_added (or stored) order.
type Page struct {
	Versions []Version
	More     bool
	Next     Cursor // position of the last version returned; pass it back to continue
}

// Objects reads and writes object versions.
type Objects interface {
	// Write stores a batch in one transaction and reports one Outcome per version, in order.
	Write(ctx context.Context, b Batch) ([]Outcome, error)
	// Versions returns every stored version of id, oldest first, or ErrNotFound.
	Versions(ctx context.Context, id string) ([]Version, error)
	// List returns up to limit versions matching f, after the cursor (the zero Cursor starts at the beginning).
	List(ctx context.Context, f Filter, after Cursor, limit int) (Page, error)
	// Scan streams every version matching f in the same order as List, without holding them all.
	Scan(ctx context.Context, f Filter) iter.Seq2[Version, error]
	// Related returns the edges from or to id among the latest versions of objects, but for those
	// whose type HubEdge names.
	Related(ctx context.Context, id string) ([]stix.Edge, error)
	// FindObservable returns the ids of objects whose latest version carries the observable.
	FindObservable(ctx context.Context, o stix.Observable) ([]string, error)
}

// HubEdge reports whether Related leaves out edges of type typ: created_by_ref and
// object_marking_refs. Nearly every object has them, so they would tie everything to a handful of
// identities and marking definitions; the version's CreatedByRef and its bytes answer them instead.
func HubEdge(typ string) bool { return typ == "created_by_ref" || typ == "object_marking_refs" }

// Collection is a TAXII collection.
type Collection struct {
	ID          string // a UUID
	Alias       string // a short unique name, used on the command line
	Title       string
	Description string
	CreatedAt   time.Time
}

// Collections manages collections.
type Collections interface {
	CreateCollection(ctx context.Context, c Collection) error
	// Collection finds a collection by id or alias, or returns ErrNotFound.
	Collection(ctx context.Context, idOrAlias string) (Collection, error)
	ListCollections(ctx context.Context) ([]Collection, error)
}

// Organisation is an organisation known to this node. Its STIX identity object is stored as an
// object like any other; this row holds what the node needs to run.
type Organisation struct {
	ID        string // the identity's STIX id
	Name      string
	CreatedAt time.Time
}

// Role of a user.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleOrgAdmin Role = "org-admin"
	RoleAnalyst  Role = "analyst"
	RoleReader   Role = "reader"
	RolePeer     Role = "peer"
)

// User is an account in an organisation.
type User struct {
	ID        string // a UUID
	Name      string // unique on the node
	OrgID     string
	Role      Role
	Disabled  bool
	CreatedAt time.Time
}

// Token is an API token. Only the SHA-256 of the secret is stored.
type Token struct {
	ID        string // a UUID, shown to operators; not the secret
	UserID    string
	Hash      [sha256.Size]byte
	CreatedAt time.Time
	ExpiresAt time.Time // zero: does not expire
	RevokedAt time.Time // zero: not revoked
}

// Accounts manages organisations, users and tokens.
type Accounts interface {
	CreateOrganisation(ctx context.Context, o Organisation) error
	Organisation(ctx context.Context, id string) (Organisation, error)
	ListOrganisations(ctx context.Context) ([]Organisation, error)
	CreateUser(ctx context.Context, u User) error
	UserByName(ctx context.Context, name string) (User, error)
	User(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token by the hash of its secret, or returns ErrNotFound.
	TokenByHash(ctx context.Context, hash [sha256.Size]byte) (Token, error)
}

// NodeInfo describes the node that owns the data directory.
type NodeInfo struct {
	ID        string // a UUID
	OwnerOrg  string // the identity id of the organisation that runs the node
	CreatedAt time.Time
}

// Node reads and sets the node's own record. InitNode fails with ErrInitialized when one exists.
type Node interface {
	InitNode(ctx context.Context, n NodeInfo) error
	NodeInfo(ctx context.Context) (NodeInfo, error)
}

// Stats counts what a store holds.
type Stats struct {
	Objects       int64            // distinct ids
	Versions      int64            // object versions
	ByType        map[string]int64 // distinct ids per type
	Revoked       int64            // ids whose object is revoked
	Collections   int64
	Memberships   int64 // (collection, version) pairs
	Relationships int64 // edges
	Observables   int64
	Organisations int64
	Users         int64
	Bytes         int64 // size of the database on disk
	SchemaVersion int
}

// CheckReport lists integrity problems. An empty Problems means the store is sound.
type CheckReport struct {
	VersionsChecked int64
	Problems        []string
}
