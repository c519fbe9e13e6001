package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/renkei-cti/renkei/internal/taxii"
)

// handlerFunc is a handler that returns its error instead of writing it. adapt renders the error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// HTTPError is an error with an HTTP status and a public message. Err, the private cause, is logged
// and never sent.
type HTTPError struct {
	Status      int
	Title       string // public, short
	Description string // public, optional
	Err         error  // private
}

func (e *HTTPError) Error() string {
	msg := strconv.Itoa(e.Status) + " " + e.Title
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

// errorResource is the body of an error response, shaped as a TAXII 2.1 error message.
type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// adapt turns a handlerFunc into an http.Handler that renders its error.
func (s *Server) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError renders err: an *HTTPError with its status and public message, a body over the limit
// as 413, anything else as 500 with no detail. The private cause is logged with the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &mbe):
		he = &HTTPError{Status: http.StatusRequestEntityTooLarge, Title: "request body too large",
			Description: "the body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", Err: err}
	default:
		he = &HTTPError{Status: http.StatusInternalServerError, Title: "internal error", Err: err}
	}
	level := slog.LevelInfo
	if he.Status >= 500 {
		level = slog.LevelError
	}
	s.logger.Log(r.Context(), level, "request failed", "request_id", RequestID(r.Context()),
		"status", he.Status, "error", err)
	writeErrorResource(w, r, he)
}

func writeErrorResource(w http.ResponseWriter, r *http.Request, he *HTTPError) {
	body, err := json.Marshal(errorResource{
		Title:       he.Title,
		Description: he.Description,
		ErrorID:     RequestID(r.Context()),
		HTTPStatus:  strconv.Itoa(he.Status),
	})
	if err != nil { // cannot happen with string fields; keep the status anyway
		body = []byte(`{"title":"internal error"}`)
	}
	// Under the TAXII prefix every response, errors included, is TAXII's media type.
	ct := "application/json"
	if strings.HasPrefix(r.URL.Path, taxii.Prefix) {
		ct = taxii.MediaTAXII
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(he.Status)
	// The client may be gone; there is no one left to tell.
	if _, err := w.Write(append(body, '\n')); err != nil {
		return
	}
}
