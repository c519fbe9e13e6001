package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

const (
	matchOrgA = "identity--a0000000-0000-4000-8000-000000000001"
	matchOrgB = "identity--b0000000-0000-4000-8000-000000000002"
	tlpRed    = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	tlpGreen  = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
)

func matchIndicator(n int, pat, marking string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created_by_ref":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",`+
		`"pattern":%q,"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":[%q]}`,
		n, matchOrgA, pat, marking)
}

// matchNode is a node owned by organisation A, with alice in A and bob in B (both hosted here), and
// two indicators of A: 1 is TLP:GREEN, 2 is TLP:RED (readable by A only).
func matchNode(t *testing.T) (h http.Handler, st store.Store, tokens map[string]string) {
	t.Helper()
	st, tokens = policyNode(t, []store.Organisation{{ID: matchOrgA, Name: "A"}, {ID: matchOrgB, Name: "B"}},
		[]store.User{{ID: "u-alice", Name: "alice", OrgID: matchOrgA, Role: store.RoleAnalyst},
			{ID: "u-bob", Name: "bob", OrgID: matchOrgB, Role: store.RoleAnalyst}})
	var objs []string
	for _, m := range stix.BuiltinMarkings() {
		objs = append(objs, string(m.JSON))
	}
	objs = append(objs, matchIndicator(1, "[ipv4-addr:value = '198.51.100.7']", tlpGreen),
		matchIndicator(2, "[domain-name:value = 'evil.example']", tlpRed))
	importMatch(t, st, "["+strings.Join(objs, ",")+"]")
	s, _ := newTestServer(t, st, func(l *config.Limits) { l.MaxBodyBytes = 4 << 10 })
	return s.Handler(), st, tokens
}

func importMatch(t *testing.T, st store.Store, body string) {
	t.Helper()
	rep, err := ingest.New(st, slog.New(slog.DiscardHandler)).Import(t.Context(), strings.NewReader(body), ingest.Options{})
	if err != nil || rep.Rejected > 0 {
		t.Fatalf("import: %v %+v", err, rep.Errors)
	}
}

// postMatch posts a log and returns the status and the hits' indicator ids per line.
func postMatch(t *testing.T, h http.Handler, token, query, body string) (int, []match.HitRecord, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/match"+query, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var hits []match.HitRecord
	if rec.Code == http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
		for sc.Scan() {
			var r match.HitRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			hits = append(hits, r)
		}
	}
	return rec.Code, hits, rec.Body.String()
}

func hitIDs(hits []match.HitRecord) []string {
	var ids []string
	for _, h := range hits {
		ids = append(ids, fmt.Sprintf("%d:%s", h.Line, strings.Join(h.Indicators, ",")))
	}
	return ids
}

func TestMatchEndpointPerViewer(t *testing.T) {
	h, st, tokens := matchNode(t)
	const log = "2024-05-01T10:00:00Z conn 198.51.100.7\n2024-05-01T10:00:01Z dns evil.example\n2024-05-01T10:00:02Z dns www.evil.example\n"
	id1 := "indicator--00000000-0000-4000-8000-000000000001"
	id2 := "indicator--00000000-0000-4000-8000-000000000002"
	tests := []struct {
		user string
		want []string
	}{
		{"alice", []string{"1:" + id1, "2:" + id2}}, // the owner reads its TLP:RED indicator
		{"bob", []string{"1:" + id1}},               // another organisation does not: no hit on it
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			code, hits, body := postMatch(t, h, tokens[tt.user], "?format=text", log)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if got := hitIDs(hits); !slices.Equal(got, tt.want) {
				t.Errorf("hits %v, want %v", got, tt.want)
			}
			if len(hits) > 0 && (hits[0].Value != "198.51.100.7" || hits[0].Time != "2024-05-01T10:00:00Z") {
				t.Errorf("first hit %+v", hits[0])
			}
		})
	}

	t.Run("jsonl", func(t *testing.T) {
		code, hits, body := postMatch(t, h, tokens["alice"], "?format=jsonl&field=q=domain&time_field=ts",
			`{"ts":"2024-05-01T10:00:00Z","q":"evil.example","other":"198.51.100.7"}`+"\n")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		if got, want := hitIDs(hits), []string{"1:" + id2}; !slices.Equal(got, want) {
			t.Errorf("hits %v, want %v", got, want)
		}
	})

	// A new indicator is picked up, a revoked one dropped, without restarting.
	t.Run("updates", func(t *testing.T) {
		importMatch(t, st, "["+matchIndicator(3, "[ipv4-addr:value = '192.0.2.99']", tlpGreen)+","+
			strings.Replace(strings.Replace(matchIndicator(1, "[ipv4-addr:value = '198.51.100.7']", tlpGreen),
				`"modified":"2024-01-01T00:00:00.000Z"`, `"modified":"2024-02-01T00:00:00.000Z","revoked":true`, 1), "", "", 0)+"]")
		code, hits, body := postMatch(t, h, tokens["bob"], "", "x 198.51.100.7 192.0.2.99\n")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		if got, want := hitIDs(hits), []string{"1:indicator--00000000-0000-4000-8000-000000000003"}; !slices.Equal(got, want) {
			t.Errorf("hits %v, want %v", got, want)
		}
	})
}

func TestMatchEndpointErrors(t *testing.T) {
	h, _, tokens := matchNode(t)
	tests := []struct {
		name, token, query, body string
		status                   int
	}{
		{"no token", "", "", "198.51.100.7\n", http.StatusUnauthorized},
		{"bad format", tokens["bob"], "?format=xml", "", http.StatusBadRequest},
		{"bad field", tokens["bob"], "?format=jsonl&field=nokind", "", http.StatusBadRequest},
		{"bad json line", tokens["bob"], "?format=jsonl", "not json\n", http.StatusBadRequest},
		{"body too large", tokens["bob"], "", strings.Repeat("a 192.0.2.1\n", 1000), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := postMatch(t, h, tt.token, tt.query, tt.body)
			if code != tt.status {
				t.Errorf("status %d, want %d: %s", code, tt.status, body)
			}
		})
	}
	t.Run("GET not allowed", func(t *testing.T) {
		rec := do(t, h, http.MethodGet, "/match", nil, http.Header{"Authorization": {"Bearer " + tokens["bob"]}})
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("status %d", rec.Code)
		}
	})
}

// TestMatchIndexFile checks that the server keeps its index in the file: written when compiled at
// start, loaded by the next server, compiled again when stale, and that a replaced index stays
// usable until the last request using it is done.
func TestMatchIndexFile(t *testing.T) {
	_, st, tokens := matchNode(t)
	path := filepath.Join(t.TempDir(), match.IndexFileName)
	newServer := func() (*Server, *syncBuffer) {
		logs := &syncBuffer{}
		s, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil)), Limits: config.Default().Limits,
			Version: "test", MatchIndexFile: path})
		if err != nil {
			t.Fatal(err)
		}
		return s, logs
	}
	s1, logs1 := newServer()
	s1.WarmMatchIndex(t.Context())()
	if !strings.Contains(logs1.String(), "match: indicators compiled") || !strings.Contains(logs1.String(), "written=true") {
		t.Fatalf("first start: %s", logs1.String())
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	s2, logs2 := newServer()
	s2.WarmMatchIndex(t.Context())()
	if !strings.Contains(logs2.String(), "match: index loaded") {
		t.Fatalf("second start: %s", logs2.String())
	}
	const log = "x 198.51.100.7 evil.example 192.0.2.77\n"
	id1, id2, id3 := "indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002",
		"indicator--00000000-0000-4000-8000-000000000003"
	for user, want := range map[string][]string{"alice": {"1:" + id1, "1:" + id2}, "bob": {"1:" + id1}} {
		code, hits, body := postMatch(t, s2.Handler(), tokens[user], "", log)
		if got := hitIDs(hits); code != http.StatusOK || !slices.Equal(got, want) {
			t.Errorf("%s, from the loaded index: %d %v, want %v (%s)", user, code, got, want, body)
		}
	}

	// A request holds the loaded index while a new indicator makes it stale and it is replaced.
	held, release, err := s2.matchIx.get(t.Context(), st, time.Now(), s2.logger)
	if err != nil {
		t.Fatal(err)
	}
	importMatch(t, st, "["+matchIndicator(3, "[ipv4-addr:value = '192.0.2.77']", tlpGreen)+"]")
	code, hits, body := postMatch(t, s2.Handler(), tokens["bob"], "", log)
	if got, want := hitIDs(hits), []string{"1:" + id1, "1:" + id3}; code != http.StatusOK || !slices.Equal(got, want) {
		t.Errorf("after the import: %d %v, want %v (%s)", code, got, want, body)
	}
	if !strings.Contains(logs2.String(), "indicators were stored since") {
		t.Errorf("no recompile logged: %s", logs2.String())
	}
	// The replaced index is still mapped for the request holding it.
	if refs := held.Index.Lookup(nil, match.KindIPv4, "198.51.100.7"); len(refs) != 1 || held.Indicators.ID(refs[0]) != id1 {
		t.Errorf("the held index gives %v", refs)
	}
	release()
	s3, logs3 := newServer()
	s3.WarmMatchIndex(t.Context())()
	if !strings.Contains(logs3.String(), "match: index loaded") || !strings.Contains(logs3.String(), "active=3") {
		t.Errorf("third start: %s", logs3.String())
	}
}
