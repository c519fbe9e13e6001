package cli

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/server"
)

// serveDir serves a node's data directory over HTTP, as 'renkei serve' would, for the length of
// the test.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	st, err := openNode(t.Context(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Default()
	srv, err := server.New(server.Options{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: cfg.Limits, TAXII: cfg.TAXII, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestTaxiiNodeToNode: one renkei node pulls from and pushes to another over TAXII, with renkei's
// own client; objects arrive byte for byte, and the sharing policy decides what crosses.
func TestTaxiiNodeToNode(t *testing.T) {
	dir := t.TempDir()
	hub, spoke := filepath.Join(dir, "hub"), filepath.Join(dir, "spoke")
	mustRun(t, "init", "--data", hub, "--org", "Hub CERT", "--admin", "root")
	mustRun(t, "org", "add", "--data", hub, "--name", "Grid Operator")
	mustRun(t, "user", "add", "--data", hub, "--org", "Grid Operator", "--name", "grid", "--role", "analyst")
	tok := tokenRE.FindStringSubmatch(mustRun(t, "token", "create", "--data", hub, "--user", "grid"))
	if tok == nil {
		t.Fatal("no token printed")
	}
	mustRun(t, "collection", "add", "--data", hub, "energy")
	mustRun(t, "collection", "grant", "--data", hub, "--org", "Grid Operator", "--read", "--write", "energy")
	hubOrg := orgID(t, hub, "Hub CERT")
	// The hub's data: one object the grid operator may read (TLP:CLEAR), one it may not (unmarked:
	// the hub's own organisation only).
	clear := `{"type":"indicator","spec_version":"2.1","id":"indicator--e0000000-0000-4000-8000-000000000001","created_by_ref":"` + hubOrg +
		`","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"shared with the sector",` +
		`"pattern":"[domain-name:value = 'c2.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z",` +
		`"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}`
	secret := strings.Replace(strings.Replace(clear, "e0000000-0000-4000-8000-000000000001", "e0000000-0000-4000-8000-000000000002", 1),
		`,"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]`, "", 1)
	file := filepath.Join(dir, "hub.json")
	writeFile(t, file, `{"type":"bundle","id":"bundle--e0000000-0000-4000-8000-0000000000ff","objects":[`+clear+",\n  "+secret+`]}`)
	mustRun(t, "import", "--data", hub, "--collection", "energy", file)
	url := serveDir(t, hub)

	env := map[string]string{envTAXIIToken: tok[1]}
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runEnv(t, env, args...)
		if code != 0 {
			t.Fatalf("renkei %v exited %d:\n%s%s", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, tok[1]) {
			t.Fatalf("renkei %v printed the token", args)
		}
		return out
	}
	if got := run("taxii", "collections", url, "--user", "grid"); !strings.Contains(got, "energy") {
		t.Errorf("collections:\n%s", got)
	}
	mustRun(t, "init", "--data", spoke, "--org", "Grid Operator (own node)")
	mustRun(t, "collection", "add", "--data", spoke, "from-hub")
	run("taxii", "pull", url, "--user", "grid", "--collection", "energy", "--data", spoke, "--into", "from-hub")
	if got := mustRun(t, "get", "--data", spoke, "indicator--e0000000-0000-4000-8000-000000000001"); strings.TrimSpace(got) != clear {
		t.Errorf("pulled object differs:\n got %s\nwant %s", got, clear)
	}
	if code, _, _ := run2(t, "get", "--data", spoke, "indicator--e0000000-0000-4000-8000-000000000002"); code == 0 {
		t.Error("the hub's unmarked indicator crossed to the grid operator")
	}
	// Push: the grid operator's own sighting goes in; a forged object naming the hub as creator does not.
	gridOrg := orgID(t, hub, "Grid Operator")
	own := strings.NewReplacer(hubOrg, gridOrg, "e0000000-0000-4000-8000-000000000001", "e0000000-0000-4000-8000-000000000003").Replace(clear)
	forged := strings.Replace(clear, "e0000000-0000-4000-8000-000000000001", "e0000000-0000-4000-8000-000000000004", 1)
	pushFile := filepath.Join(dir, "push.json")
	writeFile(t, pushFile, `[`+own+`,`+forged+`]`)
	code, pout, perr := runEnv(t, env, "taxii", "push", url, "--user", "grid", "--collection", "energy", pushFile)
	if code != 1 || !strings.Contains(pout+perr, "only the organisation that created") {
		t.Errorf("push with a forged object: exit %d\n%s%s", code, pout, perr)
	}
	if got := mustRun(t, "get", "--data", hub, "indicator--e0000000-0000-4000-8000-000000000003"); strings.TrimSpace(got) != own {
		t.Errorf("pushed object differs:\n%s", got)
	}
	if code, _, _ := run2(t, "get", "--data", hub, "indicator--e0000000-0000-4000-8000-000000000004"); code == 0 {
		t.Error("the forged object was stored")
	}
}

func run2(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, context.Background(), args...)
}

// orgID finds an organisation's identity id in a node.
func orgID(t *testing.T, dir, name string) string {
	t.Helper()
	st, err := openNode(t.Context(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgs, err := st.ListOrganisations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		if o.Name == name {
			return o.ID
		}
	}
	t.Fatalf("no organisation %q", name)
	return ""
}
