package taxiiclient_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/taxiiclient"
	"github.com/renkei-cti/renkei/internal/taxiiclient/taxiitest"
)

const (
	readable  = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	writeOnly = "52892447-4d7e-4f70-b94d-d7f22742ff63"
	hidden    = "2d086da7-4bdc-4f91-900e-d77486753710"
	token     = "renkei_s3cr3t-token-value"
	root      = "/api1/"
)

// indicator returns a STIX indicator with an unusual but valid layout, so that a re-marshalled copy
// would differ from the bytes sent.
func indicator(i int, modified string) string {
	return fmt.Sprintf(`{ "type":"indicator",  "spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":%q,"name":"caf\u00e9 %d","pattern":"[ipv4-addr:value = '10.0.0.%d']",`+
		`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, modified, i, i%250)
}

func newServer(t *testing.T, cfg taxiitest.Config) (*taxiitest.Server, *httptest.Server) {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = map[string]string{"alice": token}
	}
	if cfg.Bearer == nil {
		cfg.Bearer = []string{token}
	}
	fake := taxiitest.New(cfg)
	fake.AddCollection(taxiitest.CollectionInfo{ID: readable, Title: "Readable", CanRead: true, CanWrite: true})
	fake.AddCollection(taxiitest.CollectionInfo{ID: writeOnly, Title: "Inbox", CanWrite: true})
	fake.AddCollection(taxiitest.CollectionInfo{ID: hidden, Title: "Hidden"})
	hs := httptest.NewServer(fake.Handler())
	t.Cleanup(hs.Close)
	return fake, hs
}

func newClient(t *testing.T, base string, auth taxiiclient.Auth) *taxiiclient.Client {
	t.Helper()
	c, err := taxiiclient.New(taxiiclient.Options{BaseURL: base, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var bearer = taxiiclient.Auth{Token: token}

func TestServerInformation(t *testing.T) {
	fake, hs := newServer(t, taxiitest.Config{MaxContentLength: 12345})
	c := newClient(t, hs.URL, bearer)
	ctx := t.Context()

	d, err := c.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "taxiitest" || len(d.APIRoots) != 1 || d.APIRoots[0] != root {
		t.Errorf("discovery = %+v", d)
	}
	if got := c.ResolveRoots(d); got[0] != hs.URL+root {
		t.Errorf("resolved roots = %v, want %s", got, hs.URL+root)
	}
	ar, err := c.APIRoot(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if ar.MaxContentLength != 12345 || len(ar.Versions) != 1 || ar.Versions[0] != taxiiclient.MediaType {
		t.Errorf("api root = %+v", ar)
	}
	cols, err := c.Collections(ctx, hs.URL+"/api1") // absolute, without the trailing slash
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 3 || cols[0].ID != readable || !cols[0].CanRead || !cols[0].CanWrite || cols[1].CanRead || !cols[1].CanWrite {
		t.Errorf("collections = %+v", cols)
	}
	col, err := c.Collection(ctx, root, writeOnly)
	if err != nil {
		t.Fatal(err)
	}
	if col.Title != "Inbox" || col.CanRead || !col.CanWrite {
		t.Errorf("collection = %+v", col)
	}
	for _, r := range fake.Requests() {
		if got := r.Header.Get("Accept"); got != taxiiclient.MediaType {
			t.Errorf("%s %s: Accept %q", r.Method, r.Path, got)
		}
		if got := r.Header.Get("User-Agent"); got != taxiiclient.DefaultUserAgent {
			t.Errorf("%s %s: User-Agent %q", r.Method, r.Path, got)
		}
		if !strings.HasSuffix(r.Path, "/") {
			t.Errorf("%s %s: no trailing slash", r.Method, r.Path)
		}
	}
}

func TestPaging(t *testing.T) {
	type style struct {
		name     string
		omitNext bool
		pages    func(c *taxiiclient.Client, q taxiiclient.Query) func(yield func(*taxiiclient.Page, error) bool)
	}
	styles := []style{
		{"next", false, func(c *taxiiclient.Client, q taxiiclient.Query) func(func(*taxiiclient.Page, error) bool) {
			return c.ObjectsNext(t.Context(), root, readable, q)
		}},
		{"next without next values (falls back to added_after)", true, func(c *taxiiclient.Client, q taxiiclient.Query) func(func(*taxiiclient.Page, error) bool) {
			return c.ObjectsNext(t.Context(), root, readable, q)
		}},
		{"added_after", false, func(c *taxiiclient.Client, q taxiiclient.Query) func(func(*taxiiclient.Page, error) bool) {
			return c.ObjectsAddedAfter(t.Context(), root, readable, q)
		}},
	}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			fake, hs := newServer(t, taxiitest.Config{PageSize: 4})
			fake.OmitNext = st.omitNext
			for i := range 10 {
				fake.Add(readable, indicator(i, "2026-01-02T00:00:00.000Z"))
			}
			c := newClient(t, hs.URL, bearer)
			var got [][]byte
			pages := 0
			var lastCursor taxiiclient.Cursor
			for p, err := range st.pages(c, taxiiclient.Query{Versions: []string{"all"}}) {
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(p.Objects) > 4 {
					t.Errorf("page %d has %d objects, more than the server's page size", pages, len(p.Objects))
				}
				for _, o := range p.Objects {
					got = append(got, o)
				}
				if pages == 1 {
					// Objects arriving while the client pages: new ones, and a new version of one
					// already read.
					for i := 10; i < 15; i++ {
						fake.Add(readable, indicator(i, "2026-01-02T00:00:00.000Z"))
					}
					fake.Add(readable, indicator(2, "2026-01-03T00:00:00.000Z"))
				}
				lastCursor = p.Cursor
			}
			want := fake.Objects(readable)
			if len(got) != len(want) {
				t.Fatalf("got %d objects in %d pages, want %d", len(got), pages, len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("object %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			if pages != 4 {
				t.Errorf("%d pages, want 4 (16 objects, 4 a page)", pages)
			}
			wantLast := taxiitest.Epoch.Add(15 * time.Microsecond)
			if !lastCursor.AddedAfter.Equal(wantLast) {
				t.Errorf("last cursor %v, want added_after %v", lastCursor, wantLast)
			}
			// Resuming from the last cursor finds nothing new, then what arrives after.
			fake.Add(readable, indicator(99, "2026-01-02T00:00:00.000Z"))
			var resumed [][]byte
			for p, err := range c.ObjectsAddedAfter(t.Context(), root, readable, taxiiclient.Query{AddedAfter: lastCursor.AddedAfter}) {
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range p.Objects {
					resumed = append(resumed, o)
				}
			}
			if len(resumed) != 1 || !bytes.Contains(resumed[0], []byte("000000000099")) {
				t.Errorf("resumed: got %q, want only indicator 99", resumed)
			}
		})
	}
}

func TestPagingSendsQuery(t *testing.T) {
	fake, hs := newServer(t, taxiitest.Config{PageSize: 2})
	for i := range 5 {
		fake.Add(readable, indicator(i, "2026-01-02T00:00:00.000Z"))
	}
	c := newClient(t, hs.URL, bearer)
	after := time.Date(2025, 12, 31, 23, 0, 0, 123456789, time.UTC)
	q := taxiiclient.Query{AddedAfter: after, Limit: 2, Types: []string{"indicator", "malware"}, Versions: []string{"last"}, SpecVersions: []string{"2.1"}}
	n := 0
	for p, err := range c.ObjectsNext(t.Context(), root, readable, q) {
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Objects)
	}
	if n != 5 {
		t.Fatalf("%d objects, want 5", n)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	first := reqs[0].Query
	for k, want := range map[string]string{
		"added_after": "2025-12-31T23:00:00.123456Z", "limit": "2", "match[type]": "indicator,malware",
		"match[version]": "last", "match[spec_version]": "2.1",
	} {
		if got := first[k]; len(got) != 1 || got[0] != want {
			t.Errorf("first request: %s = %q, want %q", k, got, want)
		}
	}
	if _, ok := first["next"]; ok {
		t.Error("first request sends next")
	}
	// Later requests keep the query and add next.
	for _, r := range reqs[1:] {
		if len(r.Query["next"]) != 1 || r.Query["match[type]"][0] != "indicator,malware" || r.Query["added_after"][0] != "2025-12-31T23:00:00.123456Z" {
			t.Errorf("follow-up query %v", r.Query)
		}
	}
}

func TestErrors(t *testing.T) {
	fake, hs := newServer(t, taxiitest.Config{MaxContentLength: 600})
	fake.Add(readable, indicator(1, "2026-01-02T00:00:00.000Z"))
	ctx := t.Context()
	tests := []struct {
		name   string
		auth   taxiiclient.Auth
		call   func(c *taxiiclient.Client) error
		status int
		is     error
		title  string
	}{
		{"bad token", taxiiclient.Auth{Token: "wrong"}, func(c *taxiiclient.Client) error {
			_, err := c.Collections(ctx, root)
			return err
		}, 401, taxiiclient.ErrUnauthorized, "authentication required"},
		{"bad basic password", taxiiclient.Auth{Username: "alice", Token: "wrong"}, func(c *taxiiclient.Client) error {
			_, err := c.Discover(ctx)
			return err
		}, 401, taxiiclient.ErrUnauthorized, "authentication required"},
		{"read a write-only collection", bearer, func(c *taxiiclient.Client) error {
			_, err := c.Objects(ctx, root, writeOnly, taxiiclient.Query{})
			return err
		}, 403, taxiiclient.ErrForbidden, "forbidden"},
		{"a hidden collection", bearer, func(c *taxiiclient.Client) error {
			_, err := c.Collection(ctx, root, hidden)
			return err
		}, 404, taxiiclient.ErrNotFound, "no such collection"},
		{"an unknown object", bearer, func(c *taxiiclient.Client) error {
			_, err := c.Object(ctx, root, readable, "indicator--00000000-0000-4000-8000-999999999999", taxiiclient.Query{})
			return err
		}, 404, taxiiclient.ErrNotFound, "no such object"},
		{"a malformed next", bearer, func(c *taxiiclient.Client) error {
			_, err := c.Objects(ctx, root, readable, taxiiclient.Query{Next: "garbage"})
			return err
		}, 400, taxiiclient.ErrBadRequest, "bad query"},
		{"a POST above max_content_length", bearer, func(c *taxiiclient.Client) error {
			_, err := c.AddObjects(ctx, root, readable, []jsontext.Value{
				jsontext.Value(indicator(2, "2026-01-02T00:00:00.000Z")), jsontext.Value(indicator(3, "2026-01-02T00:00:00.000Z")),
			})
			return err
		}, 413, taxiiclient.ErrRequestTooLarge, "request too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newClient(t, hs.URL, tt.auth))
			var te *taxiiclient.Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T), want *taxiiclient.Error", err, err)
			}
			if te.StatusCode != tt.status || !errors.Is(err, tt.is) || te.Title != tt.title {
				t.Errorf("got status %d title %q (%v), want %d %q", te.StatusCode, te.Title, err, tt.status, tt.title)
			}
			if te.HTTPStatus != fmt.Sprint(tt.status) || !strings.HasPrefix(te.ErrorID, "err-") {
				t.Errorf("error resource not decoded: %+v", te)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if tt.status == 401 && !strings.Contains(te.Challenge, "Basic") {
				t.Errorf("challenge %q", te.Challenge)
			}
		})
	}
}

// TestErrorResponses checks statuses the client cannot provoke from a well-behaved server (it always
// sends the right Accept and Content-Type): a server that answers them anyway.
func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		is          error
		want        string // in the message
	}{
		{"406 with an error resource", 406, taxiiclient.MediaType,
			`{"title":"Not Acceptable","description":"we speak 2.0","error_id":"e1","error_code":"C7","http_status":"406","external_details":"https://example.org/e1","details":{"accept":["x"]}}`,
			taxiiclient.ErrNotAcceptable, "406 Not Acceptable: Not Acceptable: we speak 2.0 (error_id e1)"},
		{"415 with a bare media type", 415, "application/taxii+json",
			`{"title":"Unsupported"}`, taxiiclient.ErrUnsupportedMediaType, "415 Unsupported Media Type: Unsupported"},
		{"413 from a proxy, in HTML", 413, "text/html",
			"<html>\n<body>Request   Entity Too Large</body></html>", taxiiclient.ErrRequestTooLarge, "<html> <body>Request Entity Too Large</body></html>"},
		{"500 with an empty body", 500, "", "", nil, "500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer hs.Close()
			_, err := newClient(t, hs.URL, bearer).Discover(t.Context())
			var te *taxiiclient.Error
			if !errors.As(err, &te) || te.StatusCode != tt.status {
				t.Fatalf("error %v, want *Error with status %d", err, tt.status)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.status == 406 {
				if te.ErrorCode != "C7" || te.ExternalDetails != "https://example.org/e1" || string(te.Details) != `{"accept":["x"]}` {
					t.Errorf("error resource fields: %+v", te)
				}
			}
		})
	}
}

func TestContentTypeChecked(t *testing.T) {
	tests := []struct {
		ct string
		ok bool
	}{
		{"application/taxii+json;version=2.1", true},
		{"application/taxii+json; version=2.1", true},
		{"application/taxii+json", true},
		{"application/json", false},
		{"application/taxii+json;version=2.0", false},
		{"text/html; charset=utf-8", false},
		{"application/stix+json;version=2.1", false},
	}
	fake, hs := newServer(t, taxiitest.Config{})
	fake.Add(readable, indicator(1, "2026-01-02T00:00:00.000Z"))
	c := newClient(t, hs.URL, bearer)
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			fake.ContentType = tt.ct
			_, err := c.Objects(t.Context(), root, readable, taxiiclient.Query{})
			if tt.ok != (err == nil) {
				t.Fatalf("error %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, taxiiclient.ErrContentType) {
				t.Errorf("error %v does not wrap ErrContentType", err)
			}
		})
	}
}

func TestResponseLimit(t *testing.T) {
	fake, hs := newServer(t, taxiitest.Config{})
	fake.Add(readable, indicator(1, "2026-01-02T00:00:00.000Z"))
	exact := len(`{"objects":[`) + len(fake.Objects(readable)[0]) + len(`]}`)
	tests := []struct {
		name    string
		limit   int64
		padding int
		ok      bool
	}{
		{"exactly at the limit", int64(exact), 0, true},
		{"one byte over", int64(exact), 1, false},
		{"far over", 1024, 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.Padding = tt.padding
			c, err := taxiiclient.New(taxiiclient.Options{BaseURL: hs.URL, Auth: bearer, MaxResponseBytes: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Objects(t.Context(), root, readable, taxiiclient.Query{})
			if tt.ok {
				if err != nil || len(p.Objects) != 1 {
					t.Fatalf("page %v, error %v", p, err)
				}
				return
			}
			if !errors.Is(err, taxiiclient.ErrResponseTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(tt.limit)) {
				t.Fatalf("error %v, want ErrResponseTooLarge naming the limit", err)
			}
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		name string
		auth taxiiclient.Auth
		want string
	}{
		{"basic", taxiiclient.Auth{Username: "alice", Token: token}, "Basic YWxpY2U6cmVua2VpX3MzY3IzdC10b2tlbi12YWx1ZQ=="},
		{"bearer", taxiiclient.Auth{Token: token}, "Bearer " + token},
		{"none", taxiiclient.Auth{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, hs := newServer(t, taxiitest.Config{})
			_, err := newClient(t, hs.URL, tt.auth).Discover(t.Context())
			if (err == nil) != (tt.want != "") {
				t.Fatalf("discover: %v", err)
			}
			reqs := fake.Requests()
			if got := reqs[0].Header.Get("Authorization"); got != tt.want {
				t.Errorf("Authorization %q, want %q", got, tt.want)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", tt.auth, tt.auth, tt.auth, tt.auth.Token); strings.Contains(s, token) {
				t.Errorf("formatting the auth shows the token: %s", s)
			}
		})
	}
}

func TestCAFile(t *testing.T) {
	fake := taxiitest.New(taxiitest.Config{Bearer: []string{token}})
	hs := httptest.NewUnstartedServer(fake.Handler())
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	hs.StartTLS()
	defer hs.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ca      string
		newErr  string
		callErr string
	}{
		{"trusted through the CA file", caFile, "", ""},
		{"system roots do not know the test CA", "", "", "certificate"},
		{"a file without certificates", notPEM, "holds no PEM certificate", ""},
		{"a missing file", filepath.Join(dir, "nope.pem"), "no such file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := taxiiclient.New(taxiiclient.Options{BaseURL: hs.URL, Auth: bearer, CAFile: tt.ca})
			if tt.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.newErr) {
					t.Fatalf("New: %v, want an error containing %q", err, tt.newErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Discover(t.Context())
			if tt.callErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.callErr != "" && (err == nil || !strings.Contains(err.Error(), tt.callErr)) {
				t.Fatalf("Discover: %v, want an error containing %q", err, tt.callErr)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		opt  taxiiclient.Options
		want string
	}{
		{"credentials over plain http", taxiiclient.Options{BaseURL: "http://taxii.example.org", Auth: bearer}, "plain http"},
		{"credentials in the URL", taxiiclient.Options{BaseURL: "https://u:p@taxii.example.org"}, "not in the URL"},
		{"another scheme", taxiiclient.Options{BaseURL: "ftp://taxii.example.org"}, "scheme"},
		{"no host", taxiiclient.Options{BaseURL: "https:///taxii2/"}, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := taxiiclient.New(tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
		})
	}
	// Plain http is allowed to loopback, and when asked for.
	for _, base := range []string{"http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"} {
		if _, err := taxiiclient.New(taxiiclient.Options{BaseURL: base, Auth: bearer}); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
	if _, err := taxiiclient.New(taxiiclient.Options{BaseURL: "http://taxii.example.org", Auth: bearer, AllowPlainHTTP: true}); err != nil {
		t.Error(err)
	}
}

func TestResolve(t *testing.T) {
	c := newClient(t, "https://taxii.example.org:8443/ignored/path", bearer)
	tests := []struct {
		root, want, err string
	}{
		{"/api1/", "https://taxii.example.org:8443/api1/", ""},
		{"/api1", "https://taxii.example.org:8443/api1/", ""},
		{"https://taxii.example.org:8443/trust/group/", "https://taxii.example.org:8443/trust/group/", ""},
		{"https://elsewhere.example.net/api1/", "", "not on"},
		{"http://taxii.example.org:8443/api1/", "", "not on"},
		{"//elsewhere.example.net/api1/", "", "single /"},
		{"../api1/", "", "single /"},
		{"/api1/?x=1", "", "query"},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			u, err := c.Resolve(tt.root)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Resolve: %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || u.String() != tt.want {
				t.Fatalf("Resolve = %v, %v; want %s", u, err, tt.want)
			}
		})
	}
}

func TestAddObjectsStatusDelete(t *testing.T) {
	fake, hs := newServer(t, taxiitest.Config{})
	fake.PendingPolls = 1
	c := newClient(t, hs.URL, taxiiclient.Auth{Username: "alice", Token: token})
	ctx := t.Context()
	objs := []jsontext.Value{
		jsontext.Value(indicator(1, "2026-01-02T00:00:00.000Z")),
		jsontext.Value(indicator(2, "2026-01-02T00:00:00.000Z")),
		jsontext.Value(`{"type":"indicator","id":"not-an-id"}`),
	}
	st, err := c.AddObjects(ctx, root, readable, objs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != taxiiclient.StatusPending || st.TotalCount != 3 || st.PendingCount != 3 {
		t.Errorf("first status %+v, want pending", st)
	}
	reqs := fake.Requests()
	post := reqs[len(reqs)-1]
	if post.Header.Get("Content-Type") != taxiiclient.MediaType || post.Header.Get("Accept") != taxiiclient.MediaType {
		t.Errorf("POST headers %v", post.Header)
	}
	if got := fake.Objects(readable); len(got) != 2 || !bytes.Equal(got[0], objs[0]) {
		t.Errorf("stored %q", got)
	}
	for range 2 {
		st, err = c.Status(ctx, root, st.ID)
		if err != nil {
			t.Fatal(err)
		}
	}
	if st.Status != taxiiclient.StatusComplete || st.SuccessCount != 2 || st.FailureCount != 1 ||
		len(st.Failures) != 1 || st.Failures[0].Message == "" || len(st.Successes) != 2 || st.Successes[0].Version != "2026-01-02T00:00:00.000Z" {
		t.Errorf("final status %+v", st)
	}
	// The same objects again: exact duplicates are successes.
	st, err = c.AddObjects(ctx, root, readable, objs[:2])
	if err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx, root, st.ID); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx, root, st.ID); err != nil || st.SuccessCount != 2 {
		t.Errorf("duplicates: %+v, %v", st, err)
	}
	if _, err := c.Status(ctx, root, "00000000-0000-4000-8000-000000000999"); !errors.Is(err, taxiiclient.ErrNotFound) {
		t.Errorf("unknown status: %v", err)
	}

	// A second version, then versions, manifest, object, delete.
	fake.Add(readable, indicator(1, "2026-02-01T00:00:00.000Z"))
	id := "indicator--00000000-0000-4000-8000-000000000001"
	vs, err := c.Versions(ctx, root, readable, id, taxiiclient.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 || vs.Versions[1] != "2026-02-01T00:00:00.000Z" || vs.DateAddedLast.IsZero() {
		t.Errorf("versions %+v", vs)
	}
	m, err := c.Manifest(ctx, root, readable, taxiiclient.Query{Versions: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != 3 || m.Objects[2].ID != id || m.Objects[2].Version != "2026-02-01T00:00:00.000Z" || m.Objects[0].DateAdded == "" {
		t.Errorf("manifest %+v", m)
	}
	p, err := c.Object(ctx, root, readable, id, taxiiclient.Query{Versions: []string{"first"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Objects) != 1 || !bytes.Equal(p.Objects[0], objs[0]) {
		t.Errorf("first version %q", p.Objects)
	}
	if err := c.DeleteObject(ctx, root, readable, id, taxiiclient.Query{Versions: []string{"2026-01-02T00:00:00.000Z"}}); err != nil {
		t.Fatal(err)
	}
	vs, err = c.Versions(ctx, root, readable, id, taxiiclient.Query{})
	if err != nil || len(vs.Versions) != 1 || vs.Versions[0] != "2026-02-01T00:00:00.000Z" {
		t.Errorf("after delete: %+v, %v", vs, err)
	}
	if err := c.DeleteObject(ctx, root, readable, id, taxiiclient.Query{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Versions(ctx, root, readable, id, taxiiclient.Query{}); !errors.Is(err, taxiiclient.ErrNotFound) {
		t.Errorf("after deleting all: %v", err)
	}
	last := fake.Requests()[len(fake.Requests())-2]
	if last.Method != http.MethodDelete {
		t.Errorf("request %s %s, want DELETE", last.Method, last.Path)
	}
}

func TestCursorJSON(t *testing.T) {
	tests := []struct {
		c    taxiiclient.Cursor
		want string
	}{
		{taxiiclient.Cursor{}, `{}`},
		{taxiiclient.Cursor{AddedAfter: time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600))}, `{"added_after":"2026-03-04T04:06:07.123456Z"}`},
		{taxiiclient.Cursor{AddedAfter: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Next: "abc"}, `{"added_after":"2026-03-04T05:06:07.000000Z","next":"abc"}`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := json.Marshal(tt.c)
			if err != nil || string(b) != tt.want {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tt.want)
			}
			var back taxiiclient.Cursor
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.AddedAfter.Equal(tt.c.AddedAfter.Truncate(time.Microsecond)) || back.Next != tt.c.Next {
				t.Errorf("round trip: %+v, want %+v", back, tt.c)
			}
		})
	}
	for _, bad := range []string{`{"added_after":"2026-03-04T05:06:07+01:00"}`, `{"added_after":"yesterday"}`, `{"extra":1}`} {
		var c taxiiclient.Cursor
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestMalformedEnvelopes(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not an object", `[1]`, "the envelope is array"},
		{"objects not an array", `{"objects":{}}`, "the envelope's objects is object"},
		{"an object that is a string", `{"objects":[{"type":"x"},"indicator"]}`, "objects[1] (byte 25) is a string"},
		{"more not a boolean", `{"more":"yes"}`, "more is a string"},
		{"next not a string", `{"more":true,"next":5}`, "next is a number"},
		{"truncated", `{"objects":[{"type":"x"}`, "ends early"},
		{"data after", `{} {}`, "data after the envelope"},
		{"objects twice", `{"objects":[{}],"objects":[{}]}`, `"objects" twice`},
		{"invalid JSON", `{"objects":[{"a":tru}]}`, "decoding the envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", taxiiclient.MediaType)
				fmt.Fprint(w, tt.body)
			}))
			defer hs.Close()
			_, err := newClient(t, hs.URL, bearer).Objects(t.Context(), root, readable, taxiiclient.Query{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPagingLoops: a server that never moves forward is caught rather than followed forever.
func TestPagingLoops(t *testing.T) {
	tests := []struct {
		name, body, last, want string
		addedAfter             bool
	}{
		{"the same next twice", `{"more":true,"next":"x","objects":[{}]}`, "2026-01-01T00:00:00.000001Z", "same next value", false},
		{"date added does not advance", `{"more":true,"objects":[{}]}`, "2026-01-01T00:00:00.000001Z", "is not after", true},
		{"no date added header", `{"more":true,"objects":[{}]}`, "", "no X-TAXII-Date-Added-Last", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", taxiiclient.MediaType)
				if tt.last != "" {
					w.Header().Set("X-TAXII-Date-Added-Last", tt.last)
				}
				fmt.Fprint(w, tt.body)
			}))
			defer hs.Close()
			c := newClient(t, hs.URL, bearer)
			seq := c.ObjectsNext(t.Context(), root, readable, taxiiclient.Query{})
			if tt.addedAfter {
				seq = c.ObjectsAddedAfter(t.Context(), root, readable, taxiiclient.Query{})
			}
			var last error
			pages := 0
			for _, err := range seq {
				pages++
				last = err
				if pages > 10 {
					t.Fatal("still paging after 10 pages")
				}
			}
			if last == nil || !strings.Contains(last.Error(), tt.want) {
				t.Fatalf("last error %v, want one containing %q", last, tt.want)
			}
		})
	}
}
