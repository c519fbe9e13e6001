package cli

import (
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
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
	taxiiToken = "renkei_t0p-s3cret-for-taxii-tests"
	remoteColl = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
	inboxColl  = "52892447-4d7e-4f70-b94d-d7f22742ff63"
)

func taxiiIndicator(i int, modified string) string {
	return fmt.Sprintf(`{"type":"indicator", "spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":%q,"name":"n\u00e9 %d","pattern":"[ipv4-addr:value = '10.0.0.%d']",`+
		`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, modified, i, i%250)
}

func fakeTAXII(t *testing.T, cfg taxiitest.Config) (*taxiitest.Server, *httptest.Server) {
	t.Helper()
	cfg.Users = map[string]string{"alice": taxiiToken}
	cfg.Bearer = []string{taxiiToken}
	fake := taxiitest.New(cfg)
	fake.AddCollection(taxiitest.CollectionInfo{ID: remoteColl, Title: "Energy sector", CanRead: true})
	fake.AddCollection(taxiitest.CollectionInfo{ID: inboxColl, Title: "Inbox", CanWrite: true})
	hs := httptest.NewServer(fake.Handler())
	t.Cleanup(hs.Close)
	return fake, hs
}

// runEnv runs the CLI in process with extra environment variables, and fails the test if the token
// (or its Basic encoding) shows in the output.
func runEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	e := &env{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, now: time.Now,
		getenv: func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
		logger: slog.New(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	code := e.exit(dispatch(t.Context(), e, args))
	out, errOut := stdout.String(), stderr.String()
	for _, secret := range []string{taxiiToken, "dDBwLXMzY3JldC", "t0p-s3cret"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("renkei %v printed the token:\n%s%s", args, out, errOut)
		}
	}
	return code, out, errOut
}

// runTaxiiT runs the CLI with the token in $RENKEI_TAXII_TOKEN.
func runTaxiiT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runEnv(t, map[string]string{envTAXIIToken: taxiiToken}, args...)
}

func mustTaxii(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runTaxiiT(t, args...)
	if code != 0 {
		t.Fatalf("renkei %v exited %d:\n%s%s", args, code, out, errOut)
	}
	return out, errOut
}

func TestTaxiiDiscoverAndCollections(t *testing.T) {
	_, hs := fakeTAXII(t, taxiitest.Config{MaxContentLength: 4242})
	out, _ := mustTaxii(t, "taxii", "discover", hs.URL)
	var d struct {
		Discovery struct {
			Title    string   `json:"title"`
			APIRoots []string `json:"api_roots"`
		} `json:"discovery"`
		APIRoots []struct {
			URL              string `json:"url"`
			Title            string `json:"title"`
			MaxContentLength int64  `json:"max_content_length"`
		} `json:"api_roots"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("discover output is not JSON: %v\n%s", err, out)
	}
	if d.Discovery.Title != "taxiitest" || len(d.APIRoots) != 1 || d.APIRoots[0].URL != hs.URL+"/api1/" || d.APIRoots[0].MaxContentLength != 4242 {
		t.Errorf("discover: %+v", d)
	}
	out, _ = mustTaxii(t, "taxii", "discover", hs.URL+"/taxii2/", "-o", "table")
	for _, want := range []string{"title:", "taxiitest", hs.URL + "/api1/", "4242"} {
		if !strings.Contains(out, want) {
			t.Errorf("discover -o table lacks %q:\n%s", want, out)
		}
	}

	// collections, by the server's default root and by the root's URL, with Bearer and Basic.
	for _, args := range [][]string{
		{"taxii", "collections", hs.URL},
		{"taxii", "collections", hs.URL + "/api1/", "--user", "alice"},
	} {
		out, _ = mustTaxii(t, args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID READ WRITE TITLE" ||
			strings.Join(strings.Fields(lines[1]), " ") != remoteColl+" yes no Energy sector" ||
			strings.Join(strings.Fields(lines[2]), " ") != inboxColl+" no yes Inbox" {
			t.Errorf("%v:\n%s", args, out)
		}
	}
	out, _ = mustTaxii(t, "taxii", "collections", hs.URL, "-o", "json")
	if !strings.Contains(out, `"can_write": true`) || !strings.Contains(out, `"id": "`+remoteColl+`"`) {
		t.Errorf("collections -o json:\n%s", out)
	}
}

func TestTaxiiGet(t *testing.T) {
	fake, hs := fakeTAXII(t, taxiitest.Config{PageSize: 2})
	for i := range 5 {
		fake.Add(remoteColl, taxiiIndicator(i, "2026-01-02T00:00:00.000Z"))
	}
	fake.Add(remoteColl, taxiiIndicator(1, "2026-01-03T00:00:00.000Z"))
	stored := fake.Objects(remoteColl)
	tests := []struct {
		name  string
		args  []string
		want  []int // indexes into stored
		pages string
	}{
		{"all latest versions", nil, []int{0, 2, 3, 4, 5}, "3 pages"},
		{"all versions", []string{"--version", "all"}, []int{0, 1, 2, 3, 4, 5}, "3 pages"},
		{"one id, every version", []string{"--id", "indicator--00000000-0000-4000-8000-000000000001", "--version", "all"}, []int{1, 5}, "1 pages"},
		{"limit", []string{"--limit", "3"}, []int{0, 2, 3}, "2 pages"},
		{"added after", []string{"--added-after", "2026-01-01T00:00:00.000002Z"}, []int{3, 4, 5}, "2 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"taxii", "get", hs.URL + "/api1/", "--collection", remoteColl}, tt.args...)
			out, errOut := mustTaxii(t, args...)
			var want strings.Builder
			for i, k := range tt.want {
				if i > 0 {
					want.WriteString(",\n")
				}
				want.Write(stored[k])
			}
			if !strings.HasPrefix(out, `{"type":"bundle","id":"bundle--`) || !strings.HasSuffix(out, ",\"objects\":[\n"+want.String()+"\n]}\n") {
				t.Errorf("output:\n%s\nwant the objects:\n%s", out, want.String())
			}
			if !strings.Contains(errOut, fmt.Sprintf("got %d objects, %s", len(tt.want), tt.pages)) {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}

	code, _, errOut := runTaxiiT(t, "taxii", "get", hs.URL, "--collection", inboxColl)
	if code != 1 || !strings.Contains(errOut, "403 Forbidden") || !strings.Contains(errOut, "hint: the server knows the credentials") {
		t.Errorf("reading a write-only collection: exit %d\n%s", code, errOut)
	}
}

func TestTaxiiPull(t *testing.T) {
	fake, hs := fakeTAXII(t, taxiitest.Config{PageSize: 3})
	for i := range 7 {
		fake.Add(remoteColl, taxiiIndicator(i, "2026-01-02T00:00:00.000Z"))
	}
	fake.Add(remoteColl, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000099","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z"}`)
	dir := t.TempDir()
	node := filepath.Join(dir, "node")
	mustRun(t, "init", "--data", node, "--org", "Pull CERT")
	mustRun(t, "collection", "add", "--data", node, "partner")
	cursor := filepath.Join(dir, "cursor.json")

	code, out, errOut := runTaxiiT(t, "taxii", "pull", hs.URL, "--collection", remoteColl, "--data", node, "--into", "partner", "--cursor-file", cursor)
	if code != 1 {
		t.Fatalf("pull with a bad object: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if out != "accepted 7, duplicate 0, rejected 1\n" {
		t.Errorf("stdout %q", out)
	}
	for _, want := range []string{"pulled 8 objects, 3 pages", "rejected: page 3, ", "indicator--00000000-0000-4000-8000-000000000099", "hint: the lines starting with 'rejected:'"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The objects are stored byte for byte.
	got := mustRun(t, "get", "--data", node, "indicator--00000000-0000-4000-8000-000000000004")
	if got != string(fake.Objects(remoteColl)[4])+"\n" {
		t.Errorf("stored object:\n%s\nwant\n%s", got, fake.Objects(remoteColl)[4])
	}
	var cf cursorFile
	data, err := os.ReadFile(cursor)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cf); err != nil {
		t.Fatalf("cursor file: %v\n%s", err, data)
	}
	if cf.Collection != remoteColl || cf.APIRoot != hs.URL+"/api1/" || cf.Cursor.Next != "" ||
		!cf.Cursor.AddedAfter.Equal(taxiitest.Epoch.Add(7*time.Microsecond)) {
		t.Errorf("cursor file:\n%s", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// New objects and a new version arrive; the next pull asks only for what came after the cursor.
	fake.Add(remoteColl, taxiiIndicator(7, "2026-01-02T00:00:00.000Z"), taxiiIndicator(2, "2026-02-01T00:00:00.000Z"))
	before := len(fake.Requests())
	out, errOut = mustTaxii(t, "taxii", "pull", hs.URL+"/api1/", "--collection", remoteColl, "--data", node, "--cursor-file", cursor)
	if out != "accepted 2, duplicate 0, rejected 0\n" || !strings.Contains(errOut, "pulled 2 objects, 1 pages") {
		t.Errorf("second pull:\n%s%s", out, errOut)
	}
	reqs := fake.Requests()[before:]
	objReqs := 0
	for _, r := range reqs {
		if strings.HasSuffix(r.Path, "/objects/") {
			objReqs++
			if aa := r.Query["added_after"]; len(aa) != 1 || aa[0] != "2026-01-01T00:00:00.000007Z" || r.Query["match[version]"][0] != "all" {
				t.Errorf("resumed request query %v", r.Query)
			}
		}
	}
	if objReqs != 1 {
		t.Errorf("%d object requests, want 1", objReqs)
	}
	got = mustRun(t, "get", "--data", node, "--versions", "indicator--00000000-0000-4000-8000-000000000002")
	if strings.Count(got, `"id":"indicator--00000000-0000-4000-8000-000000000002"`) != 2 {
		t.Errorf("versions after the second pull:\n%s", got)
	}

	// A cursor file for another collection is refused.
	code, _, errOut = runTaxiiT(t, "taxii", "pull", hs.URL, "--collection", inboxColl, "--data", node, "--cursor-file", cursor)
	if code != 1 || !strings.Contains(errOut, "cursor file") || !strings.Contains(errOut, "is for collection "+remoteColl) {
		t.Errorf("cursor of another collection: exit %d\n%s", code, errOut)
	}
}

// TestTaxiiPullResumesFromNext: a pull stopped part-way (here: by a failing store) resumes with the
// saved next value and the query it belongs to.
func TestTaxiiPullCursorNext(t *testing.T) {
	fake, hs := fakeTAXII(t, taxiitest.Config{PageSize: 2})
	for i := range 5 {
		fake.Add(remoteColl, taxiiIndicator(i, "2026-01-02T00:00:00.000Z"))
	}
	dir := t.TempDir()
	node := filepath.Join(dir, "node")
	mustRun(t, "init", "--data", node, "--org", "Pull CERT")
	cursor := filepath.Join(dir, "cursor.json")
	// A cursor saved after the first page of a pull that began at the start.
	state := cursorFile{APIRoot: hs.URL + "/api1/", Collection: remoteColl,
		Start:  &taxiiclient.Cursor{},
		Cursor: taxiiclient.Cursor{AddedAfter: taxiitest.Epoch.Add(time.Microsecond), Next: fmt.Sprintf("after-%d", taxiitest.Epoch.Add(time.Microsecond).UnixMicro())}}
	if err := writeCursorFile(cursor, state); err != nil {
		t.Fatal(err)
	}
	out, errOut := mustTaxii(t, "taxii", "pull", hs.URL, "--collection", remoteColl, "--data", node, "--cursor-file", cursor)
	if out != "accepted 3, duplicate 0, rejected 0\n" || !strings.Contains(errOut, "pulled 3 objects, 2 pages") {
		t.Errorf("resumed pull:\n%s%s", out, errOut)
	}
	first := fake.Requests()[1] // discovery, then objects
	if first.Query["next"][0] != state.Cursor.Next {
		t.Errorf("first request %s %v, want the saved next", first.Path, first.Query)
	}

	// A next value the server refuses: the pull goes on from added_after.
	state.Cursor.Next = "expired"
	if err := writeCursorFile(cursor, state); err != nil {
		t.Fatal(err)
	}
	out, errOut = mustTaxii(t, "taxii", "pull", hs.URL, "--collection", remoteColl, "--data", node, "--cursor-file", cursor)
	if out != "accepted 0, duplicate 3, rejected 0\n" || !strings.Contains(errOut, "resuming from added_after") {
		t.Errorf("pull after a refused next:\n%s%s", out, errOut)
	}
}

func TestTaxiiPush(t *testing.T) {
	fake, hs := fakeTAXII(t, taxiitest.Config{MaxContentLength: 900})
	fake.PendingPolls = 2
	dir := t.TempDir()
	var objs []string
	for i := range 4 {
		objs = append(objs, taxiiIndicator(i, "2026-01-02T00:00:00.000Z"))
	}
	bad := `{"type":"indicator","id":"oops"}`
	huge := fmt.Sprintf(`{"type":"note","id":"note--00000000-0000-4000-8000-000000000001","content":%q}`, strings.Repeat("x", 1000))
	bundle := filepath.Join(dir, "bundle.json")
	writeFile(t, bundle, `{"id":"bundle--00000000-0000-4000-8000-000000000001","objects":[`+objs[0]+",\n"+objs[1]+","+bad+","+huge+`],"type":"bundle"}`)
	array := filepath.Join(dir, "array.json")
	writeFile(t, array, "["+objs[2]+"]")
	single := filepath.Join(dir, "single.json")
	writeFile(t, single, objs[3])

	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, taxiiToken+"\n")
	code, out, errOut := runEnv(t, nil, "taxii", "push", hs.URL, "--collection", inboxColl, "--token-file", tokenFile, "--user", "alice",
		"--poll-interval", "1ms", bundle, array, single)
	if code != 1 {
		t.Fatalf("push: exit %d, want 1 (one object failed)\n%s%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "success 4, failure 2, pending 0 (") {
		t.Errorf("stdout %q", out)
	}
	for _, want := range []string{"failed: oops: ", fmt.Sprintf("failed: note--00000000-0000-4000-8000-000000000001: not sent: the object is %d bytes", len(huge))} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	got := fake.Objects(inboxColl)
	if len(got) != 4 {
		t.Fatalf("the server holds %d objects, want 4", len(got))
	}
	for i, o := range objs {
		if string(got[i]) != o {
			t.Errorf("object %d arrived as\n%s\nwant\n%s", i, got[i], o)
		}
	}
	polls, posts := 0, 0
	for _, r := range fake.Requests() {
		if r.Method == "POST" {
			posts++
			if r.BodyBytes > 900 {
				t.Errorf("a POST of %d bytes, above max_content_length", r.BodyBytes)
			}
		}
		if strings.Contains(r.Path, "/status/") {
			polls++
		}
		if r.Header.Get("Authorization") == "" {
			t.Errorf("%s %s without credentials", r.Method, r.Path)
		}
	}
	// Each POST answers pending; two polls more answer pending, the third complete.
	if polls != 3*posts || !strings.Contains(out, fmt.Sprintf("(%d requests)", posts)) {
		t.Errorf("%d status polls for %d POSTs (%s), want 3 a POST", polls, posts, out)
	}

	// Pushing again: exact duplicates are successes.
	fake.PendingPolls = 0
	out, _ = mustTaxii(t, "taxii", "push", hs.URL+"/api1/", "--collection", inboxColl, array, single)
	if out != "success 2, failure 0, pending 0 (2 requests)\n" {
		t.Errorf("second push: %q", out)
	}

	// Status never completing: pending, exit 1.
	fake.PendingPolls = 1000
	code, out, errOut = runTaxiiT(t, "taxii", "push", hs.URL, "--collection", inboxColl, "--poll-interval", "1ms", "--status-timeout", "20ms", single)
	if code != 1 || out != "success 0, failure 0, pending 1 (1 requests)\n" || !strings.Contains(errOut, "still pending") {
		t.Errorf("pending push: exit %d\n%s%s", code, out, errOut)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTaxiiErrorsHideToken: failures of every kind print a clear error and never the token.
func TestTaxiiErrorsHideToken(t *testing.T) {
	_, hs := fakeTAXII(t, taxiitest.Config{})
	tls := httptest.NewUnstartedServer(taxiitest.New(taxiitest.Config{Bearer: []string{taxiiToken}}).Handler())
	tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tls.StartTLS()
	defer tls.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw})))
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want []string
	}{
		{"wrong token", map[string]string{envTAXIIToken: "wrong-" + taxiiToken}, []string{"taxii", "collections", hs.URL},
			1, []string{"401 Unauthorized", "hint: the server refused the credentials"}},
		{"token on the command line, wrong user", nil, []string{"taxii", "collections", hs.URL, "--user", "bob", "--token", taxiiToken},
			1, []string{"401 Unauthorized"}},
		{"unknown collection", map[string]string{envTAXIIToken: taxiiToken}, []string{"taxii", "get", hs.URL, "--collection", "nope"},
			1, []string{"404 Not Found", "no such collection"}},
		{"unknown certificate authority", map[string]string{envTAXIIToken: taxiiToken}, []string{"taxii", "discover", tls.URL},
			1, []string{"certificate", "hint: give the server's CA certificate with --ca FILE"}},
		{"trusted with --ca", map[string]string{envTAXIIToken: taxiiToken}, []string{"taxii", "discover", tls.URL, "--ca", ca, "-o", "table"},
			0, []string{"taxiitest"}},
		{"plain http elsewhere", map[string]string{envTAXIIToken: taxiiToken}, []string{"taxii", "discover", "http://taxii.example.org"},
			1, []string{"refusing to send credentials over plain http", "hint: use https://"}},
		{"both token flags", nil, []string{"taxii", "discover", hs.URL, "--token", taxiiToken, "--token-file", "x"},
			2, []string{"not both"}},
		{"credentials in the URL", nil, []string{"taxii", "discover", strings.Replace(hs.URL, "http://", "http://alice:"+taxiiToken+"@", 1)},
			2, []string{"the URL holds credentials"}},
		{"no node", map[string]string{envTAXIIToken: taxiiToken}, []string{"taxii", "pull", "http://127.0.0.1:1/api1/", "--collection", remoteColl, "--data", t.TempDir()},
			1, []string{"no renkei node"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runEnv(t, tt.vars, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

func TestReadSTIXFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          []string
		err           string
	}{
		{"bundle, type last", `{"objects":[{"id":"a"}, {"id":"b"}],"id":"bundle--x","type":"bundle"}`, []string{`{"id":"a"}`, `{"id":"b"}`}, ""},
		{"array", ` [{"id":"a"} ,{"id":"b","x":[1]}] `, []string{`{"id":"a"}`, `{"id":"b","x":[1]}`}, ""},
		{"single object", `{"type":"note", "id":"n"}`, []string{`{"type":"note", "id":"n"}`}, ""},
		{"2.0 observed-data with an objects dictionary", `{"type":"observed-data","objects":{"0":{}}}`, []string{`{"type":"observed-data","objects":{"0":{}}}`}, ""},
		{"an array of strings", `["a"]`, nil, "element 0 (byte 1) is not a JSON object"},
		{"bundle objects not an array", `{"type":"bundle","objects":{}}`, nil, "not an array"},
		{"data after", `{"type":"note"} {}`, nil, "data after"},
		{"not JSON", `hello`, nil, "invalid"},
		{"empty", ``, nil, "not a STIX bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(dir, "f.json")
			writeFile(t, name, tt.content)
			var got []string
			err := readSTIXFile(name, 1<<20, func(v jsontext.Value) error {
				got = append(got, string(v))
				return nil
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
