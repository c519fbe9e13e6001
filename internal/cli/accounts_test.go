package cli

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// TestAccountCommandsAudit runs every account command that changes something and checks the store:
// one audit record per change, in order, naming the OS user, and no secret in any record.
func TestAccountCommandsAudit(t *testing.T) {
	t.Setenv("USER", "auditor")
	dir := filepath.Join(t.TempDir(), "node")
	runIn := func(args ...string) string { t.Helper(); return mustRun(t, append(args, "--data", dir)...) }
	runIn("init", "--org", "Audit CERT")
	runIn("org", "add", "--name", "Other")
	runIn("user", "add", "--org", "Other", "--name", "bob", "--role", "analyst")
	out := runIn("token", "create", "--user", "bob", "--expires", "1h")
	secret := tokenRE.FindStringSubmatch(out)
	id := regexp.MustCompile(`(?m)^token id: +(\S+)$`).FindStringSubmatch(out)
	if secret == nil || id == nil {
		t.Fatalf("token create printed no token or id:\n%s", out)
	}
	runIn("token", "revoke", id[1])
	runIn("user", "disable", "bob")
	runIn("group", "add", "--name", "g1", "--owner", "Audit CERT")
	runIn("group", "add-member", "g1", "Other")
	runIn("collection", "add", "energy")
	bundle := filepath.Join(t.TempDir(), "one.json")
	obj := `{"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"x","is_family":true}`
	if err := os.WriteFile(bundle, []byte(obj), 0o600); err != nil {
		t.Fatal(err)
	}
	runIn("import", "--collection", "energy", bundle)
	// A refused command writes no record.
	if code, _, _ := run(t, t.Context(), "user", "add", "--data", dir, "--org", "Other", "--name", "bob", "--role", "reader"); code != 1 {
		t.Fatalf("duplicate user add: exit %d, want 1", code)
	}

	st, err := sqlite.Open(t.Context(), filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ action, target string }{
		{"node.init", ""}, {"org.add", ""}, {"user.add", ""}, {"token.create", id[1]}, {"token.revoke", id[1]},
		{"user.disable", ""}, {"group.add", ""}, {"group.add-member", ""}, {"collection.add", ""}, {"import", bundle},
	}
	if len(rs) != len(want) {
		t.Fatalf("audit log has %d records, want %d: %+v", len(rs), len(want), rs)
	}
	for i, r := range rs {
		if r.Action != want[i].action || (want[i].target != "" && r.Target != want[i].target) || r.Target == "" {
			t.Errorf("record %d = %s %s, want %s %s", i, r.Action, r.Target, want[i].action, want[i].target)
		}
		if r.Actor != "cli:auditor" {
			t.Errorf("record %d: actor %q, want cli:auditor", i, r.Actor)
		}
		if r.Seq != int64(i+1) {
			t.Errorf("record %d: seq %d", i, r.Seq)
		}
		hash := server.HashToken(secret[1])
		for _, s := range []string{r.Detail, r.Target, string(r.Canonical)} {
			if strings.Contains(s, secret[1]) || strings.Contains(s, string(hash[:])) {
				t.Errorf("record %d holds the token: %+v", i, r)
			}
		}
	}

	// The store holds what the commands said: the token is revoked, the user disabled.
	tok, err := st.TokenByHash(t.Context(), server.HashToken(secret[1]))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RevokedAt.IsZero() || tok.ExpiresAt.Sub(tok.CreatedAt) != time.Hour {
		t.Errorf("token %+v: want revoked, expiring an hour after creation", tok)
	}
	u, err := st.UserByName(t.Context(), "bob")
	if err != nil || !u.Disabled || u.Role != store.RoleAnalyst {
		t.Errorf("bob = %+v, %v: want a disabled analyst", u, err)
	}
	g, err := st.Group(t.Context(), "g1")
	if err != nil || g.Revision != 2 || len(g.Members) != 2 {
		t.Errorf("group g1 = %+v, %v: want revision 2 with 2 members", g, err)
	}
}

// TestAccountChangesReachRunningServer changes accounts with the commands while a server holds the
// same database open: a new token works at once, and revoking it or disabling its user shuts it out
// within server.ViewerTTL (the server's clock is advanced by that much after each change).
func TestAccountChangesReachRunningServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	runIn := func(args ...string) string { t.Helper(); return mustRun(t, append(args, "--data", dir)...) }
	runIn("init", "--org", "Live CERT")
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := time.Now()
	srv, err := server.New(server.Options{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: config.Default().Limits, Version: "test",
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := server.ViewerFrom(r.Context())
		fmt.Fprint(w, v.Role)
	}))
	get := func(user, token string) (int, string) {
		t.Helper()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/taxii2/", nil)
		req.SetBasicAuth(user, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	runIn("user", "add", "--org", "Live CERT", "--name", "dana", "--role", "reader")
	out := runIn("token", "create", "--user", "dana")
	secret := tokenRE.FindStringSubmatch(out)
	id := regexp.MustCompile(`(?m)^token id: +(\S+)$`).FindStringSubmatch(out)
	if secret == nil || id == nil {
		t.Fatalf("token create printed no token or id:\n%s", out)
	}
	if code, body := get("dana", secret[1]); code != http.StatusOK || body != "reader" {
		t.Fatalf("new token: %d %q, want 200 reader", code, body)
	}
	runIn("token", "revoke", id[1])
	clock = clock.Add(server.ViewerTTL)
	if code, _ := get("dana", secret[1]); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", code)
	}
	second := tokenRE.FindStringSubmatch(runIn("token", "create", "--user", "dana"))
	if second == nil {
		t.Fatal("no second token")
	}
	if code, _ := get("dana", second[1]); code != http.StatusOK {
		t.Fatalf("second token: %d, want 200", code)
	}
	runIn("user", "disable", "dana")
	clock = clock.Add(server.ViewerTTL)
	if code, _ := get("dana", second[1]); code != http.StatusUnauthorized {
		t.Errorf("token of a disabled user: %d, want 401", code)
	}
}
