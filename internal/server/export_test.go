package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/formats/misp"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

const (
	exportOrgA = "identity--a0000000-0000-4000-8000-0000000000e1"
	exportOrgB = "identity--b0000000-0000-4000-8000-0000000000e2"
)

func exportIndicator(n int, name, pat, marking string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created_by_ref":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":%q,`+
		`"pattern":%q,"pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","object_marking_refs":[%q]}`,
		n, exportOrgA, name, pat, marking)
}

// exportNode: organisation A runs the node; alice is in A, bob in B (both hosted here). A's
// indicators: 1 TLP:GREEN, 2 TLP:RED (A only), 3 TLP:AMBER (A only, by its default distribution),
// 4 TLP:GREEN revoked, and 5 TLP:GREEN with a phone number in its name. Collection "feed" holds
// 1 and is readable by B only.
func exportNode(t *testing.T) (http.Handler, map[string]string) {
	t.Helper()
	st, tokens := policyNode(t, []store.Organisation{{ID: exportOrgA, Name: "A"}, {ID: exportOrgB, Name: "B"}},
		[]store.User{{ID: "u-alice", Name: "alice", OrgID: exportOrgA, Role: store.RoleAnalyst},
			{ID: "u-bob", Name: "bob", OrgID: exportOrgB, Role: store.RoleReader}})
	ctx := t.Context()
	var objs []string
	for _, m := range stix.BuiltinMarkings() {
		objs = append(objs, string(m.JSON))
	}
	revoked := strings.Replace(exportIndicator(4, "old", "[ipv4-addr:value = '192.0.2.4']", stix.TLP2Green), `"pattern_type"`, `"revoked":true,"pattern_type"`, 1)
	objs = append(objs,
		exportIndicator(1, "green c2", "[ipv4-addr:value = '192.0.2.1']", stix.TLP2Green),
		exportIndicator(2, "red c2", "[ipv4-addr:value = '192.0.2.2']", stix.TLP2Red),
		exportIndicator(3, "amber c2", "[ipv4-addr:value = '192.0.2.3']", stix.TLP2Amber),
		revoked,
		exportIndicator(5, "call 090-1234-5678", "[domain-name:value = 'evil.example']", stix.TLP2Green))
	importMatch(t, st, "["+strings.Join(objs, ",")+"]")
	if err := st.CreateCollection(ctx, store.Collection{ID: "9d0d7f0e-8c5b-4b6a-9f57-2d6f7a1e0c01", Alias: "feed", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetGrant(ctx, store.Grant{Collection: "feed", Kind: store.GrantOrg, Subject: exportOrgB, Read: true}); err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, st, nil)
	return s.Handler(), tokens
}

func getExport(t *testing.T, h http.Handler, token, target string) (int, string, http.Header) {
	t.Helper()
	hdr := http.Header{}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	rec := do(t, h, http.MethodGet, target, nil, hdr)
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestExportEndpointPerViewer(t *testing.T) {
	h, tokens := exportNode(t)
	tests := []struct {
		user, target string
		want         []string
	}{
		{"alice", "/export/ip", []string{"192.0.2.1", "192.0.2.3"}},                                   // RED left out: the export leaves A
		{"alice", "/export/ip?destination=internal", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}}, // inside A
		{"bob", "/export/ip", []string{"192.0.2.1"}},                                                  // B reads GREEN only
		{"bob", "/export/ip?destination=internal", []string{"192.0.2.1"}},                             // internal opens no more than the policy
		{"bob", "/export/domain", []string{"evil.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.user+tc.target, func(t *testing.T) {
			code, body, hdr := getExport(t, h, tokens[tc.user], tc.target)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if got := strings.Fields(body); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
			}
		})
	}
	t.Run("report headers", func(t *testing.T) {
		_, _, hdr := getExport(t, h, tokens["alice"], "/export/ip")
		if sk := hdr.Get("X-Renkei-Skipped"); !strings.Contains(sk, "revoked=1") || !strings.Contains(sk, "TLP-does-not-allow-this-destination=1") {
			t.Errorf("X-Renkei-Skipped %q", sk)
		}
	})
	t.Run("personal data is redacted", func(t *testing.T) {
		code, body, _ := getExport(t, h, tokens["bob"], "/export/csv")
		if code != http.StatusOK || strings.Contains(body, "090-1234-5678") || !strings.Contains(body, "call [pii-redacted:phone]") {
			t.Errorf("%d %s", code, body)
		}
	})
	t.Run("collection", func(t *testing.T) {
		code, body, _ := getExport(t, h, tokens["bob"], "/export/ip?collection=feed")
		if code != http.StatusOK || strings.TrimSpace(body) != "" {
			t.Errorf("empty collection: %d %q", code, body) // the collection holds nothing yet
		}
		if code, _, _ := getExport(t, h, tokens["alice"], "/export/ip?collection=feed"); code != http.StatusNotFound {
			t.Errorf("alice has no grant on feed: %d", code)
		}
		if code, _, _ := getExport(t, h, tokens["bob"], "/export/ip?collection=nope"); code != http.StatusNotFound {
			t.Errorf("unknown collection: %d", code)
		}
	})
	t.Run("suricata is a tar", func(t *testing.T) {
		code, body, hdr := getExport(t, h, tokens["bob"], "/export/suricata")
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/x-tar" || !strings.Contains(body, "renkei.rules") {
			t.Errorf("%d %q", code, hdr.Get("Content-Type"))
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			token, target string
			want          int
		}{
			{"", "/export/ip", http.StatusUnauthorized},
			{"not-a-token", "/export/ip", http.StatusUnauthorized},
			{tokens["bob"], "/export/pdf", http.StatusNotFound},
			{tokens["bob"], "/export/ip?destination=moon", http.StatusBadRequest},
		} {
			if code, body, _ := getExport(t, h, tc.token, tc.target); code != tc.want {
				t.Errorf("%s: %d, want %d: %s", tc.target, code, tc.want, body)
			}
		}
	})
}

// TestExportMISPEndpoint: GET /export/misp is one MISP event of what the viewer may read, under
// the same policy, TLP and personal-data rules as the other formats; our MISP decoder reads it.
func TestExportMISPEndpoint(t *testing.T) {
	h, tokens := exportNode(t)
	values := func(t *testing.T, body string) []string {
		t.Helper()
		evs, err := misp.DecodeEvents(strings.NewReader(body), misp.Limits{})
		if err != nil || len(evs) != 1 {
			t.Fatalf("the export does not decode as one MISP event: %v", err)
		}
		var out []string
		for _, a := range evs[0].Attribute {
			out = append(out, a.Type+" "+a.Value+" "+string(a.ToIDs))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		user, target string
		want         []string
	}{
		{"alice", "/export/misp", []string{"domain evil.example true", "ip-dst 192.0.2.1 true", "ip-dst 192.0.2.3 true"}},
		{"alice", "/export/misp?destination=internal", []string{"domain evil.example true", "ip-dst 192.0.2.1 true", "ip-dst 192.0.2.2 true", "ip-dst 192.0.2.3 true"}},
		{"bob", "/export/misp", []string{"domain evil.example true", "ip-dst 192.0.2.1 true"}},
	}
	for _, tc := range tests {
		t.Run(tc.user+tc.target, func(t *testing.T) {
			code, body, hdr := getExport(t, h, tokens[tc.user], tc.target)
			if code != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", code, hdr.Get("Content-Type"), body)
			}
			if got := values(t, body); !slices.Equal(got, tc.want) {
				t.Errorf("attributes %v, want %v", got, tc.want)
			}
			if strings.Contains(body, "090-1234-5678") {
				t.Error("the phone number left the node")
			}
		})
	}
	t.Run("event uuid and info", func(t *testing.T) {
		code, body, _ := getExport(t, h, tokens["bob"], "/export/misp?event_uuid=0d5f57e4-6c7a-4e33-9a51-6e1b9e1d2b33&event_info=weekly")
		if code != http.StatusOK || !strings.HasPrefix(body, `{"Event":{"uuid":"0d5f57e4-6c7a-4e33-9a51-6e1b9e1d2b33","info":"weekly"`) {
			t.Errorf("%d %.200s", code, body)
		}
		if code, _, _ := getExport(t, h, tokens["bob"], "/export/misp?event_uuid=nope"); code != http.StatusBadRequest {
			t.Errorf("a bad event_uuid: %d", code)
		}
	})
	t.Run("same data, same bytes", func(t *testing.T) {
		_, b1, _ := getExport(t, h, tokens["alice"], "/export/misp")
		_, b2, _ := getExport(t, h, tokens["alice"], "/export/misp")
		if b1 != b2 {
			t.Error("two exports of the same data differ")
		}
	})
}

// TestExportSTIXEndpoint: GET /export/stix is one STIX bundle of the latest versions the viewer may
// read, under the same policy, TLP and personal-data rules as the other formats.
func TestExportSTIXEndpoint(t *testing.T) {
	h, tokens := exportNode(t)
	idsOf := func(t *testing.T, body string) []string {
		t.Helper()
		var b struct {
			Type    string `json:"type"`
			Objects []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"objects"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil || b.Type != "bundle" {
			t.Fatalf("not a bundle (%v): %s", err, body)
		}
		var out []string
		for _, o := range b.Objects {
			out = append(out, o.ID[len(o.ID)-2:]+" "+o.Name)
		}
		return out
	}
	for _, tc := range []struct {
		user, target string
		want         []string
	}{
		// A reads 1, 3 and 5 for outside (RED stays in), revoked 4 never; 5's phone number redacted.
		{"alice", "/export/stix?type=indicator", []string{"01 green c2", "03 amber c2", "05 call [pii-redacted:phone]"}},
		{"alice", "/export/stix?type=indicator&destination=internal", []string{"01 green c2", "02 red c2", "03 amber c2", "05 call [pii-redacted:phone]"}},
		{"bob", "/export/stix?type=indicator", []string{"01 green c2", "05 call [pii-redacted:phone]"}},
	} {
		t.Run(tc.user+tc.target, func(t *testing.T) {
			code, body, hdr := getExport(t, h, tokens[tc.user], tc.target)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if got := idsOf(t, body); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/stix+json;version=2.1" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	t.Run("same bytes twice", func(t *testing.T) {
		_, b1, _ := getExport(t, h, tokens["bob"], "/export/stix")
		_, b2, _ := getExport(t, h, tokens["bob"], "/export/stix")
		if b1 != b2 {
			t.Error("two exports of the same data differ")
		}
	})
	t.Run("bad type", func(t *testing.T) {
		if code, body, _ := getExport(t, h, tokens["bob"], "/export/stix?type=Indicator"); code != http.StatusBadRequest {
			t.Errorf("%d %s", code, body)
		}
	})
}
