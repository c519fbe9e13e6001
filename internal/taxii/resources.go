package taxii

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// discoveryResource is §4.1.1.
type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// apiRootResource is §4.2.1.
type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// collectionResource is §5.2.1.
type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

// rootURL is the relative URL of an API root (§4.1.1 allows relative URLs beginning with one "/").
func rootURL(name string) string { return Prefix + name + "/" }

func (h *Handler) discovery(w http.ResponseWriter, r *http.Request, _ policy.Viewer) error {
	d := discoveryResource{Title: h.o.Config.Title, Description: h.o.Config.Description, Contact: h.o.Config.Contact}
	for _, root := range h.o.Config.APIRoots {
		d.APIRoots = append(d.APIRoots, rootURL(root.Name))
	}
	if h.o.Config.Default != "" {
		d.Default = rootURL(h.o.Config.Default)
	}
	return writeJSON(w, http.StatusOK, d)
}

// root finds the request's API root.
func (h *Handler) root(r *http.Request) (*config.APIRoot, error) {
	root, ok := h.roots[r.PathValue("root")]
	if !ok {
		return nil, errNotFound
	}
	return root, nil
}

func (h *Handler) apiRoot(w http.ResponseWriter, r *http.Request, _ policy.Viewer) error {
	root, err := h.root(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiRootResource{Title: root.Title, Description: root.Description,
		Versions: []string{MediaTAXII}, MaxContentLength: root.MaxContentLength})
}

// access is a collection as one viewer may use it.
type access struct {
	c           store.Collection
	read, write bool
}

func (a access) resource() collectionResource {
	return collectionResource{ID: a.c.ID, Title: a.c.Title, Description: a.c.Description, Alias: a.c.Alias,
		CanRead: a.read, CanWrite: a.write, MediaTypes: []string{MediaSTIX21, MediaSTIX20}}
}

// inRoot reports whether the API root serves the collection.
func inRoot(root *config.APIRoot, c store.Collection) bool {
	return len(root.Collections) == 0 || slices.Contains(root.Collections, c.ID) ||
		c.Alias != "" && slices.Contains(root.Collections, c.Alias)
}

// accessTo decides what the viewer may do with a collection of the root.
func (h *Handler) accessTo(ctx context.Context, root *config.APIRoot, c store.Collection, v policy.Viewer) (access, error) {
	if !inRoot(root, c) {
		return access{}, nil
	}
	_, grants, err := h.collectionInfo(ctx, c.ID)
	if err != nil {
		return access{}, err
	}
	read, write := policy.CollectionAccess(v, grants)
	return access{c: c, read: read, write: write}, nil
}

// collection finds the request's collection (by id or alias) in its API root. A collection the viewer
// may neither read nor write is not found: it looks exactly like one that does not exist.
func (h *Handler) collectionOf(r *http.Request, v policy.Viewer) (*config.APIRoot, access, error) {
	root, err := h.root(r)
	if err != nil {
		return nil, access{}, err
	}
	c, _, err := h.collectionInfo(r.Context(), r.PathValue("cid"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, access{}, errNotFound
	} else if err != nil {
		return nil, access{}, err
	}
	a, err := h.accessTo(r.Context(), root, c, v)
	if err != nil {
		return nil, access{}, err
	}
	if !a.read && !a.write {
		return nil, access{}, errNotFound
	}
	return root, a, nil
}

// errForbidden answers a collection the viewer sees but may not use this way.
func errForbidden(what string) *Error {
	return &Error{Status: http.StatusForbidden, Title: "forbidden", Description: "you may not " + what + " this collection"}
}

func (h *Handler) collections(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	root, err := h.root(r)
	if err != nil {
		return err
	}
	cs, err := h.o.Store.ListCollections(r.Context())
	if err != nil {
		return err
	}
	var out struct {
		Collections []collectionResource `json:"collections,omitempty"`
	}
	for _, c := range cs {
		a, err := h.accessTo(r.Context(), root, c, v)
		if err != nil {
			return err
		}
		if a.read || a.write {
			out.Collections = append(out.Collections, a.resource())
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) collection(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	_, a, err := h.collectionOf(r, v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.resource())
}

// status answers a status resource to the user who made the request, and to nobody else.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	if _, err := h.root(r); err != nil {
		return err
	}
	st, err := h.o.Store.GetStatus(r.Context(), r.PathValue("sid"))
	if errors.Is(err, store.ErrNotFound) || err == nil && st.UserID != v.UserID {
		return errNotFound
	} else if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, st.Body)
	return nil
}

// CollectionTTL is how long a collection and its grants are reused without reading the store: a new
// grant, or a revoked one, takes effect on a running server within this time.
const CollectionTTL = time.Second

type cachedCollection struct {
	c      store.Collection
	grants []store.Grant
	until  time.Time
}

// collectionCache maps a collection id or alias to the collection and its grants.
type collectionCache struct {
	mu sync.Mutex
	m  map[string]cachedCollection
}

// collectionInfo returns a collection (by id or alias) and its grants, from the cache when fresh.
func (h *Handler) collectionInfo(ctx context.Context, ref string) (store.Collection, []store.Grant, error) {
	now := h.o.Now()
	h.colls.mu.Lock()
	e, ok := h.colls.m[ref]
	h.colls.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.c, e.grants, nil
	}
	c, err := h.o.Store.Collection(ctx, ref)
	if err != nil {
		return c, nil, err
	}
	grants, err := h.o.Store.Grants(ctx, c.ID)
	if err != nil {
		return c, nil, err
	}
	h.colls.mu.Lock()
	if h.colls.m == nil || len(h.colls.m) >= 1024 {
		h.colls.m = map[string]cachedCollection{}
	}
	h.colls.m[ref] = cachedCollection{c: c, grants: grants, until: now.Add(CollectionTTL)}
	h.colls.mu.Unlock()
	return c, grants, nil
}
