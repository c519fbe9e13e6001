// Package store defines how renkei keeps STIX objects, collections and accounts: the interfaces every
// backend implements, the filters and pages of a query, and the sentinel errors. Backends live in
// sub-packages (sqlite, and later postgres); storetest holds the conformance suite they all pass.
//
// The model: every version of every object is kept, identified by (id, version key, spec version), where
// the version key is the sortable Key of modified, else created, else "" (SCOs have a single version).
// The same version may be held in two forms, STIX 2.0 and 2.1, with different bytes (a producer that
// publishes both, as MITRE ATT&CK does): each form is stored and deduplicated on its own. The raw bytes
// of each form are kept exactly as received. A collection holds forms of object versions, each with a
// date_added in microseconds that strictly increases within the collection.
package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"iter"
	"sync/atomic"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict: a version with the same id, version timestamp and spec version is stored with
	// different content.
	ErrConflict = errors.New("version conflict")
	// ErrRevoked: the object was revoked; no later version may be added (STIX 2.1 §3.6).
	ErrRevoked = errors.New("object is revoked")
	// ErrForbidden: a batch written on behalf of an organisation (Batch.Owner) tried to add a version of
	// an object that organisation did not create.
	ErrForbidden = errors.New("not the object's creator")
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
	StatusAdded     Status = iota + 1 // a new version, or a new spec version's form of a version, was stored
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

// MaxBatchVersions bounds the versions of one Batch; every backend accepts at least this many.
const MaxBatchVersions = 100_000

// Batch is written in one transaction: all of it or none of it.
type Batch struct {
	// Collection, when set, is the id of a collection every version of the batch is added to.
	// A duplicate version not yet in the collection is added to it (and still reported duplicate).
	Collection string
	Versions   []NewVersion
	// Owner, when set, is the identity id of the organisation on whose behalf the batch is written (a
	// TAXII client, a federation peer). A new version is then accepted only if its created_by_ref is
	// Owner and every stored version of the object was created by Owner; otherwise it is rejected with
	// ErrForbidden. (STIX: only the creator may version or revoke an object.) A new SCO without
	// created_by_ref is accepted. Duplicates are unaffected. Empty for the node operator's own imports.
	Owner string
	// Strict makes the batch all or nothing: if any version would be rejected, Write stores nothing,
	// reports every version's Outcome (the rejected ones with their Err) and returns an error wrapping
	// the first rejection's Err.
	Strict bool
}

// Version is one stored form of an object version: the row, not the decoded object.
type Version struct {
	ID           string
	Type         string
	SpecVersion  string // "2.1", or "2.0" (stix.Object.SpecVersion)
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
	// Label is this form's label; OwnerLocal says whether its creator (CreatedByRef) is an
	// organisation hosted on this node.
	Label      Label
	OwnerLocal bool
	// Object is the label of the object's latest form: a form may be read only when the policy
	// allows both its own label and its object's (docs/POLICY.md, "Versions").
	Object ObjectLabel
	// Memo is nil, or a word a store that serves this form from memory (a read cache) keeps with
	// the form's bytes: a reader may note in it, atomically, a fact that depends only on those
	// bytes, and find it on later reads of the form for as long as the store keeps that copy. It
	// starts at 0 with every copy.
	Memo *atomic.Uint32
}

// Label is what the sharing policy decided about one form, as a store keeps it so that reads can be
// filtered in the query. The store does not interpret it: a Labeler computes it when the form is
// written, and a ReadScope selects on it.
type Label struct {
	// Cell numbers the (distribution, TLP) pair (policy.Cell); below 64.
	Cell uint8
	// Group is the sharing group the form is addressed to, or "".
	Group string
}

// NoLabelCell is the cell of a form written without a Labeler: no ReadScope may include it, so such
// a form is readable only through the operator's unscoped reads.
const NoLabelCell = 63

// ObjectLabel is the label of an object's latest form, with its creator.
type ObjectLabel struct {
	Label
	Owner      string
	OwnerLocal bool
}

// Labeling is what a Labeler says of one form: its label, and the marking definitions it could not
// resolve (the store does not hold them, or cannot yet trust them). When one of those arrives, the
// store labels the form again.
type Labeling struct {
	Label
	Unresolved []string
}

// Labeler computes the label of a form when a store writes it. The policy package provides the one
// renkei uses; it must be a pure function of the object and of what dir answers.
type Labeler interface {
	Label(obj *stix.Object, dir LabelDirectory) Labeling
}

// LabelDirectory is what a Labeler may ask the store, inside the write transaction, so that its
// answers include what the same batch writes.
type LabelDirectory interface {
	// MarkingDefinition returns the stored marking definition with this id (its latest form), or
	// false when the store holds none.
	MarkingDefinition(id string) (*stix.Object, bool)
	// GroupOwner returns the organisation that owns the sharing group managed on this node with this
	// id, or false when this node manages no such group.
	GroupOwner(groupID string) (string, bool)
}

// ReadScope narrows a query to what one viewer may read (policy.Scope computes it). A form is
// selected when its own label and its object's label both satisfy
//
//	   (owner = Org AND cell IN Owner)
//	OR (group IN Groups AND cell IN Group)
//	OR (owner <> Org AND owner is hosted here AND cell IN LocalOwner)
//	OR (owner <> Org AND owner is not hosted here AND cell IN RemoteOwner)
//
// where each cell set is a bit mask (bit c for cell c). The zero ReadScope selects nothing.
type ReadScope struct {
	Org         string
	Groups      []string
	Owner       uint64
	Group       uint64
	LocalOwner  uint64
	RemoteOwner uint64
}

// VersionMatch selects versions of each object, as TAXII's match[version] does.
type VersionMatch struct {
	Kind VersionMatchKind
	Keys []string // with VersionKeys: the version keys to return
	// With VersionsKeys, First and Last add the first and the last version of each object to the
	// versions of Keys (TAXII's match[version] values combine as a union).
	First, Last bool
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
//
// Forms are selected in this order, as TAXII 2.1's match[spec_version] and match[version] (§3.4.1):
//  1. Scope: the collection's forms when Collection is set (it may hold one form of a version and
//     not the other), else the store's; IDs and Types narrow it.
//  2. Spec version: with SpecVersions, only forms of those spec versions; without, of each
//     (id, version key) in scope, only the form with the greatest spec version ("2.1" over "2.0").
//  3. Versions selects among the forms that remain: the last or first version key of each id (with
//     several SpecVersions, every remaining form of that key), all of them, or those of Keys.
//  4. AddedAfter then drops forms added too early; it does not change which version is last or first.
type Filter struct {
	// Scope, when set, keeps only the forms a viewer may read (see ReadScope). Nil is the operator's
	// unscoped view, for the command line working on the data directory.
	Scope        *ReadScope
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

// PageReuser is implemented by a store that may reuse the memory of the pages it returns. A
// caller done with a page, that keeps neither its Versions slice nor any Version in it (what they
// point to, their Raw bytes and texts, stays valid), may hand the slice back. Optional.
type PageReuser interface {
	ReusePage(vs []Version)
}

// Objects reads and writes object versions.
type Objects interface {
	// Write stores a batch in one transaction and reports one Outcome per version, in order.
	Write(ctx context.Context, b Batch) ([]Outcome, error)
	// Versions returns every stored form of every version of id, in ascending (version key, spec
	// version) order, or ErrNotFound. It does not filter by spec version.
	Versions(ctx context.Context, id string) ([]Version, error)
	// List returns up to limit versions matching f, after the cursor (the zero Cursor starts at the beginning).
	List(ctx context.Context, f Filter, after Cursor, limit int) (Page, error)
	// Scan streams every version matching f in the same order as List, without holding them all.
	Scan(ctx context.Context, f Filter) iter.Seq2[Version, error]
	// Related returns the edges from or to id among the latest forms of objects, but for those
	// whose type HubEdge names.
	Related(ctx context.Context, id string) ([]stix.Edge, error)
	// ObservableVersions returns the latest forms of the objects that carry the observable, in
	// stored order, narrowed to scope when it is set, without their raw bytes; at most limit.
	ObservableVersions(ctx context.Context, o stix.Observable, scope *ReadScope, limit int) ([]Version, error)
	// LookupObservables is ObservableVersions for many observables at once: out[i] holds the
	// latest forms carrying obs[i], in stored order, narrowed to scope when it is set, without
	// their raw bytes; at most limit of them. A backend may bound len(obs) (sqlite: 4M).
	LookupObservables(ctx context.Context, obs []stix.Observable, scope *ReadScope, limit int) (out [][]Version, err error)
	// SharedObservables streams, in no particular order, every observable that the latest forms
	// of at least two objects carry, narrowed to scope when it is set: one group per observable,
	// with the number of those forms and the first limit of them in stored order. Each version
	// holds what the policy decides on and a listing shows (ID, Type, SpecVersion, CreatedByRef,
	// Revoked, Stored, the labels), not its Raw, Digest, Created, Modified or VersionKey. It is one
	// pass over the store: a backend may spill to temporary files rather than hold the index in
	// memory (sqlite keeps 16 bytes per shared value, and one file of groups at a time).
	SharedObservables(ctx context.Context, scope *ReadScope, limit int) iter.Seq2[ObservableGroup, error]
	// ObservableBlockLengths says which prefix lengths the CIDR blocks (ipv4-addr and ipv6-addr
	// values with a /) that stored forms carry have, whatever their scope, so that a caller looks
	// up only the containing blocks that may be stored. It is an internal hint, never shown to users.
	ObservableBlockLengths(ctx context.Context) (BlockLengths, error)
	// ObservableBlocks returns the CIDR blocks (ipv4-addr and ipv6-addr values with a /) that
	// stored forms carry, whatever their scope, each once, in no particular order, so that a
	// caller looks up only the stored blocks that contain its addresses. It reads at most limit of
	// them: Known is false when the store holds more, or cannot say. It is an internal hint, never
	// shown to users.
	ObservableBlocks(ctx context.Context, limit int) (Blocks, error)
}

// Blocks is the CIDR blocks that stored forms carry (Objects.ObservableBlocks). It may name blocks
// no stored form carries any longer, never miss one that a form carries.
type Blocks struct {
	// Known is false when the store cannot say, or holds more blocks than were asked for.
	Known bool
	// Blocks are the values as stored, of kind stix.ObsIPv4 or stix.ObsIPv6.
	Blocks []stix.Observable
}

// BlockLengths is the prefix lengths of the stored CIDR blocks (Objects.ObservableBlockLengths).
// It may name lengths no stored form carries any longer, never miss one that a form carries.
type BlockLengths struct {
	// Known is false when the store cannot say: a block of any length may be stored.
	Known bool
	// IPv4 and IPv6 are the lengths in bits, ascending.
	IPv4, IPv6 []int
}

// ObservableGroup is an observable and the latest forms that carry it (SharedObservables).
type ObservableGroup struct {
	Observable stix.Observable
	// Count is how many latest forms in scope carry it; Versions lists the first of them, up to
	// the limit asked for.
	Count    int
	Versions []Version
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
	// SetGrant records a grant on a collection (found by id or alias), replacing the one for the same
	// subject. A grant with neither Read nor Write removes it. ErrNotFound for an unknown collection.
	SetGrant(ctx context.Context, g Grant) error
	// Grants lists the grants of a collection by kind and subject (ErrNotFound for an unknown one).
	Grants(ctx context.Context, collection string) ([]Grant, error)
	// RemoveFromCollection takes the forms of object id that f selects (f.Collection is the
	// collection; Versions and SpecVersions apply, Scope must allow them) out of the collection and
	// returns how many were removed. The forms stay in the store.
	RemoveFromCollection(ctx context.Context, f Filter, id string) (int, error)
	// PutStatus stores a TAXII status resource; GetStatus finds one by id (ErrNotFound); statuses
	// created before the cutoff are deleted by PruneStatuses.
	PutStatus(ctx context.Context, s StatusRecord) error
	GetStatus(ctx context.Context, id string) (StatusRecord, error)
	PruneStatuses(ctx context.Context, before time.Time) (int64, error)
}

// GrantKind says what a grant's subject is.
type GrantKind string

const (
	GrantOrg   GrantKind = "org"   // an organisation, by identity id
	GrantGroup GrantKind = "group" // a sharing group, by id: every recipient of the group
	GrantUser  GrantKind = "user"  // a user, by id
)

// Grant gives a subject access to a collection.
type Grant struct {
	Collection string // id (or alias, when setting)
	Kind       GrantKind
	Subject    string
	Read       bool
	Write      bool
}

// StatusRecord is a TAXII status resource as sent to the user who POSTed the objects.
type StatusRecord struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	Body      []byte
}

// Organisation is an organisation known to this node. Its STIX identity object is stored as an
// object like any other; this row holds what the node needs to run.
type Organisation struct {
	ID   string // the identity's STIX id
	Name string
	// Remote is true for an organisation hosted on another node (a partner whose peer account syncs
	// with this node); false for one hosted here.
	Remote    bool
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
	// ListTokens returns the tokens of a user, oldest first (ErrNotFound for an unknown user).
	ListTokens(ctx context.Context, userID string) ([]Token, error)
	// RevokeToken marks a token revoked at the given time, or returns ErrNotFound. Revoking a revoked
	// token changes nothing: the first revocation time stays.
	RevokeToken(ctx context.Context, tokenID string, at time.Time) error
	// DisableUser disables the user with that name, or returns ErrNotFound. Its tokens stop working.
	DisableUser(ctx context.Context, name string) error
	// CreateGroup adds a sharing group owned by an existing organisation; its id and name must be new
	// (else ErrExists). Its members are stored and its Revision set to 1.
	CreateGroup(ctx context.Context, g Group) error
	// Group finds a sharing group by id, else by name, or returns ErrNotFound.
	Group(ctx context.Context, idOrName string) (Group, error)
	// AddGroupMember adds an organisation to a group (found by id or name) and increments the group's
	// Revision. ErrNotFound for an unknown group, ErrExists when the organisation is a member already.
	AddGroupMember(ctx context.Context, group, orgID string) error
	// ListGroups returns every sharing group, by name.
	ListGroups(ctx context.Context) ([]Group, error)
	// AppendAudit appends a record to the audit log and returns it with its Seq and Canonical bytes.
	AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error)
	// ListAudit returns up to limit records with Seq greater than after, in Seq order.
	ListAudit(ctx context.Context, after int64, limit int) ([]AuditRecord, error)
}

// Group is a sharing group: a named list of organisations, possibly on other nodes, that objects can
// be distributed to.
type Group struct {
	ID        string // a UUID
	Name      string // unique on the node
	OwnerOrg  string // the identity id of the organisation that manages the group
	Members   []string
	Revision  int // 1 when created; incremented by every change of membership
	CreatedAt time.Time
}

// AuditRecord is one entry of the audit log: who did what to which thing. It never holds a secret.
type AuditRecord struct {
	// Seq is the record's position in the log: 1, 2, 3… with no gaps, set by AppendAudit. It is the
	// leaf index of the tamper-evident log to come.
	Seq    int64
	At     time.Time
	Actor  string // a user id, or "cli:<os user>" for the command line
	Action string // e.g. "org.add", "user.add", "token.create", "token.revoke", "group.add-member"
	Target string // the id or name acted on
	Detail string // free text, no secrets
	// Canonical is the RFC 8785 JSON of the record (Seq included), set by AppendAudit and kept as
	// stored: the bytes a Merkle leaf will hash.
	Canonical []byte
}

// auditKey carries an audit record in a context (WithAudit).
type auditKey struct{}

// pendingAudit is an audit record waiting for the transaction it records.
type pendingAudit struct {
	rec  AuditRecord
	used atomic.Bool
}

// WithAudit returns a context under which the next change a store commits (an account, group,
// collection or grant change, a token, a removal from a collection) appends rec to the audit log
// in the same transaction: the change and its record are stored together or not at all. The record
// is used once; a later change under the same context appends nothing.
func WithAudit(ctx context.Context, rec AuditRecord) context.Context {
	return context.WithValue(ctx, auditKey{}, &pendingAudit{rec: rec})
}

// TakeAudit returns the record WithAudit put in ctx, once; backends call it inside the transaction
// of a change. ok is false when there is none or it was taken.
func TakeAudit(ctx context.Context) (rec AuditRecord, ok bool) {
	p, _ := ctx.Value(auditKey{}).(*pendingAudit)
	if p == nil || !p.used.CompareAndSwap(false, true) {
		return AuditRecord{}, false
	}
	return p.rec, true
}

// ReleaseAudit makes a record taken by TakeAudit available again, when the transaction that took
// it rolled back.
func ReleaseAudit(ctx context.Context) {
	if p, _ := ctx.Value(auditKey{}).(*pendingAudit); p != nil {
		p.used.Store(false)
	}
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
	Versions      int64            // object versions, each spec version's form counted
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
