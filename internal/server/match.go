package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// matchIndex holds the compiled active indicators for POST /match. It is compiled on first use
// and again when an indicator version was stored since, or when a valid_from or valid_until passed
// (docs/MATCHING.md). Its zero value is ready.
type matchIndex struct {
	mu  sync.Mutex
	cur *match.Compiled
}

// get returns the index for the time now, compiling it when it is stale.
func (m *matchIndex) get(ctx context.Context, st store.Store, now time.Time, s *Server) (*match.Compiled, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cur
	if c != nil && (c.NextChange.IsZero() || now.Before(c.NextChange)) {
		// One indexed query per request: is there a newer indicator version?
		page, err := st.List(ctx, store.Filter{Types: []string{"indicator"}, AddedAfter: c.LastStored}, store.Cursor{}, 1)
		if err != nil {
			return nil, fmt.Errorf("match: looking for new indicators: %w", err)
		}
		if len(page.Versions) == 0 {
			return c, nil
		}
	}
	start := time.Now()
	c, err := match.Compile(ctx, st, match.CompileOptions{At: now, Logger: s.logger})
	if err != nil {
		return nil, err
	}
	s.logger.Info("match: indicators compiled", "active", c.Stats.Active, "read", c.Stats.Read,
		"entries", c.Stats.Entries, "took", time.Since(start).String())
	m.cur = c
	return c, nil
}

// Limits of POST /match besides the node's body limit.
const (
	matchMaxLine = 64 << 10
)

// handleMatch matches the log in the request body against the active indicators the viewer may
// read, and streams the hits back as JSON lines as they are found.
func (s *Server) handleMatch(w http.ResponseWriter, r *http.Request) error {
	v, ok := ViewerFrom(r.Context())
	if !ok {
		return &HTTPError{Status: http.StatusUnauthorized, Title: "authentication required"}
	}
	q := r.URL.Query()
	fo := match.FormatOptions{Name: q.Get("format"), TimeField: q.Get("time_field"), NoHeader: q.Get("header") == "false"}
	if fo.Name == "" {
		fo.Name = "text"
	}
	for _, f := range q["field"] {
		name, k, err := match.ParseField(f)
		if err != nil {
			return &HTTPError{Status: http.StatusBadRequest, Title: "bad field parameter", Description: err.Error()}
		}
		if fo.Fields == nil {
			fo.Fields = map[string]match.Kind{}
		}
		fo.Fields[name] = k
	}
	format, err := match.NewFormat(fo)
	if err != nil {
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad format parameter", Description: err.Error()}
	}
	comp, err := s.matchIx.get(r.Context(), s.store, time.Now(), s)
	if err != nil {
		return err
	}
	view := comp.NewViewFilter(func(ver *store.Version) bool { return policy.CanVersion(v, policy.ActionRead, ver).Allow })
	rc := http.NewResponseController(w)
	// The hits go out while the body is still being read.
	if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("match: %w", err)
	}
	started := false
	start := func() {
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
		}
	}
	var buf []byte
	m := &match.Matcher{Source: comp.Index, Verify: comp.Verify, Read: match.ReadOptions{MaxLine: matchMaxLine}}
	st, err := m.Run(r.Context(), r.Body, format, func(h *match.Hit) error {
		refs := view.Filter(h.Refs)
		if len(refs) == 0 {
			return nil
		}
		rec := comp.Record(h, refs)
		var err error
		if buf, err = rec.AppendJSON(buf[:0]); err != nil {
			return err
		}
		start()
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("match: writing a hit: %w", err)
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return fmt.Errorf("match: flushing: %w", err)
		}
		return nil
	})
	if err != nil {
		herr := matchError(err)
		if !started {
			return herr
		}
		// The status is sent: the error is the last line of the stream.
		s.logger.WarnContext(r.Context(), "match: stream ended by an error", "err", err)
		b, jerr := json.Marshal(map[string]string{"error": herr.Title + ": " + herr.Description})
		if jerr == nil {
			_, jerr = w.Write(append(b, '\n'))
		}
		if jerr != nil {
			s.logger.WarnContext(r.Context(), "match: writing the error line", "err", jerr)
		}
		return nil
	}
	start()
	s.logger.DebugContext(r.Context(), "match: done", "lines", st.Lines, "bytes", st.Bytes)
	return nil
}

// matchError renders an error of a match run.
func matchError(err error) *HTTPError {
	var mbe *http.MaxBytesError
	var le *match.LineError
	switch {
	case errors.As(err, &mbe):
		return &HTTPError{Status: http.StatusRequestEntityTooLarge, Title: "request body too large",
			Description: fmt.Sprintf("the body is larger than the limit of %d bytes", mbe.Limit), Err: err}
	case errors.As(err, &le):
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad log line", Description: le.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &HTTPError{Status: 499, Title: "request cancelled", Err: err}
	}
	return &HTTPError{Status: http.StatusInternalServerError, Title: "match failed", Err: err}
}
