package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// matchIndex holds the compiled active indicators for POST /match. It is loaded from the index
// file (or compiled from the store, and the file written) at start (WarmMatchIndex) or on first
// use, and compiled again when it is stale: an indicator version, a marking definition or an
// organisation changed, or a valid_from or valid_until passed (docs/MATCHING.md). A replaced index
// is closed (its file mapping released) once the last request using it is done. Its zero value,
// with no path, compiles in memory.
type matchIndex struct {
	path string // the index file; "" keeps the index in memory only
	mu   sync.Mutex
	cur  *compiledRef
}

// compiledRef counts the requests using an index.
type compiledRef struct {
	c       *match.Compiled
	users   atomic.Int64
	retired atomic.Bool // replaced: closed when users drops to 0
}

func (r *compiledRef) closeIfUnused(logger *slog.Logger) {
	if r.retired.Load() && r.users.Load() == 0 {
		if err := r.c.Close(); err != nil {
			logger.Warn("match: releasing a replaced index", "err", err)
		}
	}
}

// get returns the index for the time now, loading or compiling it when there is none or it is
// stale, and the func to call when the caller is done with it.
func (m *matchIndex) get(ctx context.Context, st store.Store, now time.Time, logger *slog.Logger) (*match.Compiled, func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cur
	var stale string
	if old != nil {
		// Three small indexed queries per request: is anything the index depends on newer?
		var err error
		if stale, err = old.c.Stale(ctx, st, now); err != nil {
			return nil, nil, fmt.Errorf("match: %w", err)
		}
		if stale == "" {
			return m.acquire(old, logger)
		}
	}
	c, info, err := match.Load(ctx, st, match.LoadOptions{Path: m.path, Rebuild: old != nil,
		Compile: match.CompileOptions{At: now, Logger: logger}})
	if err != nil {
		return nil, nil, fmt.Errorf("match: %w", err)
	}
	if info.Loaded {
		logger.Info("match: index loaded", "file", m.path, "active", c.Stats.Active, "took", info.Took.String())
	} else {
		why := info.Why
		if stale != "" {
			why = stale
		}
		logger.Info("match: indicators compiled", "why", why, "active", c.Stats.Active, "read", c.Stats.Read,
			"entries", c.Stats.Entries, "written", info.Written, "took", info.Took.String())
	}
	m.cur = &compiledRef{c: c}
	if old != nil {
		old.retired.Store(true)
		old.closeIfUnused(logger)
	}
	return m.acquire(m.cur, logger)
}

func (m *matchIndex) acquire(r *compiledRef, logger *slog.Logger) (*match.Compiled, func(), error) {
	r.users.Add(1)
	var once sync.Once
	return r.c, func() {
		once.Do(func() {
			r.users.Add(-1)
			r.closeIfUnused(logger)
		})
	}, nil
}

// WarmMatchIndex loads the index of POST /match in the background, or compiles it when the file
// is missing or stale, so that the first request need not wait for it. The returned func waits
// until it is done; call it before closing the store.
func (s *Server) WarmMatchIndex(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, release, err := s.matchIx.get(ctx, s.store, time.Now(), s.logger)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("match: preparing the index at start", "err", err)
			}
			return
		}
		release()
	}()
	return func() { <-done }
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
	comp, release, err := s.matchIx.get(r.Context(), s.store, time.Now(), s.logger)
	if err != nil {
		return err
	}
	defer release()
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
