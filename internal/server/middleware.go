package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// HeaderRequestID carries the request id, in both directions.
const HeaderRequestID = "X-Request-Id"

// middleware wraps the routes. Order, outermost first: request id, observation (access log and
// metrics), body limit, panic recovery. Nothing between observe and the mux replaces the *Request,
// so observe sees the pattern the mux matched (r.Pattern).
func (s *Server) middleware(mux http.Handler) http.Handler {
	h := s.recoverPanics(mux)
	h = s.limitBody(h)
	h = s.observe(h)
	return withRequestID(h)
}

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID keeps a client's X-Request-Id when it is short and plain, else makes one, and sets it
// on the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// validRequestID accepts 1–64 characters of A–Z, a–z, 0–9, '.', '_', ':' and '-'.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:-", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(p []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer (Flush, deadlines).
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Flush passes through, for streaming responses.
func (rw *recorder) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	if err := http.NewResponseController(rw.ResponseWriter).Flush(); err != nil {
		return // the writer cannot flush; nothing to do
	}
}

// observe writes one access log line per request and counts it in the metrics. It logs the method,
// path, matched route, status, size, duration and request id; never headers, query strings or bodies,
// so no credential reaches the log.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		route := routeLabel(r.Pattern)
		s.metrics.observe(route, r.Method, rec.status, d)
		s.logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", d),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// routeLabel turns a mux pattern such as "GET /healthz" into the route label "/healthz".
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// limitBody refuses bodies larger than the limit: at once when Content-Length says so, else when the
// handler reads past it (an *http.MaxBytesError, rendered as 413).
func (s *Server) limitBody(next http.Handler) http.Handler {
	max := s.limits.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			s.writeError(w, r, &HTTPError{
				Status:      http.StatusRequestEntityTooLarge,
				Title:       "request body too large",
				Description: fmt.Sprintf("the body is %d bytes, more than the limit of %d", r.ContentLength, max),
			})
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panicking handler into a 500 response and an error log line with the stack.
// http.ErrAbortHandler is passed on: it is how a handler aborts a response on purpose.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.metrics.panics.Inc()
			s.logger.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("route", routeLabel(r.Pattern)),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())),
			)
			// The status can only be set when the handler has not written it yet; a response
			// already under way is cut short by the server when the handler returns.
			if rec, ok := w.(*recorder); ok && rec.status != 0 {
				panic(http.ErrAbortHandler)
			}
			writeErrorResource(w, r, &HTTPError{Status: http.StatusInternalServerError, Title: "internal error"})
		}()
		next.ServeHTTP(w, r)
	})
}
