package server

import (
	"encoding/json"
	"errors"
	"net/http"

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
