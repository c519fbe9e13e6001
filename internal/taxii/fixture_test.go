package taxii_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
	"github.com/renkei-cti/renkei/internal/taxii"
)

// The fixture's organisations: A and B are hosted on the node, R on a partner's node.
const (
	orgA = "identity--a0000000-0000-4000-8000-00000000000a"
	orgB = "identity--b0000000-0000-4000-8000-00000000000b"
	orgR = "identity--c0000000-0000-4000-8000-00000000000c"
)

// Objects of the fixture.
const (
	ind1  = "indicator--10000000-0000-4000-8000-000000000001"      // A, TLP:GREEN, community; three versions
	ind2  = "indicator--10000000-0000-4000-8000-000000000002"      // A, unmarked: A only
	ind3  = "indicator--10000000-0000-4000-8000-000000000003"      // B, TLP:CLEAR: everyone
	mal20 = "malware--10000000-0000-4000-8000-000000000004"        // A, STIX 2.0, TLP 1.0 GREEN: federation
	ap    = "attack-pattern--10000000-0000-4000-8000-000000000005" // A, TLP:CLEAR, as 2.0 and 2.1 forms
	sco   = "ipv4-addr--10000000-0000-4000-8000-000000000006"      // no creator, TLP:CLEAR
)

// fixture is a node with the server's whole stack: authentication, policy, TAXII.
type fixture struct {
	t       *testing.T
	st      *sqlite.Store
	srv     *httptest.Server
	handler http.Handler
	tokens  map[string]string // user name → token
	users   map[string]store.User
	shared  store.Collection
	logs    *bytes.Buffer
	pii     *pii.Policy // the node's personal-data guard (nil: the server's default)
}

func ts(day int) string {
	return time.Date(2024, 1, day, 0, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000Z")
}

func indicatorJSON(id, owner, modified string, markings ...string) string {
	s := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created_by_ref":%q,"created":%q,"modified":%q,`+
		`"name":"i","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`,
		id, owner, ts(1), modified)
	if len(markings) > 0 {
		s += `,"object_marking_refs":["` + strings.Join(markings, `","`) + `"]`
	}
	return s + "}"
}

// newNode makes an empty node owned by orgA, holding the predefined marking definitions. Its store
// has the read cache on, as under renkei serve (the store's own tests compare it with the queries).
func newNode(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(policy.Labeler{}),
		sqlite.WithReadCache(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, tokens: map[string]string{}, users: map[string]store.User{}, logs: &bytes.Buffer{}}
	if err := st.InitNode(t.Context(), store.NodeInfo{ID: "node-1", OwnerOrg: orgA}); err != nil {
		t.Fatal(err)
	}
	var defs []string
	for _, m := range stix.BuiltinMarkings() {
		defs = append(defs, string(m.JSON))
	}
	for _, d := range policy.Definitions() {
		defs = append(defs, string(d.JSON))
	}
	f.importRaw("", "["+strings.Join(defs, ",")+"]")
	return f
}

func (f *fixture) addOrg(o store.Organisation) {
	f.t.Helper()
	if err := f.st.CreateOrganisation(f.t.Context(), o); err != nil {
		f.t.Fatal(err)
	}
}

// addCollection adds a collection with grants.
func (f *fixture) addCollection(alias string, grants ...store.Grant) store.Collection {
	f.t.Helper()
	col := store.Collection{ID: "c0000000-0000-4000-8000-" + fmt.Sprintf("%012x", len(alias)), Alias: alias, Title: "collection " + alias}
	if err := f.st.CreateCollection(f.t.Context(), col); err != nil {
		f.t.Fatal(err)
	}
	for _, g := range grants {
		g.Collection = col.ID
		if err := f.st.SetGrant(f.t.Context(), g); err != nil {
			f.t.Fatal(err)
		}
	}
	return col
}

// newAccounts makes a node with the fixture's organisations (A and B hosted, R remote), users
// (alice and anna in A, bob in B, peer for R) and collections, and no objects yet.
func newAccounts(t *testing.T) *fixture {
	t.Helper()
	f := newNode(t)
	for _, o := range []store.Organisation{{ID: orgA, Name: "A"}, {ID: orgB, Name: "B"}, {ID: orgR, Name: "R", Remote: true}} {
		f.addOrg(o)
	}
	for _, u := range []store.User{
		{ID: "u-alice", Name: "alice", OrgID: orgA, Role: store.RoleAnalyst},
		{ID: "u-anna", Name: "anna", OrgID: orgA, Role: store.RoleReader},
		{ID: "u-bob", Name: "bob", OrgID: orgB, Role: store.RoleAnalyst},
		{ID: "u-peer", Name: "peer", OrgID: orgR, Role: store.RolePeer},
	} {
		f.addUser(u)
	}
	f.shared = f.addCollection("shared", store.Grant{Kind: store.GrantOrg, Subject: orgA, Read: true, Write: true},
		store.Grant{Kind: store.GrantOrg, Subject: orgB, Read: true}, store.Grant{Kind: store.GrantOrg, Subject: orgR, Read: true})
	f.addCollection("inbox-b", store.Grant{Kind: store.GrantOrg, Subject: orgB, Read: true, Write: true})
	f.addCollection("readonly", store.Grant{Kind: store.GrantOrg, Subject: orgA, Read: true})
	f.addCollection("writeonly", store.Grant{Kind: store.GrantOrg, Subject: orgA, Write: true})
	return f
}

// start serves the node with the server's whole stack.
func (f *fixture) start(edit func(*config.TAXII)) {
	f.t.Helper()
	cfg := config.Default()
	if edit != nil {
		edit(&cfg.TAXII)
	}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(server.Options{Store: f.st, Logger: logger, Limits: cfg.Limits, TAXII: cfg.TAXII, Version: "test", PII: f.pii})
	if err != nil {
		f.t.Fatal(err)
	}
	f.handler = srv.Handler()
	f.srv = httptest.NewServer(f.handler)
	f.t.Cleanup(f.srv.Close)
}

func newFixture(t *testing.T, edit func(*config.TAXII)) *fixture {
	t.Helper()
	f := newAccounts(t)
	// The objects, one write per version so that date_added orders them as listed.
	community := policy.DistributionMarkingID(policy.DistCommunity)
	for _, raw := range []string{
		indicatorJSON(ind1, orgA, ts(1), stix.TLP2Green, community),
		indicatorJSON(ind2, orgA, ts(1)),
		indicatorJSON(ind1, orgA, ts(2), stix.TLP2Green, community),
		indicatorJSON(ind3, orgB, ts(1), stix.TLP2Clear),
		`{"type":"malware","id":"` + mal20 + `","created_by_ref":"` + orgA + `","created":"` + ts(1) + `","modified":"` + ts(1) +
			`","name":"old","labels":["trojan"],"object_marking_refs":["` + stix.TLP1Green + `"]}`,
		`{"type":"attack-pattern","id":"` + ap + `","created_by_ref":"` + orgA + `","created":"` + ts(1) + `","modified":"` + ts(1) +
			`","name":"ap (2.0)","object_marking_refs":["` + stix.TLP1White + `"]}`,
		`{"type":"attack-pattern","spec_version":"2.1","id":"` + ap + `","created_by_ref":"` + orgA + `","created":"` + ts(1) + `","modified":"` + ts(1) +
			`","name":"ap (2.1)","object_marking_refs":["` + stix.TLP2Clear + `"]}`,
		`{"type":"ipv4-addr","spec_version":"2.1","id":"` + sco + `","value":"198.51.100.9","object_marking_refs":["` + stix.TLP2Clear + `"]}`,
		indicatorJSON(ind1, orgA, ts(3), stix.TLP2Green, community),
	} {
		f.importRaw(f.shared.ID, raw)
	}
	f.start(edit)
	return f
}

func (f *fixture) addUser(u store.User) {
	f.t.Helper()
	if err := f.st.CreateUser(f.t.Context(), u); err != nil {
		f.t.Fatal(err)
	}
	secret, hash, err := server.NewToken()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.CreateToken(f.t.Context(), store.Token{ID: "tok-" + u.Name, UserID: u.ID, Hash: hash}); err != nil {
		f.t.Fatal(err)
	}
	f.tokens[u.Name] = string(secret)
	f.users[u.Name] = u
}

func (f *fixture) importRaw(coll, raw string) {
	f.t.Helper()
	rep, err := ingest.New(f.st, nil).Import(f.t.Context(), strings.NewReader(raw), ingest.Options{Collection: coll, Strict: true})
	if err != nil || rep.Rejected > 0 {
		f.t.Fatalf("fixture import: %v %+v", err, rep.Errors)
	}
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request as a user ("" for none) with the TAXII Accept header unless hdr sets one.
func (f *fixture) do(method, path, user string, body string, hdr ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Accept", taxii.MediaTAXII)
	if body != "" {
		req.Header.Set("Content-Type", taxii.MediaTAXII)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	if user != "" {
		req.SetBasicAuth(user, f.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get is do(GET) that expects a status and the TAXII content type.
func (f *fixture) get(path, user string, want int) response {
	f.t.Helper()
	r := f.do("GET", path, user, "")
	if r.status != want {
		f.t.Fatalf("GET %s as %q: %d, want %d\n%s", path, user, r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != taxii.MediaTAXII {
		f.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return r
}

const root = "/taxii2/api/"

func (f *fixture) objects(coll string) string { return root + "collections/" + coll + "/objects/" }

// ids lists the ids of an envelope's objects, with their version, in order.
func ids(t *testing.T, r response) []string {
	t.Helper()
	var env struct {
		Objects []struct {
			ID       string `json:"id"`
			Modified string `json:"modified"`
			Spec     string `json:"spec_version"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	var out []string
	for _, o := range env.Objects {
		s := o.ID
		if o.Modified != "" {
			s += "@" + o.Modified[8:10]
		}
		if o.Spec == "" {
			s += "/2.0"
		}
		out = append(out, s)
	}
	return out
}

func encodeBase64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
