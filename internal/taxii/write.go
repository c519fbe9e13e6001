package taxii

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// statusResource is §4.3.1.
type statusResource struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []statusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []statusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
}

type statusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// addObjects stores the objects of a TAXII envelope in the collection, on behalf of the viewer's
// organisation: only versions of objects it created are accepted (the store enforces it in the write
// transaction). The body is streamed through the import pipeline, never decoded whole; the objects are
// durable when the 202 is sent, so the status is complete at once.
func (h *Handler) addObjects(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	root, a, err := h.collectionOf(r, v)
	if err != nil {
		return err
	}
	if !a.write {
		return errForbidden("write to")
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > root.MaxContentLength {
		return &Error{Status: http.StatusRequestEntityTooLarge, Title: "request too large",
			Description: "the body is larger than the API root's max_content_length (" + strconv.FormatInt(root.MaxContentLength, 10) + " bytes)"}
	}
	body := http.MaxBytesReader(w, r.Body, root.MaxContentLength)
	started := h.o.Now()

	var (
		mu      sync.Mutex
		results []ingest.ObjectResult
	)
	_, err = h.o.Importer.Import(r.Context(), body, ingest.Options{Collection: a.c.ID, Owner: v.Org,
		Result: func(res ingest.ObjectResult) {
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		}})
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err // 413; what was already stored stays, as with any import
	case errors.Is(err, ingest.ErrInput):
		return &Error{Status: http.StatusBadRequest, Title: "bad request", Description: "the body is not a TAXII envelope of STIX objects: " + err.Error()}
	case err != nil:
		return err
	}
	slices.SortFunc(results, func(x, y ingest.ObjectResult) int { return x.Index - y.Index })
	st := statusResource{ID: uuid.NewString(), Status: "complete", RequestTimestamp: formatTimestamp(started), TotalCount: len(results)}
	for _, res := range results {
		d := statusDetails{ID: res.ID, Version: res.Version}
		if d.ID == "" {
			d.ID = "object " + strconv.Itoa(res.Index) // its own id could not be read
		}
		if d.Version == "" && !res.DateAdded.IsZero() {
			d.Version = formatTimestamp(res.DateAdded)
		}
		if res.Status == store.StatusRejected {
			d.Message = res.Err.Error()
			st.Failures = append(st.Failures, d)
			continue
		}
		// A duplicate is a success (§5.5).
		st.Successes = append(st.Successes, d)
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	body2, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// The status and the audit record of the request commit together.
	actx := store.WithAudit(r.Context(), store.AuditRecord{At: started, Actor: v.UserID, Action: "taxii.add", Target: a.c.ID,
		Detail: fmt.Sprintf("status %s: %d objects, %d failed", st.ID, st.TotalCount, st.FailureCount)})
	if err := h.o.Store.PutStatus(actx, store.StatusRecord{ID: st.ID, UserID: v.UserID, CreatedAt: started, Body: body2}); err != nil {
		return err
	}
	if _, err := h.o.Store.PruneStatuses(r.Context(), started.Add(-StatusRetention)); err != nil {
		h.o.Logger.Warn("pruning old TAXII statuses", "error", err)
	}
	h.o.Logger.Info("taxii objects added", "collection", a.c.ID, "user", v.UserID, "status", st.ID,
		"total", st.TotalCount, "failed", st.FailureCount)
	writeBody(w, http.StatusAccepted, body2)
	return nil
}

// deleteObject takes the selected forms of an object out of the collection (§5.7). It needs both
// can_read and can_write (else 403, or 404 with neither), an object the viewer can see (else 404),
// and the right to write it, which only its creator organisation has (else 403).
func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	_, a, err := h.collectionOf(r, v)
	if err != nil {
		return err
	}
	if !a.read || !a.write {
		return errForbidden("delete from")
	}
	q, err := h.parse(r, paramsDelete)
	if err != nil {
		return err
	}
	oid := r.PathValue("oid")
	if !validID(oid) {
		return errNotFound
	}
	scope := policy.StoreScope(v)
	f := store.Filter{Scope: scope, Collection: a.c.ID, IDs: []string{oid}, SpecVersions: q.specs, Versions: q.versions}
	sp, err := h.o.Store.List(r.Context(), store.Filter{Scope: scope, Collection: a.c.ID, IDs: []string{oid},
		Versions: store.VersionMatch{Kind: store.VersionsAll}, SpecVersions: []string{"2.0", "2.1"}}, store.Cursor{}, store.MaxBatchVersions)
	if err != nil {
		return err
	}
	if len(sp.Versions) == 0 {
		return errNotFound
	}
	for i := range sp.Versions {
		ver := &sp.Versions[i]
		if !policy.CanVersion(v, policy.ActionRead, ver).Allow {
			return errNotFound
		}
		if !policy.CanVersion(v, policy.ActionWrite, ver).Allow {
			return &Error{Status: http.StatusForbidden, Title: "forbidden",
				Description: "only the organisation that created " + oid + " may delete it from a collection"}
		}
	}
	// The removal and its audit record commit together.
	actx := store.WithAudit(r.Context(), store.AuditRecord{At: h.o.Now(), Actor: v.UserID, Action: "taxii.delete",
		Target: oid, Detail: "collection " + a.c.ID + ", query " + r.URL.RawQuery})
	if _, err := h.o.Store.RemoveFromCollection(actx, f, oid); err != nil {
		return err
	}
	writeBody(w, http.StatusOK, nil)
	return nil
}
