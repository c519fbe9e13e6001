package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/correlate"
)

// TestCorrelateEndpoint: alice (A) and bob (B) ask who reported values of A's indicators; bob may
// read the TLP:GREEN indicator only, and the TLP:RED one is for him exactly like a missing object.
func TestCorrelateEndpoint(t *testing.T) {
	h, st, tokens := matchNode(t)
	// A second GREEN indicator of A with the same address: something to correlate with.
	importMatch(t, st, matchIndicator(3, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example']", tlpGreen))
	get := func(user, q string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/correlate?q="+url.QueryEscape(q), nil)
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[user])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, m
	}
	count := func(m map[string]any, i int) float64 {
		t.Helper()
		vals := m["values"].([]any)
		return vals[i].(map[string]any)["count"].(float64)
	}
	// The domain is in A's RED indicator 2 and GREEN indicator 3.
	if code, m := get("alice", "evil.example"); code != 200 || count(m, 0) != 2 {
		t.Errorf("alice, domain: %d %v", code, m)
	}
	if code, m := get("bob", "evil.example"); code != 200 || count(m, 0) != 1 {
		t.Errorf("bob, domain: %d %v (the RED indicator must not count)", code, m)
	}
	if code, m := get("bob", "indicator--00000000-0000-4000-8000-000000000003"); code != 200 || count(m, 0) != 1 {
		t.Errorf("bob, object 3: %d %v", code, m)
	}
	hidden, _ := get("bob", "indicator--00000000-0000-4000-8000-000000000002")
	missing, _ := get("bob", "indicator--00000000-0000-4000-8000-000000000099")
	if hidden != 404 || missing != 404 {
		t.Errorf("hidden %d, missing %d: want 404 for both", hidden, missing)
	}
	if code, _ := get("bob", "not a value"); code != 400 {
		t.Errorf("bad value: %d", code)
	}
	if code, _ := get("", "evil.example"); code != 401 {
		t.Errorf("no token: %d", code)
	}
}

// TestCorrelateReportEndpoint: POST /correlate checks a report that is not stored, through the
// policy: bob never sees A's RED indicator 2, alice does.
func TestCorrelateReportEndpoint(t *testing.T) {
	h, st, tokens := matchNode(t)
	importMatch(t, st, "["+matchIndicator(3, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example']", tlpGreen)+","+
		matchIndicator(4, "[ipv4-addr:value = '198.51.100.0/24']", tlpGreen)+"]")
	report := `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000000","objects":[` +
		strings.Replace(matchIndicator(90, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'Evil.Example']", tlpGreen), matchOrgA, matchOrgB, 1) + `]}`
	post := func(user, query, body string) (int, correlate.Result) {
		t.Helper()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/correlate"+query, strings.NewReader(body))
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[user])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var res correlate.Result
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, res
	}
	summary := func(res correlate.Result) map[string]string {
		out := map[string]string{}
		for _, m := range res.Matches {
			var ids []string
			for _, o := range m.Objects {
				ids = append(ids, o.ID[len(o.ID)-1:])
			}
			out[m.Value.Value+" via "+m.Via] = fmt.Sprintf("%d %v %v", m.Count, ids, m.In)
		}
		return out
	}
	in := "[indicator--00000000-0000-4000-8000-000000000090]"
	for _, tc := range []struct {
		user, query, body string
		want              map[string]string
	}{
		{"alice", "", report, map[string]string{
			"198.51.100.7 via ":                "2 [1 3] " + in,
			"198.51.100.0/24 via 198.51.100.7": "1 [4] " + in,
			"evil.example via ":                "2 [2 3] " + in,
		}},
		{"bob", "", report, map[string]string{
			"198.51.100.7 via ":                "2 [1 3] " + in,
			"198.51.100.0/24 via 198.51.100.7": "1 [4] " + in,
			"evil.example via ":                "1 [3] " + in, // not A's RED indicator 2
		}},
		{"bob", "?objects=1", "# values\n198.51.100.9\nevil.example\n", map[string]string{
			"198.51.100.0/24 via 198.51.100.9": "1 [4] []",
			"evil.example via ":                "1 [3] []",
		}},
		{"alice", "?objects=1", "evil.example\n", map[string]string{
			"evil.example via ": "2 [2] []", // counted 2, listed 1
		}},
	} {
		code, res := post(tc.user, tc.query, tc.body)
		if code != http.StatusOK {
			t.Errorf("%s %s: status %d", tc.user, tc.query, code)
			continue
		}
		if got := summary(res); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %s:\n%v\nwant\n%v", tc.user, tc.query, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name, user, query, body string
		want                    int
	}{
		{"bad value", "bob", "", "198.51.100.7\nnot a value\n", http.StatusBadRequest},
		{"bad object", "bob", "", `[{"type":"indicator"}]`, http.StatusBadRequest},
		{"bad objects", "bob", "?objects=0", "evil.example", http.StatusBadRequest},
		{"too large", "bob", "", strings.Repeat("evil.example\n", 1000), http.StatusRequestEntityTooLarge},
		{"no token", "", "", "evil.example", http.StatusUnauthorized},
	} {
		if code, _ := post(tc.user, tc.query, tc.body); code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
	}
}
