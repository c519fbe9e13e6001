package policy

// The oracle: the decision as docs/POLICY.md states it, read from the page's tables at test time.
// Nothing here is shared with the implementation: the relation is derived again from the page's
// definitions, and the answers come from the parsed tables.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const policyDoc = "../../docs/POLICY.md"

// table is one machine-read table of docs/POLICY.md: the header and the data rows, cells trimmed.
type table struct {
	name   string
	header []string
	rows   [][]string
}

// readTables returns every table that follows a <!-- policy:NAME --> marker.
func readTables(t *testing.T) map[string]table {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(policyDoc))
	if err != nil {
		t.Fatalf("read the policy page: %v", err)
	}
	marker := regexp.MustCompile(`^<!-- policy:([a-z-]+) -->$`)
	tables := map[string]table{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var cur *table
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if m := marker.FindStringSubmatch(s); m != nil {
			if _, dup := tables[m[1]]; dup {
				t.Fatalf("%s:%d: table %q is marked twice", policyDoc, line, m[1])
			}
			cur = &table{name: m[1]}
			continue
		}
		if cur == nil {
			continue
		}
		if !strings.HasPrefix(s, "|") {
			if cur.header != nil { // the table ended
				tables[cur.name] = *cur
				cur = nil
			}
			continue
		}
		cells := strings.Split(strings.Trim(s, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cur.header == nil:
			cur.header = cells
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			// the separator row
		default:
			if len(cells) != len(cur.header) {
				t.Fatalf("%s:%d: table %q: row has %d cells, header has %d", policyDoc, line, cur.name, len(cells), len(cur.header))
			}
			cur.rows = append(cur.rows, cells)
		}
	}
	if cur != nil && cur.header != nil {
		tables[cur.name] = *cur
	}
	return tables
}

// oracle holds the parsed tables, keyed by the words the page uses.
type oracle struct {
	tlpOf       map[string]string    // marking definition id → TLP word
	defaultDist map[string]string    // TLP word → distribution word
	actions     map[[2]string]string // (role, action) → "read rules" | "owner" | "deny"
	read        map[[3]string]string // (TLP, distribution, relation) → "allow" | "deny" | "n/a"
	admin       map[[2]string]string // (action, role) → "allow" | "deny" | "own org"
	roles       map[[2]string]string // (role given, role) → "allow" | "deny" | "own org"
}

var (
	docTLPs      = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
	docDists     = []string{"organisation", "sharing group", "community", "federation", "all"}
	docRels      = []string{"same-org", "same-group", "same-node", "federated", "none"}
	docRoles     = []string{"admin", "org-admin", "analyst", "reader", "peer"}
	docActions   = []string{"read", "write", "revoke", "share"}
	docAdminActs = []string{"manage-node", "manage-users", "manage-groups", "read-audit"}
)

func loadOracle(t *testing.T) *oracle {
	t.Helper()
	tables := readTables(t)
	get := func(name string, header ...string) table {
		tb, ok := tables[name]
		if !ok {
			t.Fatalf("%s: no table marked policy:%s", policyDoc, name)
		}
		if strings.Join(tb.header, "|") != strings.Join(header, "|") {
			t.Fatalf("%s: table %s has columns %q, want %q", policyDoc, name, tb.header, header)
		}
		return tb
	}
	in := func(word string, vocab ...string) bool {
		for _, v := range vocab {
			if v == word {
				return true
			}
		}
		return false
	}
	o := &oracle{
		tlpOf: map[string]string{}, defaultDist: map[string]string{}, actions: map[[2]string]string{},
		read: map[[3]string]string{}, admin: map[[2]string]string{}, roles: map[[2]string]string{},
	}

	idRE := regexp.MustCompile("`(marking-definition--[0-9a-f-]{36})`")
	for _, r := range get("tlp", "marking definition", "level").rows {
		m := idRE.FindStringSubmatch(r[0])
		if m == nil || !in(r[1], docTLPs...) {
			t.Fatalf("table tlp: bad row %q", r)
		}
		o.tlpOf[m[1]] = r[1]
	}
	if len(o.tlpOf) != 9 {
		t.Fatalf("table tlp: %d marking definitions, want 9", len(o.tlpOf))
	}

	for _, r := range get("default-distribution", "TLP", "distribution when unmarked").rows {
		if !in(r[0], docTLPs...) || !in(r[1], docDists...) || r[1] == "sharing group" {
			t.Fatalf("table default-distribution: bad row %q", r)
		}
		o.defaultDist[r[0]] = r[1]
	}

	for _, r := range get("actions", append([]string{"role"}, docActions...)...).rows {
		if !in(r[0], docRoles...) {
			t.Fatalf("table actions: unknown role %q", r[0])
		}
		for i, a := range docActions {
			if !in(r[i+1], "read rules", "owner", "deny") {
				t.Fatalf("table actions: role %s, action %s: unknown cell %q", r[0], a, r[i+1])
			}
			o.actions[[2]string{r[0], a}] = r[i+1]
		}
	}

	for _, r := range get("read", append([]string{"TLP", "distribution"}, docRels...)...).rows {
		if !in(r[0], docTLPs...) || !in(r[1], docDists...) {
			t.Fatalf("table read: bad row %q", r)
		}
		for i, rel := range docRels {
			if !in(r[i+2], "allow", "deny", "n/a") {
				t.Fatalf("table read: %s/%s/%s: unknown cell %q", r[0], r[1], rel, r[i+2])
			}
			k := [3]string{r[0], r[1], rel}
			if _, dup := o.read[k]; dup {
				t.Fatalf("table read: %s/%s listed twice", r[0], r[1])
			}
			o.read[k] = r[i+2]
		}
	}

	for _, r := range get("admin", append([]string{"action"}, docRoles...)...).rows {
		if !in(r[0], docAdminActs...) {
			t.Fatalf("table admin: unknown action %q", r[0])
		}
		for i, role := range docRoles {
			if !in(r[i+1], "allow", "deny", "own org") {
				t.Fatalf("table admin: %s/%s: unknown cell %q", r[0], role, r[i+1])
			}
			o.admin[[2]string{r[0], role}] = r[i+1]
		}
	}
	for _, r := range get("roles", append([]string{"role given"}, docRoles...)...).rows {
		if !in(r[0], docRoles...) {
			t.Fatalf("table roles: unknown role %q", r[0])
		}
		for i, role := range docRoles {
			if !in(r[i+1], "allow", "deny", "own org") {
				t.Fatalf("table roles: %s/%s: unknown cell %q", r[0], role, r[i+1])
			}
			o.roles[[2]string{r[0], role}] = r[i+1]
		}
	}

	// Every combination must be given exactly once.
	for _, tl := range docTLPs {
		if _, ok := o.defaultDist[tl]; !ok {
			t.Fatalf("table default-distribution: no row for %s", tl)
		}
		for _, d := range docDists {
			if _, ok := o.read[[3]string{tl, d, "same-org"}]; !ok {
				t.Fatalf("table read: no row for %s/%s", tl, d)
			}
		}
	}
	if len(o.read) != len(docTLPs)*len(docDists)*len(docRels) {
		t.Fatalf("table read: %d cells, want %d", len(o.read), len(docTLPs)*len(docDists)*len(docRels))
	}
	if len(o.actions) != len(docRoles)*len(docActions) || len(o.admin) != len(docAdminActs)*len(docRoles) ||
		len(o.roles) != len(docRoles)*len(docRoles) {
		t.Fatalf("tables actions/admin/roles are incomplete: %d, %d, %d cells", len(o.actions), len(o.admin), len(o.roles))
	}
	return o
}

// scenario is one case as the page describes it, in the page's words.
type scenario struct {
	role        string
	viewerLocal bool   // as the caller says; the page says a peer is never local
	sameOrg     bool   // the viewer's organisation is the owner
	owned       bool   // the object has an owner
	ownerLocal  bool   // the owner is hosted on this node
	tlp         string // effective TLP word
	dist        string // effective distribution word
	inGroup     bool   // the viewer is a recipient of the object's sharing group (if it has one)
	action      string
}

// relation derives the relation from the page's definitions, first match wins.
func (s scenario) relation() string {
	viewerLocal := s.viewerLocal && s.role != "peer"
	ownerLocal := s.owned && s.ownerLocal
	switch {
	case s.owned && s.sameOrg:
		return "same-org"
	case s.dist == "sharing group" && s.inGroup:
		return "same-group"
	case viewerLocal && ownerLocal:
		return "same-node"
	case viewerLocal != ownerLocal:
		return "federated"
	}
	return "none"
}

// decide answers the scenario from the tables.
func (o *oracle) decide(s scenario) (bool, error) {
	rel := s.relation()
	rule, ok := o.actions[[2]string{s.role, s.action}]
	if !ok {
		return false, fmt.Errorf("no action rule for %s/%s", s.role, s.action)
	}
	switch rule {
	case "deny":
		return false, nil
	case "owner":
		return rel == "same-org", nil
	}
	cell, ok := o.read[[3]string{s.tlp, s.dist, rel}]
	if !ok {
		return false, fmt.Errorf("no read cell for %s/%s/%s", s.tlp, s.dist, rel)
	}
	if cell == "n/a" {
		return false, fmt.Errorf("read cell %s/%s/%s is n/a, yet the case arose", s.tlp, s.dist, rel)
	}
	return cell == "allow", nil
}
