package server

import (
	"net/http"

	"github.com/renkei-cti/renkei/internal/taxii"
)

// routes registers every route of the node. Collections and other resources are data, not routes:
// a route names a kind of resource, and its handler looks the resource up per request.
func (s *Server) routes() {
	s.handle("GET /healthz", s.handleHealthz)
	s.mux.Handle("GET /metrics", s.metrics.handler(s.logger))
	// TAXII 2.1: every resource needs an authenticated viewer.
	s.mux.Handle(taxii.Prefix, s.Authenticate(s.taxii))
	s.mux.Handle("POST /match", s.Authenticate(s.adapt(s.handleMatch)))
	s.mux.Handle("GET /export/{format}", s.Authenticate(s.adapt(s.handleExport)))
	s.mux.Handle("GET /correlate", s.Authenticate(s.adapt(s.handleCorrelate)))
	s.mux.Handle("POST /correlate", s.Authenticate(s.adapt(s.handleCorrelateReport)))
}

// handle registers an error-returning handler.
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.adapt(h))
}

// handleHealthz answers 200 when the node can reach its store, 503 when it cannot.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.store.NodeInfo(r.Context()); err != nil {
		return &HTTPError{Status: http.StatusServiceUnavailable, Title: "store unavailable", Err: err}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write([]byte(`{"status":"ok"}` + "\n"))
	return err
}
