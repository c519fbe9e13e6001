package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
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
