package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/store"
)

// fakeStore answers NodeInfo; any other method panics (the embedded interface is nil).
type fakeStore struct {
	store.Store
	nodeErr error
}

func (f *fakeStore) NodeInfo(context.Context) (store.NodeInfo, error) {
	if f.nodeErr != nil {
		return store.NodeInfo{}, f.nodeErr
	}
	return store.NodeInfo{ID: "node-1"}, nil
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestServer(t *testing.T, st store.Store, edit func(*config.Limits)) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	limits := config.Default().Limits
	if edit != nil {
		edit(&limits)
	}
	s, err := New(Options{
		Store:   st,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits:  limits,
		Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, body)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorResource {
	t.Helper()
	var e errorResource
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	return e
}

func TestNewRequiresDependencies(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		o    Options
	}{
		{"no store", Options{Logger: logger, Limits: config.Default().Limits}},
		{"no logger", Options{Store: &fakeStore{}, Limits: config.Default().Limits}},
		{"no limits", Options{Store: &fakeStore{}, Logger: logger}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.o); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name       string
		nodeErr    error
		wantStatus int
		wantBody   string
	}{
		{"store answers", nil, http.StatusOK, `{"status":"ok"}`},
		{"store fails", errors.New("disk on fire"), http.StatusServiceUnavailable, `"title":"store unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, &fakeStore{nodeErr: tt.nodeErr}, nil)
			rec := do(t, s.Handler(), "GET", "/healthz", nil, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tt.wantBody)
			}
			if tt.nodeErr != nil {
				if strings.Contains(rec.Body.String(), "disk on fire") {
					t.Error("the private cause leaked into the response")
				}
				if !strings.Contains(logs.String(), "disk on fire") {
					t.Error("the private cause was not logged")
				}
				if e := decodeError(t, rec); e.ErrorID != rec.Header().Get(HeaderRequestID) || e.HTTPStatus != "503" {
					t.Errorf("error resource %+v, request id %q", e, rec.Header().Get(HeaderRequestID))
				}
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		s, _ := newTestServer(t, &fakeStore{}, nil)
		if rec := do(t, s.Handler(), "POST", "/healthz", nil, nil); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz: status %d", rec.Code)
		}
	})
}

func TestRequestID(t *testing.T) {
	s, logs := newTestServer(t, &fakeStore{}, nil)
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"absent", "", false},
		{"plain", "abc-123.X_y:z", true},
		{"too long", strings.Repeat("a", 65), false},
		{"odd characters", "abc def", false},
		{"header injection", "abc\x00def", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.incoming != "" {
				h[HeaderRequestID] = []string{tt.incoming}
			}
			rec := do(t, s.Handler(), "GET", "/healthz", nil, h)
			got := rec.Header().Get(HeaderRequestID)
			if tt.keep && got != tt.incoming {
				t.Errorf("request id %q, want the client's %q", got, tt.incoming)
			}
			if !tt.keep {
				if got == "" || got == tt.incoming || !validRequestID(got) {
					t.Errorf("request id %q: want a fresh valid id", got)
				}
				if seen[got] {
					t.Errorf("request id %q given twice", got)
				}
				seen[got] = true
			}
			if !strings.Contains(logs.String(), "request_id="+got) {
				t.Errorf("access log lacks request_id=%s:\n%s", got, logs.String())
			}
		})
	}
}

func TestAccessLogKeepsSecretsOut(t *testing.T) {
	s, logs := newTestServer(t, &fakeStore{}, nil)
	h := http.Header{"Authorization": {"Bearer renkei_SUPERSECRET"}, "Cookie": {"session=COOKIESECRET"}}
	rec := do(t, s.Handler(), "GET", "/healthz?token=QUERYSECRET", nil, h)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	out := logs.String()
	for _, secret := range []string{"SUPERSECRET", "COOKIESECRET", "QUERYSECRET", "Authorization"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`msg="http request"`, "method=GET", "path=/healthz", "route=/healthz", "status=200"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, &fakeStore{}, nil)
	h := s.Handler()
	for range 3 {
		do(t, h, "GET", "/healthz", nil, nil)
	}
	do(t, h, "GET", "/no/such/route", nil, nil)
	do(t, h, "BREW", "/healthz", nil, nil)
	rec := do(t, h, "GET", "/metrics", nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`renkei_http_requests_total{code="200",method="GET",route="/healthz"} 3`,
		`renkei_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`renkei_http_requests_total{code="405",method="other",route="unmatched"} 1`,
		`renkei_http_request_duration_seconds_count{method="GET",route="/healthz"} 3`,
		`renkei_build_info{goversion="`,
		"go_goroutines ",
		"process_open_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A second server has its own registry: nothing is shared through a global.
	s2, _ := newTestServer(t, &fakeStore{}, nil)
	if body2 := do(t, s2.Handler(), "GET", "/metrics", nil, nil).Body.String(); strings.Contains(body2, `route="/healthz"`) {
		t.Error("a fresh server reports requests it never saw")
	}
}

func TestPanicRecovery(t *testing.T) {
	s, logs := newTestServer(t, &fakeStore{}, nil)
	s.mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	s.mux.HandleFunc("GET /panic-late", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		panic("late boom")
	})
	h := s.Handler()

	rec := do(t, h, "GET", "/panic", nil, nil)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	if e := decodeError(t, rec); e.Title != "internal error" || e.ErrorID == "" {
		t.Errorf("error resource %+v", e)
	}
	if strings.Contains(rec.Body.String(), "boom") {
		t.Error("the panic value leaked into the response")
	}
	if out := logs.String(); !strings.Contains(out, "handler panicked") || !strings.Contains(out, "boom") || !strings.Contains(out, "route=/panic") {
		t.Errorf("log lacks the panic:\n%s", out)
	}

	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("a panic after the header was written: recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		do(t, h, "GET", "/panic-late", nil, nil)
	}()

	if rec := do(t, h, "GET", "/healthz", nil, nil); rec.Code != http.StatusOK {
		t.Errorf("after a panic, /healthz status %d", rec.Code)
	}
	if body := do(t, h, "GET", "/metrics", nil, nil).Body.String(); !strings.Contains(body, "renkei_http_panics_total 2") {
		t.Error("/metrics does not count the two panics")
	}
}

func TestBodyLimit(t *testing.T) {
	s, _ := newTestServer(t, &fakeStore{}, func(l *config.Limits) { l.MaxBodyBytes = 10 })
	s.handle("POST /echo", func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	h := s.Handler()
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{"under the limit", strings.NewReader("0123456789"), http.StatusOK},
		{"declared over the limit", strings.NewReader("0123456789A"), http.StatusRequestEntityTooLarge},
		// io.MultiReader hides the length, so the request has no Content-Length.
		{"streamed over the limit", io.MultiReader(strings.NewReader(strings.Repeat("x", 100))), http.StatusRequestEntityTooLarge},
		{"streamed under the limit", io.MultiReader(strings.NewReader("abc")), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, "POST", "/echo", tt.body, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantStatus == http.StatusRequestEntityTooLarge {
				if e := decodeError(t, rec); !strings.Contains(e.Description, "10") {
					t.Errorf("error resource %+v does not name the limit", e)
				}
			}
		})
	}
}

func TestServeAndShutdown(t *testing.T) {
	s, logs := newTestServer(t, &fakeStore{}, nil)
	started, release := make(chan struct{}), make(chan struct{})
	s.mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, nil) }()

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz status %d", resp.StatusCode)
	}

	type result struct {
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{string(b), err}
	}()
	<-started
	cancel()
	// Wait until the listener is closed: the shutdown has begun while /slow is still in flight.
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if r := <-slow; r.err != nil || r.body != "done" {
		t.Errorf("request in flight during shutdown: body %q, error %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful shutdown", err)
	}
	if !strings.Contains(logs.String(), "server stopped") {
		t.Errorf("log lacks the shutdown:\n%s", logs.String())
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	cfg, err := LoadTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	s, _ := newTestServer(t, &fakeStore{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, cfg) }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("status %d, TLS %+v", resp.StatusCode, resp.TLS)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}

	if _, err := LoadTLS(filepath.Join(t.TempDir(), "absent.pem"), keyFile); err == nil || !strings.Contains(err.Error(), "absent.pem") {
		t.Errorf("LoadTLS(absent) = %v", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "renkei test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestToken(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(a), TokenPrefix) || len(a) != len(TokenPrefix)+43 {
		t.Errorf("token %q: want %q and 43 base64url characters", a, TokenPrefix)
	}
	if a == b || ha == hb {
		t.Error("two tokens are equal")
	}
	if ha != HashToken(string(a)) {
		t.Error("the returned hash is not HashToken of the secret")
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("made", "token", a)
	if strings.Contains(logs.String(), string(a)) || !strings.Contains(logs.String(), "REDACTED") {
		t.Errorf("the token was logged: %s", logs.String())
	}
}
