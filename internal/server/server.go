// Package server owns renkei's HTTP front: the Server that holds the node's dependencies, every route
// (in routes.go, with Go 1.22 method patterns), the middleware every request passes through (request
// ids, access log, metrics, body limits, panic recovery), error rendering, API tokens, TLS settings and
// graceful shutdown. The TAXII API and the web UI register their handlers here.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/taxii"
)

// Options are the dependencies of a Server.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	Limits config.Limits
	// TAXII configures the TAXII service; the zero value (no API roots, no page size) means
	// config.Default().TAXII.
	TAXII config.TAXII
	// Version is reported by /metrics (renkei_build_info).
	Version string
	// Now is the clock of token checks (default time.Now).
	Now func() time.Time
	// PII is the node's personal-data guard, applied to what leaves its organisation through TAXII
	// and exports (nil: redact).
	PII *pii.Policy
	// MatchIndexFile is where POST /match keeps its compiled index between runs ("": in memory).
	MatchIndexFile string
}

// Server serves one node's HTTP API. It holds no per-request state: everything a request needs is in
// the request or on the stack of its handler.
type Server struct {
	store   store.Store
	logger  *slog.Logger
	limits  config.Limits
	metrics *metrics
	mux     *http.ServeMux
	handler http.Handler
	taxii   http.Handler
	matchIx matchIndex  // the compiled indicators of POST /match (match.go)
	viewers viewerCache // accepted credentials, for ViewerTTL (auth.go)
	pii     *pii.Policy
	now     func() time.Time
}

// New returns a Server with every route registered.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("server: no store")
	}
	if o.Logger == nil {
		return nil, errors.New("server: no logger")
	}
	if o.Limits.MaxBodyBytes <= 0 || o.Limits.ShutdownTimeout <= 0 {
		return nil, errors.New("server: limits not set (use config.Default().Limits)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PII == nil {
		o.PII = &pii.Policy{Mode: pii.ModeRedact}
	}
	s := &Server{
		pii:     o.PII,
		now:     o.Now,
		store:   o.Store,
		logger:  o.Logger,
		limits:  o.Limits,
		metrics: newMetrics(o.Version),
		mux:     http.NewServeMux(),
	}
	s.matchIx.path = o.MatchIndexFile
	tc := o.TAXII
	if tc.PageSize == 0 {
		tc = config.Default().TAXII
	}
	th, err := taxii.New(taxii.Options{Store: o.Store, Importer: ingest.New(o.Store, o.Logger), Config: tc,
		Logger: o.Logger, Viewer: func(r *http.Request) (policy.Viewer, bool) { return ViewerFrom(r.Context()) },
		RequestID: RequestID, PII: o.PII})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.taxii = th
	s.routes()
	s.handler = s.middleware(s.mux)
	return s, nil
}

// Handler returns the server's root handler: the routes behind the middleware.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on ln until ctx is cancelled, then shuts down gracefully: it stops accepting
// connections and waits up to the shutdown timeout for requests in flight. With tlsConfig set, ln
// speaks TLS. Serve closes ln. The caller closes the store after Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	l := s.limits
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout.Std(),
		ReadTimeout:       l.ReadTimeout.Std(),
		WriteTimeout:      l.WriteTimeout.Std(),
		IdleTimeout:       l.IdleTimeout.Std(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		// Requests in flight keep running during a graceful shutdown, so they must not inherit
		// the cancellation of ctx; they keep its values.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("shutting down", "timeout", l.ShutdownTimeout.Std().String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ShutdownTimeout.Std())
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		cerr := hs.Close()
		return fmt.Errorf("server: graceful shutdown: %w", errors.Join(err, cerr))
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	s.logger.Info("server stopped")
	return nil
}

// LoadTLS reads a certificate and key (PEM files) into a TLS configuration that accepts TLS 1.2
// and later.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: loading %s and %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}
