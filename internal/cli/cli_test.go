package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"renkei": func() {
			os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the CLI sessions in testdata/*.txtar. Besides the standard commands, a script may
// use "exitcode N cmd args...", which runs cmd and fails unless it exits with status N.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// A binary built with -race sleeps a second when it exits, to let other goroutines
			// report; every renkei command in a script would pay it.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// capture VAR REGEXP sets $VAR to the first submatch of REGEXP in the last command's stdout.
			"capture": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: capture VAR REGEXP")
				}
				re, err := regexp.Compile(args[1])
				if err != nil {
					ts.Fatalf("capture: %v", err)
				}
				m := re.FindStringSubmatch(ts.ReadFile("stdout"))
				if len(m) < 2 {
					ts.Fatalf("capture: no match for %q in stdout", args[1])
				}
				ts.Setenv(args[0], m[1])
			},
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exitcode: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
				}
			},
		},
	})
}

// run calls Main in process and returns its exit code, stdout and stderr.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr strings.Builder
	code := Main(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// mustRun runs the CLI in-process, fails the test unless it exits 0, and returns stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := run(t, t.Context(), args...)
	if code != 0 {
		t.Fatalf("renkei %v exited %d:\n%s%s", args, code, stdout, stderr)
	}
	return stdout
}

var tokenRE = regexp.MustCompile(`(?m)^API token: +(renkei_\S+)$`)

func TestInitStoresWhatItPrints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	code, out, errOut := run(t, t.Context(), "init", "--data", dir, "--org", "Token CERT")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	m := tokenRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token in the output:\n%s", out)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	node, err := st.NodeInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The token is stored hashed, and it belongs to an admin of the owner organisation.
	tok, err := st.TokenByHash(t.Context(), server.HashToken(m[1]))
	if err != nil {
		t.Fatalf("the printed token is not stored: %v", err)
	}
	user, err := st.User(t.Context(), tok.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if user.Role != store.RoleAdmin || user.OrgID != node.OwnerOrg || user.Name != "admin" {
		t.Errorf("token user %+v, want the admin of %s", user, node.OwnerOrg)
	}
	org, err := st.Organisation(t.Context(), node.OwnerOrg)
	if err != nil || org.Name != "Token CERT" {
		t.Errorf("owner organisation %+v, %v", org, err)
	}
	// Its identity is a valid STIX object, created by itself.
	vs, err := st.Versions(t.Context(), node.OwnerOrg)
	if err != nil || len(vs) != 1 {
		t.Fatalf("identity versions %v, %v", vs, err)
	}
	obj, err := stix.Decode(vs[0].Raw)
	if err != nil {
		t.Fatalf("stored identity does not decode: %v", err)
	}
	if obj.Type != "identity" || obj.CreatedByRef != obj.ID || !strings.Contains(string(obj.Raw), `"identity_class":"organization"`) {
		t.Errorf("identity %s", obj.Raw)
	}
	if strings.Contains(errOut, m[1]) {
		t.Error("the token was written to stderr")
	}
}

// readLines sends the lines read from r on the returned channel, and closes it at the end of r.
func readLines(r io.Reader) <-chan string {
	c := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
		close(c)
	}()
	return c
}

// serveNode runs "renkei serve args..." in process until the returned stop is called. It returns the
// URL the server printed, the bannerLines lines printed after it, and stop, which cancels the context
// and returns the exit code and stderr.
func serveNode(t *testing.T, bannerLines int, args ...string) (url string, banner []string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr syncBuilder
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, append([]string{"serve"}, args...), strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := readLines(pr)
	var once sync.Once
	var code int
	stop = func() (int, string) {
		once.Do(func() {
			cancel()
			code = <-done
			for range lines {
			}
		})
		return code, stderr.String()
	}
	t.Cleanup(func() { stop() })
	first, ok := <-lines
	if !ok {
		code, errOut := stop()
		t.Fatalf("serve printed nothing; exit %d\n%s", code, errOut)
	}
	const prefix = "renkei listening on "
	if !strings.HasPrefix(first, prefix) {
		t.Fatalf("first line %q", first)
	}
	for range bannerLines {
		l, ok := <-lines
		if !ok {
			break
		}
		banner = append(banner, l)
	}
	return strings.TrimPrefix(first, prefix), banner, stop
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServeAndShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if code, out, errOut := run(t, t.Context(), "init", "--data", dir, "--org", "Serve CERT"); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	url, _, stop := serveNode(t, 0, "--data", dir, "--listen", "127.0.0.1:0")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9]\d*$`).MatchString(url) {
		t.Fatalf("URL %q: want the real port, not :0", url)
	}
	if code, body := get(t, url+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, url+"/metrics"); code != http.StatusOK || !strings.Contains(body, `renkei_http_requests_total{code="200",method="GET",route="/healthz"} 1`) {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	code, errOut := stop()
	if code != 0 {
		t.Fatalf("serve exited %d after the context was cancelled:\n%s", code, errOut)
	}
	for _, want := range []string{"shutting down", "server stopped"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("log lacks %q:\n%s", want, errOut)
		}
	}
	// The store was closed: another process may open it and it is sound.
	if code, out, errOut := run(t, t.Context(), "check", "--data", dir); code != 0 {
		t.Errorf("check after serve: exit %d\n%s%s", code, out, errOut)
	}
}

func TestServeDemo(t *testing.T) {
	url, banner, stop := serveNode(t, 3, "--demo", "--listen", "127.0.0.1:0")
	var demoDir, token string
	for _, l := range banner {
		if d, ok := strings.CutPrefix(l, "demo node in "); ok {
			demoDir = strings.TrimSuffix(d, " (removed on exit)")
		}
		if i := strings.Index(l, "renkei_"); strings.HasPrefix(l, "admin token") && i >= 0 {
			token = l[i:]
		}
	}
	if demoDir == "" || token == "" {
		t.Fatalf("banner lacks the directory or the token: %q", banner)
	}
	if _, err := os.Stat(filepath.Join(demoDir, DatabaseFile)); err != nil {
		t.Fatalf("demo database: %v", err)
	}
	if code, _ := get(t, url+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	// While it runs, the demo node holds the demo organisations and data, and the token works.
	st, err := sqlite.Open(t.Context(), filepath.Join(demoDir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := st.ListOrganisations(t.Context())
	if err != nil || len(orgs) != 4 {
		t.Errorf("demo organisations: %v, %v", orgs, err)
	}
	if _, err := st.TokenByHash(t.Context(), server.HashToken(token)); err != nil {
		t.Errorf("demo token: %v", err)
	}
	col, err := st.Collection(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.List(t.Context(), store.Filter{Collection: col.ID}, store.Cursor{}, 1000)
	if err != nil || len(page.Versions) < 40 {
		t.Errorf("demo collection holds %d versions (err %v), want at least 40", len(page.Versions), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if code, errOut := stop(); code != 0 {
		t.Fatalf("serve --demo exited %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(demoDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo directory %s is still there after exit (%v)", demoDir, err)
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantV   bool
		wantErr bool
	}{
		{[]string{"a", "-v", "b"}, []string{"a", "b"}, true, false},
		{[]string{"-v", "a"}, []string{"a"}, true, false},
		{[]string{"a", "--", "-v"}, []string{"a", "-v"}, false, false},
		{[]string{"-", "-v"}, []string{"-"}, true, false},
		{[]string{"a", "-x"}, nil, false, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
			f := newFlags(e, "t", "t", "")
			v := f.Bool("v", false, "")
			pos, err := f.parse(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr {
				var ce *cliError
				if !errors.As(err, &ce) || ce.code != ExitUsage {
					t.Errorf("err = %#v, want a usage error", err)
				}
				return
			}
			if strings.Join(pos, "|") != strings.Join(tt.wantPos, "|") || *v != tt.wantV {
				t.Errorf("pos %q v %v, want %q %v", pos, *v, tt.wantPos, tt.wantV)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	p := ingest.Progress{BytesRead: 512 << 10, Report: ingest.Report{Accepted: 10, Duplicate: 2, Rejected: 1}}
	tests := []struct {
		total int64
		want  string
	}{
		{1 << 20, "f.json [###############               ]  50% 512.0 KiB/1.0 MiB, accepted 10, duplicate 2, rejected 1"},
		{-1, "f.json: 512.0 KiB read, accepted 10, duplicate 2, rejected 1"},
		{1000, "f.json [##############################] 100% 512.0 KiB/1000 B, accepted 10, duplicate 2, rejected 1"},
	}
	for _, tt := range tests {
		b := &progressBar{label: "f.json", total: tt.total}
		if got := b.line(p); got != tt.want {
			t.Errorf("total %d:\n got %q\nwant %q", tt.total, got, tt.want)
		}
	}
	if isTerminal(&strings.Builder{}) {
		t.Error("a strings.Builder is not a terminal")
	}
}

func TestBundleWriter(t *testing.T) {
	var b strings.Builder
	bw := newBundleWriter(&b)
	for _, raw := range []string{`{"a":1}`, "{\n  \"b\": 2\n}"} {
		if err := bw.add([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.close(); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\{"type":"bundle","id":"bundle--[0-9a-f-]{36}","objects":\[\n\{"a":1\},\n\{\n  "b": 2\n\}\n\]\}\n$`)
	if !re.MatchString(b.String()) {
		t.Errorf("bundle %q", b.String())
	}
	// A write error is returned, and sticks.
	bw = newBundleWriter(failWriter{})
	if err := bw.add([]byte(`{}`)); err == nil {
		t.Error("add to a failing writer succeeded")
	}
	if err := bw.close(); err == nil {
		t.Error("close on a failing writer succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
