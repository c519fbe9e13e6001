package taxii_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/policy/policytest"
	"github.com/renkei-cti/renkei/internal/store"
)

// The organisations of the matrix: A, B and C are hosted here, R1 and R2 on partner nodes. Sharing
// group G is managed here by B, with A and R1 as members; group H's marking is held but the group is
// not managed here, so it is not trusted; unknownMarking is a marking definition the node lacks.
const (
	mOrgA          = "identity--a1000000-0000-4000-8000-00000000000a"
	mOrgB          = "identity--b1000000-0000-4000-8000-00000000000b"
	mOrgC          = "identity--c1000000-0000-4000-8000-00000000000c"
	mOrgR1         = "identity--d1000000-0000-4000-8000-0000000000d1"
	mOrgR2         = "identity--d2000000-0000-4000-8000-0000000000d2"
	groupG         = "6a100000-0000-4000-8000-00000000000a"
	groupH         = "6a100000-0000-4000-8000-00000000000b"
	unknownMarking = "marking-definition--0d100000-0000-4000-8000-000000000002"
	hiddenTarget   = "indicator--0b100000-0000-4000-8000-0000000000ff"
)

var localOrgs = map[string]bool{mOrgA: true, mOrgB: true, mOrgC: true}

// groupRecipients are the organisations the page calls recipients of group G: its owner and members.
var groupRecipients = map[string]bool{mOrgB: true, mOrgA: true, mOrgR1: true}

// matrixObject is one object of the matrix with what the page needs to judge it.
type matrixObject struct {
	id, raw  string
	owner    string
	tlpWord  string
	distWord string
}

// TestAccessMatrix checks every TAXII read path and the write path against the oracle written from
// the tables of docs/POLICY.md (internal/policy/policytest, which shares nothing with the policy's
// code): role × the viewer's relation to the owner (same organisation, same group, same node,
// federated, none) × TLP marking (none, TLP 1.0, TLP 2.0) × distribution marking (none, the four
// fixed ones, a trusted sharing group, an untrusted one, an unknown marking) × object kind
// (indicators, malware, relationships, sightings and reports pointing at an object nobody in the
// matrix may read, SCOs) × path (objects, manifest, object, versions, POST).
func TestAccessMatrix(t *testing.T) {
	o := policytest.Load(t)
	f := newNode(t)
	for _, org := range []store.Organisation{{ID: mOrgA, Name: "A"}, {ID: mOrgB, Name: "B"}, {ID: mOrgC, Name: "C"},
		{ID: mOrgR1, Name: "R1", Remote: true}, {ID: mOrgR2, Name: "R2", Remote: true}} {
		f.addOrg(org)
	}
	if err := f.st.CreateGroup(t.Context(), store.Group{ID: groupG, Name: "G", OwnerOrg: mOrgB, Members: []string{mOrgB, mOrgA, mOrgR1}}); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	markG, err := policy.SharingGroupMarking(policy.SharingGroup{ID: groupG, Name: "G", Owner: mOrgB, Revision: 1,
		Members: []string{mOrgB, mOrgA, mOrgR1}, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	markH, err := policy.SharingGroupMarking(policy.SharingGroup{ID: groupH, Name: "H", Owner: mOrgR2, Revision: 1,
		Members: []string{mOrgR2, mOrgA}, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	f.importRaw("", "["+string(markG)+","+string(markH)+"]")
	var grants []store.Grant
	for _, org := range []string{mOrgA, mOrgB, mOrgC, mOrgR1, mOrgR2} {
		grants = append(grants, store.Grant{Kind: store.GrantOrg, Subject: org, Read: true, Write: true})
	}
	coll := f.addCollection("matrix", grants...)

	tlps := []struct{ id, word string }{{"", "AMBER"}} // unmarked: the node's default, AMBER (docs/POLICY.md, "TLP")
	for id, word := range o.TLPOf {
		tlps = append(tlps, struct{ id, word string }{id, word})
	}
	slices.SortFunc(tlps, func(a, b struct{ id, word string }) int { return strings.Compare(a.id, b.id) })
	dists := []struct{ id, word string }{
		{"", ""}, // unmarked: the page's default for the TLP
		{policy.DistributionMarkingID(policy.DistOrganisation), "organisation"},
		{policy.DistributionMarkingID(policy.DistCommunity), "community"},
		{policy.DistributionMarkingID(policy.DistFederation), "federation"},
		{policy.DistributionMarkingID(policy.DistAll), "all"},
		{policy.SharingGroupMarkingID(groupG, 1), "sharing group"},
		{policy.SharingGroupMarkingID(groupH, 1), "organisation"}, // not trusted: the owner only
		{unknownMarking, "organisation"},                          // unknown: the owner only
	}
	kinds := []func(id, owner, markings string) string{
		func(id, owner, m string) string {
			return sdoJSON("indicator", id, owner, m, `"name":"x","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`)
		},
		func(id, owner, m string) string {
			return sdoJSON("malware", id, owner, m, `"name":"m","is_family":false`)
		},
		func(id, owner, m string) string {
			return sdoJSON("relationship", id, owner, m, `"relationship_type":"indicates","source_ref":"`+hiddenTarget+`","target_ref":"malware--0c100000-0000-4000-8000-000000000001"`)
		},
		func(id, owner, m string) string {
			return sdoJSON("sighting", id, owner, m, `"sighting_of_ref":"`+hiddenTarget+`","count":2`)
		},
		func(id, owner, m string) string {
			return sdoJSON("report", id, owner, m, `"name":"r","published":"2024-01-01T00:00:00Z","object_refs":["`+hiddenTarget+`"]`)
		},
	}
	var objs []matrixObject
	n := 0
	add := func(id, raw, owner, tlpWord, distWord string) {
		objs = append(objs, matrixObject{id: id, raw: raw, owner: owner, tlpWord: tlpWord, distWord: distWord})
	}
	for _, owner := range []string{mOrgA, mOrgB, mOrgR1, mOrgR2, ""} {
		for _, tl := range tlps {
			for _, d := range dists {
				dw := d.word
				if dw == "" {
					dw = o.DefaultDist[tl.word]
				}
				for k, kind := range kinds {
					n++
					typ := []string{"indicator", "malware", "relationship", "sighting", "report"}[k]
					id := fmt.Sprintf("%s--e1000000-0000-4000-8000-%012d", typ, n)
					add(id, kind(id, owner, quoteAll(tl.id, d.id)), owner, tl.word, dw)
				}
				if owner == "" { // SCOs have no creator
					n++
					id := fmt.Sprintf("ipv4-addr--e1000000-0000-4000-8000-%012d", n)
					raw := `{"type":"ipv4-addr","spec_version":"2.1","id":"` + id + `","value":"198.51.100.` + fmt.Sprint(n%250) + `"`
					if m := quoteAll(tl.id, d.id); m != "" {
						raw += `,"object_marking_refs":[` + m + `]`
					}
					add(id, raw+"}", "", tl.word, dw)
				}
			}
		}
	}
	add(hiddenTarget, kinds[0](hiddenTarget, mOrgR2, ""), mOrgR2, "AMBER", o.DefaultDist["AMBER"])
	raws := make([]string, len(objs))
	for i, ob := range objs {
		raws[i] = ob.raw
	}
	f.importRaw(coll.ID, "["+strings.Join(raws, ",\n")+"]")

	type viewer struct {
		name string
		role store.Role
		org  string
	}
	viewers := []viewer{
		{"a-admin", store.RoleAdmin, mOrgA}, {"a-orgadmin", store.RoleOrgAdmin, mOrgA}, {"a-analyst", store.RoleAnalyst, mOrgA},
		{"a-reader", store.RoleReader, mOrgA}, {"b-analyst", store.RoleAnalyst, mOrgB}, {"b-reader", store.RoleReader, mOrgB},
		{"c-analyst", store.RoleAnalyst, mOrgC}, {"r1-peer", store.RolePeer, mOrgR1}, {"r2-peer", store.RolePeer, mOrgR2},
	}
	for _, v := range viewers {
		f.addUser(store.User{ID: "u-" + v.name, Name: v.name, OrgID: v.org, Role: v.role})
	}
	f.start(nil)

	expect := func(v viewer, ob matrixObject, action string) bool {
		t.Helper()
		allowed, err := o.Decide(policytest.Scenario{Role: string(v.role), ViewerLocal: localOrgs[v.org], SameOrg: ob.owner == v.org,
			Owned: ob.owner != "", OwnerLocal: localOrgs[ob.owner], TLP: ob.tlpWord, Dist: ob.distWord,
			InGroup: groupRecipients[v.org], Action: action})
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		return allowed
	}
	cases, mismatches := 0, 0
	check := func(path string, v viewer, ob matrixObject, got, want bool) {
		cases++
		if got != want {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("%s, %s (%s), %s owned by %q, TLP %s, distribution %s: got %v, want %v", path, v.name, v.role,
					ob.id, ob.owner, ob.tlpWord, ob.distWord, got, want)
			}
		}
	}
	base := root + "collections/matrix/"
	reads := map[string]map[string]bool{} // viewer → objects it reads, per the oracle
	for _, v := range viewers {
		want := map[string]bool{}
		for _, ob := range objs {
			want[ob.id] = expect(v, ob, "read")
		}
		reads[v.name] = want
		for _, list := range []string{"objects", "manifest"} {
			seen := map[string]bool{}
			for _, id := range pageIDs(t, f, base+list+"/", v.name) {
				if seen[id] {
					t.Errorf("%s: %s listed twice for %s", list, id, v.name)
				}
				seen[id] = true
			}
			for _, ob := range objs {
				check(list, v, ob, seen[ob.id], want[ob.id])
			}
		}
		// The per-object endpoints take a request each: a fifth of the objects, a fiftieth under the
		// race detector.
		sample := 5
		if raceEnabled {
			sample = 50
		}
		for i, ob := range objs {
			if i%sample != 0 {
				continue
			}
			check("object", v, ob, f.serve("GET", base+"objects/"+ob.id+"/", v.name, "") == http.StatusOK, want[ob.id])
			check("versions", v, ob, f.serve("GET", base+"objects/"+ob.id+"/versions/", v.name, "") == http.StatusOK, want[ob.id])
		}
	}
	// Writes: each viewer offers a new version of every object, naming its creator as stored.
	for vi, v := range viewers {
		var env []string
		for _, ob := range objs {
			env = append(env, newVersion(ob.raw, vi))
		}
		rec := f.record("POST", base+"objects/", v.name, `{"objects":[`+strings.Join(env, ",")+`]}`)
		succeeded := map[string]bool{}
		switch rec.Code {
		case http.StatusAccepted:
			var st struct{ Successes []struct{ ID string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			for _, s := range st.Successes {
				succeeded[s.ID] = true
			}
		case http.StatusForbidden: // the collection refuses the viewer's writes: nothing succeeds
		default:
			t.Fatalf("POST as %s: %d %s", v.name, rec.Code, rec.Body)
		}
		for _, ob := range objs {
			check("write", v, ob, succeeded[ob.id], expect(v, ob, "write"))
		}
	}
	t.Logf("%d cases, %d objects, %d viewers", cases, len(objs), len(viewers))
	if cases < 10000 {
		t.Errorf("only %d cases", cases)
	}
	if mismatches > 0 {
		t.Errorf("%d mismatches with the oracle", mismatches)
	}
	// The matrix is not vacuous: every viewer reads some objects and not others.
	for name, want := range reads {
		n := 0
		for _, ok := range want {
			if ok {
				n++
			}
		}
		if n == 0 || n == len(want) {
			t.Errorf("%s reads %d of %d objects", name, n, len(want))
		}
	}
}

// sdoJSON builds an object of a type with common properties.
func sdoJSON(typ, id, owner, markings, extra string) string {
	s := `{"type":"` + typ + `","spec_version":"2.1","id":"` + id + `","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"`
	if owner != "" {
		s += `,"created_by_ref":"` + owner + `"`
	}
	if markings != "" {
		s += `,"object_marking_refs":[` + markings + `]`
	}
	return s + "," + extra + "}"
}

func quoteAll(ids ...string) string {
	var q []string
	for _, id := range ids {
		if id != "" {
			q = append(q, `"`+id+`"`)
		}
	}
	return strings.Join(q, ",")
}

// newVersion makes a later version of an object (an SCO, which has no versions, with other content).
func newVersion(raw string, n int) string {
	if strings.Contains(raw, `"modified":"2024-01-01T00:00:00.000Z"`) {
		return strings.Replace(raw, `"modified":"2024-01-01T00:00:00.000Z"`, fmt.Sprintf(`"modified":"2024-02-%02dT00:00:00.000Z"`, n+1), 1)
	}
	return strings.Replace(raw, `"value":"198.51.100.`, `"value":"203.0.113.`, 1)
}

// pageIDs lists every id a listing returns to a user, paging with next.
func pageIDs(t *testing.T, f *fixture, path, user string) []string {
	t.Helper()
	var out []string
	next := ""
	for range 1000 {
		p := path + "?limit=1000"
		if next != "" {
			p += "&next=" + next
		}
		rec := f.record("GET", p, user, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %s", p, user, rec.Code, rec.Body)
		}
		var env struct {
			More    bool   `json:"more"`
			Next    string `json:"next"`
			Objects []struct {
				ID string `json:"id"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		for _, o := range env.Objects {
			out = append(out, o.ID)
		}
		if !env.More {
			return out
		}
		next = env.Next
	}
	t.Fatal("paging does not end")
	return nil
}

// record sends a request through the node's handler in process, as a user, and records the answer.
func (f *fixture) record(method, path, user, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequestWithContext(f.t.Context(), method, path, strings.NewReader(body))
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if body != "" {
		req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	}
	req.SetBasicAuth(user, f.tokens[user])
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) serve(method, path, user, body string) int {
	return f.record(method, path, user, body).Code
}
