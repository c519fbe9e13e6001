package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// maxCorrelateQuery bounds the q parameter of /correlate.
const maxCorrelateQuery = 4096

// handleCorrelate answers GET /correlate?q=ID|VALUE: who else reported the value (or the values of
// the object), among the objects the viewer may read. An object the viewer may not read is 404, like
// one that does not exist.
func (s *Server) handleCorrelate(w http.ResponseWriter, r *http.Request) error {
	v, ok := ViewerFrom(r.Context())
	if !ok {
		return &HTTPError{Status: http.StatusUnauthorized, Title: "authentication required"}
	}
	q := r.URL.Query()["q"]
	if len(q) != 1 || q[0] == "" || len(q[0]) > maxCorrelateQuery {
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad request", Description: "give one q: an object id or a value"}
	}
	opt := correlate.Options{Scope: policy.StoreScope(v), Allow: func(ver *store.Version) bool {
		return policy.CanVersion(v, policy.ActionRead, ver).Allow
	}}
	vals, err := correlate.Query(r.Context(), s.store, q[0], opt)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &HTTPError{Status: http.StatusNotFound, Title: "not found", Description: "no such object, or you may not see it"}
	case errors.Is(err, correlate.ErrUnknownValue):
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad request", Description: err.Error()}
	case err != nil:
		return err
	}
	if vals == nil {
		vals = []correlate.Value{}
	}
	b, err := json.Marshal(map[string]any{"values": vals})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(append(b, '\n'))
	return err
}

// handleCorrelateReport answers POST /correlate: the body is a report that need not be stored (a
// STIX bundle, array or object, or a list of values one per line), and the answer says which of its
// values the objects the viewer may read carry, with the stored CIDR blocks containing its
// addresses (correlate.Check). The query parameter objects bounds the objects listed per value
// (default 10). The body is bounded by the node's body limit.
func (s *Server) handleCorrelateReport(w http.ResponseWriter, r *http.Request) error {
	v, ok := ViewerFrom(r.Context())
	if !ok {
		return &HTTPError{Status: http.StatusUnauthorized, Title: "authentication required"}
	}
	opt := correlate.Options{Scope: policy.StoreScope(v), PerValue: 10, Allow: func(ver *store.Version) bool {
		return policy.CanVersion(v, policy.ActionRead, ver).Allow
	}}
	if q := r.URL.Query()["objects"]; len(q) > 0 {
		n, err := strconv.Atoi(q[0])
		if len(q) != 1 || err != nil || n < 1 || n > correlate.MaxPerValue {
			return &HTTPError{Status: http.StatusBadRequest, Title: "bad request",
				Description: "objects must be one number from 1 to " + strconv.Itoa(correlate.MaxPerValue)}
		}
		opt.PerValue = n
	}
	in, err := correlate.ReadInput(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Title: "request body too large", Err: err}
	case errors.Is(err, correlate.ErrInput):
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad report", Description: err.Error()}
	case err != nil:
		return err
	}
	res, err := correlate.Check(r.Context(), s.store, in, opt)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(append(b, '\n'))
	return err
}
