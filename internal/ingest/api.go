// Package ingest is the pipeline every object enters by: streaming decode of bundles, bare objects and
// arrays, validation, canonical digest, and batched, idempotent writes to the store. Later stages
// (signature verification, policy, the Merkle log, notification of subscribers) hang off the same
// pipeline. Nothing here knows about HTTP.
package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// Options control one import.
type Options struct {
	// Collection is the id of the collection the objects are added to; "" adds them to none.
	Collection string
	// Owner, when set, is the identity id of the organisation the import is written for (a TAXII client
	// or a federation peer, from its authenticated account): only versions of objects it created, naming
	// it as creator, are accepted; the others are rejected (store.ErrForbidden). Empty for the node
	// operator's own imports from the command line.
	Owner string
	// Strict makes the import all or nothing: the first rejected object aborts it and nothing is kept.
	Strict bool
	// BatchSize is how many objects go in one transaction (0: DefaultBatchSize).
	BatchSize int
	// Progress, when set, is called after every batch with the totals so far (its Errors is nil). It is
	// called from the goroutine that writes, one call at a time.
	Progress func(Progress)
	// MaxObjects bounds how many objects one import may hold (0: no bound).
	MaxObjects int
	// Result, when set, is called once for every object of the input, with what became of it: stored,
	// a duplicate, or rejected. Calls come one at a time but not in input order (a validation failure
	// is known before the store's answer about an earlier object); Index orders them.
	Result func(ObjectResult)
}

// ObjectResult is what became of one object of the input.
type ObjectResult struct {
	Index   int
	ID      string // "" when the id could not be read
	Version string // modified, else created, as received; "" for an unversioned object
	Status  store.Status
	Err     error // with StatusRejected: why
	// DateAdded is the object's date_added in Options.Collection, when it was added there.
	DateAdded time.Time
}

// DefaultBatchSize is the number of objects written per transaction.
const DefaultBatchSize = 10000

// Progress is reported as an import advances.
type Progress struct {
	BytesRead int64 // input bytes consumed
	Report
}

// Report sums up an import.
type Report struct {
	Accepted  int // new versions stored
	Duplicate int // versions already stored with the same content
	Rejected  int // objects refused: bad input, conflicts, revoked objects
	// Errors lists the rejected objects with the lowest indexes, in input order, up to
	// MaxReportedErrors; Rejected counts them all.
	Errors []*ObjectError
}

// MaxReportedErrors bounds how many rejections a Report lists.
const MaxReportedErrors = 1000

// ObjectError says which object was rejected and why.
type ObjectError struct {
	Index    int    // position of the object in the input, from 0
	Offset   int64  // byte offset of the object in the input
	ObjectID string // "" when the id could not be read
	Err      error  // a *stix.ValidationError, or wraps store.ErrConflict / store.ErrRevoked
}

func (e *ObjectError) Error() string {
	msg := e.Err.Error()
	switch {
	case e.ObjectID != "" && strings.HasPrefix(msg, e.ObjectID):
		// A validation error names the object already.
	case e.ObjectID != "":
		msg = e.ObjectID + ": " + msg
	default:
		msg = "(no id): " + msg
	}
	return fmt.Sprintf("object %d at byte %d, %s", e.Index, e.Offset, msg)
}

func (e *ObjectError) Unwrap() error { return e.Err }

// ErrStrict is returned (wrapping the first *ObjectError) when a strict import meets a bad object.
var ErrStrict = errors.New("strict import aborted: nothing was kept")

// ErrInput is wrapped by errors in the input's framing (not JSON, not a bundle, object or array).
var ErrInput = errors.New("bad input")
