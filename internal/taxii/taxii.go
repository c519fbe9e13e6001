// Package taxii serves TAXII 2.1 (OASIS, 10 June 2021): discovery, API roots, collections, objects,
// manifests, versions, deletion and status, to the letter of the specification (differences from
// popular tools are listed in docs/TAXII.md). Every object that leaves goes through the sharing
// policy twice: the store's query is narrowed to the viewer's scope (policy.StoreScope), and every
// form returned is checked with policy.CanVersion. Collection access comes from policy.CollectionAccess.
//
// The package knows nothing of authentication: the server authenticates the request and Options.Viewer
// hands the viewer over. It writes every response, errors included, as application/taxii+json;version=2.1.
package taxii

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// Media types.
const (
	MediaTAXII  = "application/taxii+json;version=2.1"
	MediaSTIX21 = "application/stix+json;version=2.1"
	MediaSTIX20 = "application/stix+json;version=2.0"
)

// Prefix is the path under which every TAXII resource is served: discovery at /taxii2/ and each API
// root at /taxii2/<name>/.
const Prefix = "/taxii2/"

// StatusRetention is how long status resources are kept (the specification asks for 24 hours at least).
const StatusRetention = 7 * 24 * time.Hour

// Options are the dependencies of a Handler.
type Options struct {
	Store    store.Store
	Importer *ingest.Importer
	Config   config.TAXII
	Logger   *slog.Logger
	// Viewer returns the authenticated viewer of a request.
	Viewer func(*http.Request) (policy.Viewer, bool)
	// RequestID returns the request's id, used as the error_id of error resources and in logs.
	RequestID func(context.Context) string
	Now       func() time.Time
	// CursorKey seals the next values handed to clients; 32 random bytes when nil (next values then
	// stop working when the process restarts; clients can page on with added_after).
	CursorKey []byte
	// PII is the personal-data guard of every form read by a viewer of another organisation than
	// the form's creator (nil: redact).
	PII *pii.Policy
}

// Handler serves the TAXII resources under Prefix.
type Handler struct {
	o     Options
	roots map[string]*config.APIRoot
	mux   *http.ServeMux
	key   []byte
	colls collectionCache
	clean cleanSet // digests the personal-data guard found clean (objects.go)
	// guardID marks, in a form's memo word, that this handler's guard found the form clean.
	guardID uint32
}

// New checks the options and builds the handler.
func New(o Options) (*Handler, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("taxii: no store")
	case o.Importer == nil:
		return nil, errors.New("taxii: no importer")
	case o.Viewer == nil:
		return nil, errors.New("taxii: no viewer function")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RequestID == nil {
		o.RequestID = func(context.Context) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PII == nil {
		o.PII = &pii.Policy{Mode: pii.ModeRedact}
	}
	if err := o.PII.Validate(); err != nil {
		return nil, fmt.Errorf("taxii: %w", err)
	}
	if o.Config.PageSize <= 0 || o.Config.MaxPageSize < o.Config.PageSize {
		return nil, fmt.Errorf("taxii: page size %d, max page size %d", o.Config.PageSize, o.Config.MaxPageSize)
	}
	h := &Handler{o: o, roots: map[string]*config.APIRoot{}, mux: http.NewServeMux(), key: o.CursorKey, guardID: guardIDs.Add(1)}
	if h.guardID == 0 { // wrapped around
		h.guardID = guardIDs.Add(1)
	}
	if h.key == nil {
		h.key = make([]byte, 32)
		if _, err := rand.Read(h.key); err != nil {
			return nil, fmt.Errorf("taxii: cursor key: %w", err)
		}
	}
	for i := range o.Config.APIRoots {
		r := &o.Config.APIRoots[i]
		h.roots[r.Name] = r
	}
	h.routes()
	return h, nil
}

// routes registers every endpoint. Patterns carry no method: each handler answers an unsupported
// method with a TAXII error resource (405), which the mux's own reply would not be.
func (h *Handler) routes() {
	p := strings.TrimSuffix(Prefix, "/")
	h.mux.Handle(p+"/{$}", h.endpoint(map[string]handler{"GET": h.discovery}))
	h.mux.Handle(p+"/{root}/{$}", h.endpoint(map[string]handler{"GET": h.apiRoot}))
	status := h.endpoint(map[string]handler{"GET": h.status})
	h.mux.Handle(p+"/{root}/status/{sid}/{$}", status)
	h.mux.Handle(p+"/{root}/status/{sid}", status) // the OASIS client asks without the trailing slash
	h.mux.Handle(p+"/{root}/collections/{$}", h.endpoint(map[string]handler{"GET": h.collections}))
	h.mux.Handle(p+"/{root}/collections/{cid}/{$}", h.endpoint(map[string]handler{"GET": h.collection}))
	h.mux.Handle(p+"/{root}/collections/{cid}/objects/{$}", h.endpoint(map[string]handler{"GET": h.getObjects, "POST": h.addObjects}))
	h.mux.Handle(p+"/{root}/collections/{cid}/objects/{oid}/{$}", h.endpoint(map[string]handler{"GET": h.getObject, "DELETE": h.deleteObject}))
	h.mux.Handle(p+"/{root}/collections/{cid}/objects/{oid}/versions/{$}", h.endpoint(map[string]handler{"GET": h.versions}))
	h.mux.Handle(p+"/{root}/collections/{cid}/manifest/{$}", h.endpoint(map[string]handler{"GET": h.manifest}))
	h.mux.Handle(Prefix, h.endpoint(nil)) // anything else: 404
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// handler answers one endpoint for an authenticated viewer whose Accept header was checked.
type handler func(w http.ResponseWriter, r *http.Request, v policy.Viewer) error

// endpoint checks the method, the viewer and the Accept header, then runs the method's handler and
// renders its error.
func (h *Handler) endpoint(methods map[string]handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.serve(w, r, methods); err != nil {
			h.writeError(w, r, err)
		}
	})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, methods map[string]handler) error {
	if methods == nil {
		return errNotFound
	}
	fn, ok := methods[r.Method]
	if !ok {
		allow := make([]string, 0, len(methods))
		for m := range methods {
			allow = append(allow, m)
		}
		w.Header().Set("Allow", strings.Join(sortStrings(allow), ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Title: "method not allowed",
			Description: r.Method + " is not supported here; use " + strings.Join(allow, " or ")}
	}
	v, ok := h.o.Viewer(r)
	if !ok {
		return &Error{Status: http.StatusUnauthorized, Title: "authentication required"}
	}
	if err := checkAccept(r.Header.Values("Accept")); err != nil {
		return err
	}
	return fn(w, r, v)
}
