// Package taxiiclient owns renkei's TAXII 2.1 client: discovery, API roots, collections, objects
// (read page by page as iter.Seq2, in both paging styles, with the objects kept as the exact bytes
// the server sent), manifests, versions, adding objects and polling their status, and deleting. It
// checks media types and statuses, turns TAXII error resources into *Error, bounds every response,
// and keeps credentials out of logs and error messages. It is used by the command line and by
// federation.
package taxiiclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// MediaType is the TAXII 2.1 media type, sent in Accept on every request and in Content-Type on
// every POST.
const MediaType = "application/taxii+json;version=2.1"

// Defaults.
const (
	DefaultMaxResponseBytes = 64 << 20 // per response (one page)
	DefaultTimeout          = 2 * time.Minute
	DefaultUserAgent        = "renkei-taxiiclient/2.1"
	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 1 << 20
	// maxCAFileBytes bounds the CA file.
	maxCAFileBytes = 4 << 20
)

// Secret is a credential. It never prints itself: fmt and slog show "[REDACTED]".
type Secret string

// String hides the secret from fmt's %s and %v.
func (Secret) String() string { return "[REDACTED]" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"[REDACTED]"` }

// LogValue hides the secret from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Auth is how the client authenticates: HTTP Basic with Username and Token as the password when
// Username is set, else "Authorization: Bearer Token". A zero Auth sends no credentials.
type Auth struct {
	Username string
	Token    Secret
}

func (a Auth) set(h http.Header) {
	switch {
	case a.Username != "":
		r := http.Request{Header: h}
		r.SetBasicAuth(a.Username, string(a.Token))
	case a.Token != "":
		h.Set("Authorization", "Bearer "+string(a.Token))
	}
}

func (a Auth) empty() bool { return a.Username == "" && a.Token == "" }

// Options configure New.
type Options struct {
	// BaseURL is the server's URL (scheme and host, e.g. https://taxii.example.org). Relative API
	// roots are resolved against it, and credentials are sent only to its origin.
	BaseURL string
	Auth    Auth
	// CAFile, when set, is a PEM file of the certificate authorities trusted for the server's
	// certificate, instead of the system's.
	CAFile string
	// Timeout bounds each request, reading its response included (0: DefaultTimeout).
	Timeout time.Duration
	// MaxResponseBytes bounds each response body (0: DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// UserAgent is sent with every request ("": DefaultUserAgent).
	UserAgent string
	// AllowPlainHTTP permits credentials to be sent over http:// to a host other than loopback.
	AllowPlainHTTP bool
	// HTTP, when set, is used as is (CAFile and Timeout are then ignored): for tests.
	HTTP   *http.Client
	Logger *slog.Logger
}

// Client talks to one TAXII 2.1 server. It is safe for concurrent use.
type Client struct {
	BaseURL          *url.URL
	HTTP             *http.Client
	Auth             Auth
	UserAgent        string
	MaxResponseBytes int64
	logger           *slog.Logger
}

// New returns a client for opt.BaseURL.
func New(opt Options) (*Client, error) {
	base, err := url.Parse(opt.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("taxii: server URL %q: %w", opt.BaseURL, err)
	}
	if base.Scheme != "https" && base.Scheme != "http" {
		return nil, fmt.Errorf("taxii: server URL %q: the scheme must be https (or http), not %q", opt.BaseURL, base.Scheme)
	}
	if base.Host == "" {
		return nil, fmt.Errorf("taxii: server URL %q has no host", opt.BaseURL)
	}
	if base.User != nil {
		return nil, fmt.Errorf("taxii: server URL %q: give credentials with the auth options, not in the URL", base.Redacted())
	}
	if base.Scheme == "http" && !opt.Auth.empty() && !opt.AllowPlainHTTP && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("taxii: refusing to send credentials over plain http to %s: use https", base.Host)
	}
	c := &Client{
		BaseURL:          &url.URL{Scheme: base.Scheme, Host: base.Host},
		HTTP:             opt.HTTP,
		Auth:             opt.Auth,
		UserAgent:        opt.UserAgent,
		MaxResponseBytes: opt.MaxResponseBytes,
		logger:           opt.Logger,
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTP == nil {
		hc, err := newHTTPClient(opt, c.BaseURL)
		if err != nil {
			return nil, err
		}
		c.HTTP = hc
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newHTTPClient makes an HTTP client with TLS 1.2 or later, the CA file's roots when given, timeouts,
// and redirects only within the server's origin (never from https to http).
func newHTTPClient(opt Options, base *url.URL) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if opt.CAFile != "" {
		pool, err := loadCAFile(opt.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
				return fmt.Errorf("refusing a redirect to another origin (%s://%s)", req.URL.Scheme, req.URL.Host)
			}
			return nil
		},
	}, nil
}

// loadCAFile reads a PEM file of CA certificates into a pool.
func loadCAFile(name string) (*x509.CertPool, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("taxii: CA file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCAFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("taxii: CA file %s: %w", name, err)
	}
	if len(data) > maxCAFileBytes {
		return nil, fmt.Errorf("taxii: CA file %s is larger than %d bytes", name, maxCAFileBytes)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("taxii: CA file %s holds no PEM certificate", name)
	}
	return pool, nil
}

// Resolve turns an API root (absolute URL, or a path relative to the server) into an absolute URL
// ending in "/". It refuses roots on another origin than the server's, since the client's
// credentials are meant for that server only, and roots with a query.
func (c *Client) Resolve(root string) (*url.URL, error) {
	u, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("taxii: API root %q: %w", root, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("taxii: API root %q may not have a query or fragment", root)
	}
	if !u.IsAbs() {
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
			return nil, fmt.Errorf("taxii: API root %q: a relative root must start with a single /", root)
		}
		u = c.BaseURL.ResolveReference(u)
	}
	if u.Scheme != c.BaseURL.Scheme || u.Host != c.BaseURL.Host {
		return nil, fmt.Errorf("taxii: API root %s is not on %s; make a client for that server", u.Redacted(), c.BaseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// endpoint is root joined with the path segments, each escaped, with a trailing slash.
func (c *Client) endpoint(root string, segments ...string) (*url.URL, error) {
	u, err := c.Resolve(root)
	if err != nil {
		return nil, err
	}
	p, raw := u.Path, u.EscapedPath()
	for _, s := range segments {
		if s == "" || s == "." || s == ".." || strings.Contains(s, "/") {
			return nil, fmt.Errorf("taxii: bad path segment %q", s)
		}
		p += s + "/"
		raw += url.PathEscape(s) + "/"
	}
	u.Path, u.RawPath = p, raw
	return u, nil
}

// response is a checked 2xx response whose body is bounded.
type response struct {
	*http.Response
	body io.ReadCloser
}

// do sends a request and checks the answer: a 2xx status in want, and the TAXII media type. Any other
// status is returned as *Error. The caller closes resp.body.
func (c *Client) do(ctx context.Context, method string, u *url.URL, body io.Reader, want ...int) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, u.Redacted(), err)
	}
	req.Header.Set("Accept", MediaType)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	req.Header.Set("User-Agent", c.UserAgent)
	c.Auth.set(req.Header)
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, u.Redacted(), err)
	}
	c.logger.LogAttrs(ctx, slog.LevelDebug, "taxii request", slog.String("method", method),
		slog.String("url", u.Redacted()), slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
	ok := false
	for _, s := range want {
		ok = ok || resp.StatusCode == s
	}
	if !ok {
		defer resp.Body.Close()
		return nil, readError(method, u, resp)
	}
	if err := checkMediaType(resp.Header.Get("Content-Type")); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("taxii: %s %s: %w", method, u.Redacted(), err)
	}
	return &response{Response: resp, body: &limitedBody{rc: resp.Body, left: c.MaxResponseBytes, limit: c.MaxResponseBytes}}, nil
}

// ErrContentType is wrapped by the error for a response that is not TAXII 2.1 JSON.
var ErrContentType = errors.New("response is not TAXII 2.1 JSON")

// checkMediaType accepts application/taxii+json with version 2.1 or no version.
func checkMediaType(ct string) error {
	if ct == "" {
		return fmt.Errorf("%w: no Content-Type, want %s", ErrContentType, MediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: Content-Type %q: %w", ErrContentType, ct, err)
	}
	if mt != "application/taxii+json" {
		return fmt.Errorf("%w: Content-Type is %q, want %s", ErrContentType, ct, MediaType)
	}
	if v, ok := params["version"]; ok && v != "2.1" {
		return fmt.Errorf("%w: Content-Type %q is TAXII version %s, want 2.1", ErrContentType, ct, v)
	}
	return nil
}

// ErrResponseTooLarge is wrapped by the error for a response body above the client's limit.
var ErrResponseTooLarge = errors.New("response too large")

// limitedBody fails once more than limit bytes were read.
type limitedBody struct {
	rc          io.ReadCloser
	left, limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly limit bytes from a larger one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: the body is larger than the limit of %d bytes (raise the client's MaxResponseBytes, or ask for smaller pages with limit)", ErrResponseTooLarge, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
