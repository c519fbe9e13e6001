package taxii

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
)

// Error is a TAXII error with its HTTP status and public text. Err, the private cause, is logged with
// the request's id (the resource's error_id) and never sent.
type Error struct {
	Status      int
	Title       string
	Description string
	Err         error
}

func (e *Error) Error() string {
	msg := strconv.Itoa(e.Status) + " " + e.Title
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// errNotFound is the one answer for anything the viewer may not know exists: an unknown API root,
// collection, object or status, and a hidden one, get the same bytes.
var errNotFound = &Error{Status: http.StatusNotFound, Title: "not found",
	Description: "no such resource, or you may not see it"}

func badRequest(format string) *Error {
	return &Error{Status: http.StatusBadRequest, Title: "bad request", Description: format}
}

// errorResource is the TAXII 2.1 error message (§3.6.1).
type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// writeError renders err as an error resource: an *Error with its status and text, anything else as
// 500 without detail.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
	case errors.As(err, &mbe):
		te = &Error{Status: http.StatusRequestEntityTooLarge, Title: "request too large",
			Description: "the body is larger than the API root's max_content_length (" + strconv.FormatInt(mbe.Limit, 10) + " bytes)", Err: err}
	default:
		te = &Error{Status: http.StatusInternalServerError, Title: "internal error", Err: err}
	}
	id := h.o.RequestID(r.Context())
	level := slog.LevelInfo
	if te.Status >= 500 {
		level = slog.LevelError
	}
	h.o.Logger.Log(r.Context(), level, "taxii request failed", "error_id", id, "status", te.Status, "error", err)
	body, merr := json.Marshal(errorResource{Title: te.Title, Description: te.Description, ErrorID: id, HTTPStatus: strconv.Itoa(te.Status)})
	if merr != nil {
		body = []byte(`{"title":"internal error","http_status":"500"}`)
	}
	writeBody(w, te.Status, body)
}

// writeBody writes a TAXII response.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", MediaTAXII)
	w.Header().Set("Cache-Control", "no-store")
	// Known length: the body goes out in one piece, not in chunks.
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// The client may be gone; there is nobody left to tell.
	if _, err := w.Write(body); err != nil {
		return
	}
}

// writeJSON writes a resource as JSON with status 200 (or the given status).
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBody(w, status, body)
	return nil
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
