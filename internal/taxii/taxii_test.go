package taxii_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/taxii"
)

func TestDiscoveryAndAPIRoot(t *testing.T) {
	f := newFixture(t, nil)
	d := f.get("/taxii2/", "alice", 200).json(t)
	if d["title"] != "renkei" || d["default"] != root || fmt.Sprint(d["api_roots"]) != "["+root+"]" {
		t.Errorf("discovery = %v", d)
	}
	a := f.get(root, "alice", 200).json(t)
	if a["title"] == "" || fmt.Sprint(a["versions"]) != "["+taxii.MediaTAXII+"]" || a["max_content_length"] != float64(64<<20) {
		t.Errorf("api root = %v", a)
	}
	f.get("/taxii2/nope/", "alice", 404)
	f.get("/taxii2/api/nothing/here/", "alice", 404)
}

func TestMediaTypes(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		accept string
		want   int
	}{
		{taxii.MediaTAXII, 200},
		{"application/taxii+json", 200},
		{"application/taxii+json; version=2.1", 200},
		{"application/json, application/taxii+json;version=2.1;q=0.5", 200},
		{"*/*", 200},
		{"", 200}, // no Accept header: anything is acceptable
		{"application/json", 406},
		{"application/taxii+json;version=2.0", 406},
		{"application/taxii+json;q=0", 406},
		{"text/html", 406},
	} {
		r := f.do("GET", root+"collections/", "alice", "", "Accept", tc.accept)
		if r.status != tc.want || r.header.Get("Content-Type") != taxii.MediaTAXII {
			t.Errorf("Accept %q: %d %q, want %d with the TAXII media type\n%s", tc.accept, r.status, r.header.Get("Content-Type"), tc.want, r.body)
		}
	}
	env := `{"objects":[]}`
	for _, ct := range []string{"application/json", "application/stix+json;version=2.1", "application/taxii+json;version=2.0", "text/plain"} {
		if r := f.do("POST", f.objects("shared"), "alice", env, "Content-Type", ct); r.status != 415 {
			t.Errorf("Content-Type %q: %d, want 415", ct, r.status)
		}
	}
	if r := f.do("PUT", f.objects("shared"), "alice", env); r.status != 405 || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no credentials", nil},
		{"bad token", []string{"Authorization", "Bearer renkei_nope"}},
		{"basic with the wrong user", []string{"Authorization", "Basic " + basic("bob", f.tokens["alice"])}},
	} {
		r := f.do("GET", root+"collections/", "", "", tc.hdr...)
		if r.status != 401 || r.header.Get("Content-Type") != taxii.MediaTAXII {
			t.Errorf("%s: %d %q, want 401 as TAXII", tc.name, r.status, r.header.Get("Content-Type"))
		}
		if m := r.json(t); m["http_status"] != "401" || m["title"] == "" {
			t.Errorf("%s: error resource %v", tc.name, m)
		}
	}
	// Bearer works as well as Basic.
	if r := f.do("GET", root+"collections/", "", "", "Authorization", "Bearer "+f.tokens["bob"]); r.status != 200 {
		t.Errorf("bearer: %d", r.status)
	}
	// No token reaches the logs.
	for name, tok := range f.tokens {
		if strings.Contains(f.logs.String(), tok) {
			t.Errorf("the token of %s is in the logs", name)
		}
	}
}

func TestCollectionsPerViewer(t *testing.T) {
	f := newFixture(t, nil)
	want := map[string][]string{
		"alice": {"shared rw", "readonly r", "writeonly w"},
		"anna":  {"shared r", "readonly r"}, // a reader never writes
		"bob":   {"shared r", "inbox-b rw"},
		"peer":  {"shared r"},
	}
	for user, w := range want {
		var got []string
		var res struct {
			Collections []struct {
				Alias      string   `json:"alias"`
				CanRead    bool     `json:"can_read"`
				CanWrite   bool     `json:"can_write"`
				MediaTypes []string `json:"media_types"`
			} `json:"collections"`
		}
		if err := json.Unmarshal(f.get(root+"collections/", user, 200).body, &res); err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Collections {
			rw := ""
			if c.CanRead {
				rw += "r"
			}
			if c.CanWrite {
				rw += "w"
			}
			got = append(got, c.Alias+" "+rw)
		}
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s sees %v, want %v", user, got, w)
		}
	}
	// By id and by alias; a collection one may not use looks exactly like one that does not exist.
	byID := f.get(root+"collections/"+f.shared.ID+"/", "alice", 200).json(t)
	byAlias := f.get(root+"collections/shared/", "alice", 200).json(t)
	if byID["id"] != f.shared.ID || fmt.Sprint(byID) != fmt.Sprint(byAlias) {
		t.Errorf("by id %v, by alias %v", byID, byAlias)
	}
	hidden := f.get(root+"collections/inbox-b/", "alice", 404)
	missing := f.get(root+"collections/c0000000-0000-4000-8000-0000000000ff/", "alice", 404)
	if stripID(hidden.body) != stripID(missing.body) {
		t.Errorf("hidden and missing differ:\n%s\n%s", hidden.body, missing.body)
	}
	f.get(f.objects("inbox-b"), "alice", 404)
	f.get(f.objects("writeonly"), "alice", 403)
}

// stripID removes the error_id, which differs per request.
func stripID(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return string(b)
	}
	delete(m, "error_id")
	out, _ := json.Marshal(m)
	return string(out)
}

func basic(user, pass string) string {
	return encodeBase64(user + ":" + pass)
}

func TestObjectsPerViewer(t *testing.T) {
	f := newFixture(t, nil)
	want := map[string][]string{
		// A reads all its objects; the latest version of each; ap's 2.1 form, not its 2.0 one.
		"alice": {ind2 + "@01", ind3 + "@01", mal20 + "@01/2.0", ap + "@01", sco, ind1 + "@03"},
		"anna":  {ind2 + "@01", ind3 + "@01", mal20 + "@01/2.0", ap + "@01", sco, ind1 + "@03"},
		// B (same node): community GREEN, federation GREEN, CLEAR; not A's unmarked indicator.
		"bob": {ind3 + "@01", mal20 + "@01/2.0", ap + "@01", sco, ind1 + "@03"},
		// R (a peer): not community, but federation and all.
		"peer": {ind3 + "@01", mal20 + "@01/2.0", ap + "@01", sco},
	}
	for user, w := range want {
		r := f.get(f.objects("shared"), user, 200)
		if got := ids(t, r); !slices.Equal(got, w) {
			t.Errorf("%s reads %v\nwant %v", user, got, w)
		}
		if r.header.Get(taxii.HeaderDateAddedFirst) == "" || r.header.Get(taxii.HeaderDateAddedLast) == "" {
			t.Errorf("%s: date headers missing", user)
		}
	}
}

func TestFilters(t *testing.T) {
	f := newFixture(t, nil)
	base := f.objects("shared") + "?"
	tests := []struct {
		query string
		want  []string
	}{
		{"match[type]=malware,attack-pattern", []string{mal20 + "@01/2.0", ap + "@01"}},
		{"match[id]=" + ind1, []string{ind1 + "@03"}},
		{"match[id]=" + ind1 + "&match[version]=first", []string{ind1 + "@01"}},
		{"match[id]=" + ind1 + "&match[version]=all", []string{ind1 + "@01", ind1 + "@02", ind1 + "@03"}},
		{"match[id]=" + ind1 + "&match[version]=first,last", []string{ind1 + "@01", ind1 + "@03"}},
		{"match[id]=" + ind1 + "&match[version]=" + ts(2), []string{ind1 + "@02"}},
		{"match[id]=" + ind1 + "&match[version]=" + url.QueryEscape("2024-01-02T00:00:00Z") + ",last", []string{ind1 + "@02", ind1 + "@03"}},
		{"match[id]=" + ap + "&match[spec_version]=2.0", []string{ap + "@01/2.0"}},
		{"match[id]=" + ap + "&match[spec_version]=2.0,2.1", []string{ap + "@01/2.0", ap + "@01"}},
		{"match[type]=indicator&match[id]=" + ind3, []string{ind3 + "@01"}},
		{"match[type]=indicator&match[id]=" + ap, nil},
		{"match[foo]=bar&match[type]=malware", []string{mal20 + "@01/2.0"}}, // an unknown match field is ignored
	}
	for _, tc := range tests {
		r := f.get(base+tc.query, "alice", 200)
		if got := ids(t, r); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v\nwant %v", tc.query, got, tc.want)
		}
		if len(tc.want) == 0 && (string(r.body) != "{}" || r.header.Get(taxii.HeaderDateAddedFirst) != "") {
			t.Errorf("%s: empty result is %s with headers %v", tc.query, r.body, r.header)
		}
	}
	for _, bad := range []string{
		"limit=0", "limit=-1", "limit=x", "added_after=yesterday", "added_after=2024-01-01T00:00:00",
		"match[type]=indicator&match[type]=malware", "match[version]=all,first", "match[version]=last,last",
		"match[version]=1999", "match[spec_version]=3.0", "match[id]=nope", "match[type]=Indicator", "match[type]=",
		"match[type]=a,,b", "next=forged", "limit=1&limit=2",
	} {
		r := f.get(base+bad, "alice", 400)
		if m := r.json(t); m["http_status"] != "400" || m["description"] == "" {
			t.Errorf("%s: %v", bad, m)
		}
	}
	// Filters the object endpoint does not take.
	f.get(f.objects("shared")+ind1+"/?match[type]=indicator", "alice", 400)
}

// pageAll pages through a listing with limit n, by next or by added_after, and returns what it saw.
func pageAll(t *testing.T, f *fixture, path, user string, n int, byAddedAfter bool) []string {
	t.Helper()
	var seen []string
	q := url.Values{"limit": {fmt.Sprint(n)}}
	for range 1000 {
		r := f.get(path+"?"+q.Encode(), user, 200)
		page := ids(t, r)
		if len(page) > n {
			t.Fatalf("page of %d for limit %d", len(page), n)
		}
		seen = append(seen, page...)
		m := r.json(t)
		more, _ := m["more"].(bool)
		if !more {
			return seen
		}
		if byAddedAfter {
			last := r.header.Get(taxii.HeaderDateAddedLast)
			if last == "" {
				t.Fatal("more without X-TAXII-Date-Added-Last")
			}
			q.Set("added_after", last)
		} else {
			next, _ := m["next"].(string)
			if next == "" {
				t.Fatal("more without next")
			}
			q.Set("next", next)
		}
	}
	t.Fatal("paging does not end")
	return nil
}

func TestPaging(t *testing.T) {
	f := newFixture(t, nil)
	all := ids(t, f.get(f.objects("shared"), "bob", 200))
	for _, n := range []int{1, 2, 3, 100} {
		for _, aa := range []bool{false, true} {
			if got := pageAll(t, f, f.objects("shared"), "bob", n, aa); !slices.Equal(got, all) {
				t.Errorf("limit %d (added_after %v): %v\nwant %v", n, aa, got, all)
			}
		}
	}
	// A next value works only for the same query by the same user.
	m := f.get(f.objects("shared")+"?limit=1", "bob", 200).json(t)
	next := m["next"].(string)
	f.get(f.objects("shared")+"?limit=1&next="+next, "bob", 200)
	f.get(f.objects("shared")+"?limit=5&next="+next, "bob", 200) // the limit may change
	f.get(f.objects("shared")+"?limit=1&next="+next, "alice", 400)
	f.get(f.objects("shared")+"?limit=1&match[type]=indicator&next="+next, "bob", 400)
	f.get(root+"collections/shared/manifest/?limit=1&next="+next, "bob", 400)
	// The page total never counts hidden objects: bob's first page of 5 is full of objects he reads.
	if got := ids(t, f.get(f.objects("shared")+"?limit=5", "bob", 200)); len(got) != 5 || slices.Contains(got, ind2+"@01") {
		t.Errorf("bob's first page: %v", got)
	}
}

func TestManifest(t *testing.T) {
	f := newFixture(t, nil)
	var res struct {
		Objects []struct {
			ID        string `json:"id"`
			DateAdded string `json:"date_added"`
			Version   string `json:"version"`
			MediaType string `json:"media_type"`
		} `json:"objects"`
	}
	r := f.get(root+"collections/shared/manifest/?match[type]=malware,ipv4-addr,indicator", "peer", 200)
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Objects {
		if len(o.DateAdded) != len("2024-01-01T00:00:00.000000Z") {
			t.Errorf("date_added %q is not a TAXII timestamp", o.DateAdded)
		}
		got = append(got, o.ID+" "+o.Version+" "+o.MediaType)
	}
	want := []string{ind3 + " " + ts(1) + " " + taxii.MediaSTIX21, mal20 + " " + ts(1) + " " + taxii.MediaSTIX20,
		sco + " " + res.Objects[2].DateAdded + " " + taxii.MediaSTIX21}
	if !slices.Equal(got, want) {
		t.Errorf("manifest %v\nwant %v", got, want)
	}
	if r.header.Get(taxii.HeaderDateAddedFirst) != res.Objects[0].DateAdded || r.header.Get(taxii.HeaderDateAddedLast) != res.Objects[2].DateAdded {
		t.Errorf("headers %v", r.header)
	}
}

func TestObjectAndVersions(t *testing.T) {
	f := newFixture(t, nil)
	if got := ids(t, f.get(f.objects("shared")+ind1+"/", "bob", 200)); !slices.Equal(got, []string{ind1 + "@03"}) {
		t.Errorf("object: %v", got)
	}
	if got := ids(t, f.get(f.objects("shared")+ind1+"/?match[version]=all&limit=2", "bob", 200)); len(got) != 2 {
		t.Errorf("object, all versions, limit 2: %v", got)
	}
	v := f.get(f.objects("shared")+ind1+"/versions/", "bob", 200).json(t)
	if fmt.Sprint(v["versions"]) != fmt.Sprint([]string{ts(1), ts(2), ts(3)}) {
		t.Errorf("versions %v", v)
	}
	v = f.get(f.objects("shared")+ap+"/versions/?match[spec_version]=2.0,2.1", "bob", 200).json(t)
	if fmt.Sprint(v["versions"]) != fmt.Sprint([]string{ts(1), ts(1)}) {
		t.Errorf("versions of both forms %v", v)
	}
	// bob may not see ind2: it answers exactly like an id the node never stored.
	hidden := f.get(f.objects("shared")+ind2+"/", "bob", 404)
	missing := f.get(f.objects("shared")+"indicator--99999999-0000-4000-8000-000000000000/", "bob", 404)
	hiddenV := f.get(f.objects("shared")+ind2+"/versions/", "bob", 404)
	if stripID(hidden.body) != stripID(missing.body) || stripID(hiddenV.body) != stripID(missing.body) {
		t.Errorf("hidden and missing differ:\n%s\n%s\n%s", hidden.body, hiddenV.body, missing.body)
	}
	f.get(f.objects("shared")+ind2+"/", "alice", 200)
}

func TestAddObjects(t *testing.T) {
	f := newFixture(t, func(c *config.TAXII) { c.APIRoots[0].MaxContentLength = 4096 })
	fresh := "indicator--20000000-0000-4000-8000-000000000001"
	env := `{"objects":[` + strings.Join([]string{
		indicatorJSON(fresh, orgA, ts(5), "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
		indicatorJSON(ind2, orgA, ts(1)),                                              // an exact duplicate: a success
		indicatorJSON(ind3, orgB, ts(9)),                                              // B's object: A may not version it
		indicatorJSON("indicator--20000000-0000-4000-8000-000000000002", orgB, ts(1)), // naming B as creator
		`{"type":"indicator","id":"indicator--oops"}`,                                 // invalid
	}, ",") + `]}`
	r := f.do("POST", f.objects("shared"), "alice", env)
	if r.status != 202 || r.header.Get("Content-Type") != taxii.MediaTAXII {
		t.Fatalf("POST: %d\n%s", r.status, r.body)
	}
	var st struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		Total        int    `json:"total_count"`
		SuccessCount int    `json:"success_count"`
		FailureCount int    `json:"failure_count"`
		PendingCount int    `json:"pending_count"`
		Successes    []struct{ ID, Version string }
		Failures     []struct{ ID, Version, Message string }
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "complete" || st.Total != 5 || st.SuccessCount != 2 || st.FailureCount != 3 || st.PendingCount != 0 {
		t.Fatalf("status %s", r.body)
	}
	if st.Successes[0].ID != fresh || st.Successes[0].Version != ts(5) || st.Successes[1].ID != ind2 {
		t.Errorf("successes %+v", st.Successes)
	}
	if st.Failures[0].ID != ind3 || !strings.Contains(st.Failures[0].Message, "only the organisation that created") ||
		!strings.Contains(st.Failures[2].Message, "indicator--oops") {
		t.Errorf("failures %+v", st.Failures)
	}
	// The status can be read again, with and without the trailing slash, by its requester only.
	again := f.get(root+"status/"+st.ID+"/", "alice", 200)
	if string(again.body) != string(r.body) {
		t.Errorf("status again: %s", again.body)
	}
	f.get(root+"status/"+st.ID, "alice", 200)
	f.get(root+"status/"+st.ID+"/", "bob", 404)
	// The new object is there, and B's indicator was not changed.
	if got := ids(t, f.get(f.objects("shared")+fresh+"/", "bob", 200)); !slices.Equal(got, []string{fresh + "@05"}) {
		t.Errorf("new object: %v", got)
	}
	if got := ids(t, f.get(f.objects("shared")+ind3+"/", "bob", 200)); !slices.Equal(got, []string{ind3 + "@01"}) {
		t.Errorf("B's object was changed by A: %v", got)
	}
	// Permissions and limits.
	small := `{"objects":[` + indicatorJSON("indicator--20000000-0000-4000-8000-000000000003", orgA, ts(1)) + `]}`
	for _, tc := range []struct {
		user, coll string
		body       string
		want       int
	}{
		{"alice", "readonly", small, 403},
		{"alice", "inbox-b", small, 404},
		{"anna", "shared", small, 403}, // a reader
		{"bob", "shared", small, 403},
		{"alice", "writeonly", small, 202},
		{"alice", "shared", `{"objects":[` + strings.Repeat(small[12:len(small)-2]+",", 20) + small[12:len(small)-2] + `]}`, 413},
		{"alice", "shared", `not json`, 400},
	} {
		if r := f.do("POST", f.objects(tc.coll), tc.user, tc.body); r.status != tc.want {
			t.Errorf("POST to %s as %s: %d, want %d\n%s", tc.coll, tc.user, r.status, tc.want, r.body)
		}
	}
}

func TestDeleteObject(t *testing.T) {
	f := newFixture(t, nil)
	// Permissions first: §5.7's table, then the policy.
	for _, tc := range []struct {
		user, coll, id string
		want           int
	}{
		{"bob", "shared", ind3, 403}, // can_read but not can_write
		{"alice", "writeonly", ind1, 403},
		{"alice", "inbox-b", ind1, 404},
		{"alice", "shared", ind3, 403}, // B's object
		{"alice", "shared", "indicator--99999999-0000-4000-8000-000000000000", 404},
	} {
		if r := f.do("DELETE", f.objects(tc.coll)+tc.id+"/", tc.user, ""); r.status != tc.want {
			t.Errorf("DELETE %s from %s as %s: %d, want %d\n%s", tc.id, tc.coll, tc.user, r.status, tc.want, r.body)
		}
	}
	// The first version only, then the rest.
	if r := f.do("DELETE", f.objects("shared")+ind1+"/?match[version]=first", "alice", ""); r.status != 200 {
		t.Fatalf("DELETE first: %d %s", r.status, r.body)
	}
	v := f.get(f.objects("shared")+ind1+"/versions/", "alice", 200).json(t)
	if fmt.Sprint(v["versions"]) != fmt.Sprint([]string{ts(2), ts(3)}) {
		t.Errorf("after deleting the first version: %v", v)
	}
	if r := f.do("DELETE", f.objects("shared")+ind1+"/?match[version]=all", "alice", ""); r.status != 200 {
		t.Fatalf("DELETE all: %d %s", r.status, r.body)
	}
	f.get(f.objects("shared")+ind1+"/", "alice", 404)
	if got := ids(t, f.get(f.objects("shared")+"?match[id]="+ind1, "alice", 200)); len(got) != 0 {
		t.Errorf("deleted object still listed: %v", got)
	}
	recs, err := f.st.ListAudit(t.Context(), 0, 10)
	if err != nil || len(recs) != 2 || recs[0].Action != "taxii.delete" || recs[0].Actor != "u-alice" {
		t.Errorf("audit %+v %v", recs, err)
	}
}
