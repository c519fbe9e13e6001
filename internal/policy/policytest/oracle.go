// Package policytest holds the oracle of renkei's sharing policy: the decision as docs/POLICY.md
// states it, read from the page's tables at test time, for the tests of every path that applies the
// policy (internal/policy, internal/taxii).
// Nothing here is shared with the implementation: the relation is derived again from the page's
// definitions, and the answers come from the parsed tables.
package policytest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// docPath is the policy page, found from this file's location so any package's test can load it.
var docPath = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "POLICY.md")
}()

// table is one machine-read table of docs/POLICY.md: the header and the data rows, cells trimmed.
type table struct {
	name   string
	header []string
	rows   [][]string
}

// readTables returns every table that follows a <!-- policy:NAME --> marker.
func readTables(t testing.TB) map[string]table {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(docPath))
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
				t.Fatalf("%s:%d: table %q is marked twice", docPath, line, m[1])
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
				t.Fatalf("%s:%d: table %q: row has %d cells, header has %d", docPath, line, cur.name, len(cells), len(cur.header))
			}
			cur.rows = append(cur.rows, cells)
		}
	}
	if cur != nil && cur.header != nil {
		tables[cur.name] = *cur
	}
	return tables
}

// Oracle holds the parsed tables, keyed by the words the page uses.
type Oracle struct {
	TLPOf       map[string]string    // marking definition id → TLP word
	DefaultDist map[string]string    // TLP word → distribution word
	Actions     map[[2]string]string // (role, action) → "read rules" | "owner" | "deny"
	ReadTable   map[[3]string]string // (TLP, distribution, relation) → "allow" | "deny" | "n/a"
	Admin       map[[2]string]string // (action, role) → "allow" | "deny" | "own org"
	Roles       map[[2]string]string // (role given, role) → "allow" | "deny" | "own org"
}

var (
	DocTLPs      = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
	DocDists     = []string{"organisation", "sharing group", "community", "federation", "all"}
	DocRels      = []string{"same-org", "same-group", "same-node", "federated", "none"}
	DocRoles     = []string{"admin", "org-admin", "analyst", "reader", "peer"}
	DocActions   = []string{"read", "write", "revoke", "share"}
	DocAdminActs = []string{"manage-node", "manage-users", "manage-groups", "read-audit"}
)

func Load(t testing.TB) *Oracle {
	t.Helper()
	tables := readTables(t)
	get := func(name string, header ...string) table {
		tb, ok := tables[name]
		if !ok {
			t.Fatalf("%s: no table marked policy:%s", docPath, name)
		}
		if strings.Join(tb.header, "|") != strings.Join(header, "|") {
			t.Fatalf("%s: table %s has columns %q, want %q", docPath, name, tb.header, header)
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
	o := &Oracle{
		TLPOf: map[string]string{}, DefaultDist: map[string]string{}, Actions: map[[2]string]string{},
		ReadTable: map[[3]string]string{}, Admin: map[[2]string]string{}, Roles: map[[2]string]string{},
	}

	idRE := regexp.MustCompile("`(marking-definition--[0-9a-f-]{36})`")
	for _, r := range get("tlp", "marking definition", "level").rows {
		m := idRE.FindStringSubmatch(r[0])
		if m == nil || !in(r[1], DocTLPs...) {
			t.Fatalf("table tlp: bad row %q", r)
		}
		o.TLPOf[m[1]] = r[1]
	}
	if len(o.TLPOf) != 9 {
		t.Fatalf("table tlp: %d marking definitions, want 9", len(o.TLPOf))
	}

	for _, r := range get("default-distribution", "TLP", "distribution when unmarked").rows {
		if !in(r[0], DocTLPs...) || !in(r[1], DocDists...) || r[1] == "sharing group" {
			t.Fatalf("table default-distribution: bad row %q", r)
		}
		o.DefaultDist[r[0]] = r[1]
	}

	for _, r := range get("actions", append([]string{"role"}, DocActions...)...).rows {
		if !in(r[0], DocRoles...) {
			t.Fatalf("table actions: unknown role %q", r[0])
		}
		for i, a := range DocActions {
			if !in(r[i+1], "read rules", "owner", "deny") {
				t.Fatalf("table actions: role %s, action %s: unknown cell %q", r[0], a, r[i+1])
			}
			o.Actions[[2]string{r[0], a}] = r[i+1]
		}
	}

	for _, r := range get("read", append([]string{"TLP", "distribution"}, DocRels...)...).rows {
		if !in(r[0], DocTLPs...) || !in(r[1], DocDists...) {
			t.Fatalf("table read: bad row %q", r)
		}
		for i, rel := range DocRels {
			if !in(r[i+2], "allow", "deny", "n/a") {
				t.Fatalf("table read: %s/%s/%s: unknown cell %q", r[0], r[1], rel, r[i+2])
			}
			k := [3]string{r[0], r[1], rel}
			if _, dup := o.ReadTable[k]; dup {
				t.Fatalf("table read: %s/%s listed twice", r[0], r[1])
			}
			o.ReadTable[k] = r[i+2]
		}
	}

	for _, r := range get("admin", append([]string{"action"}, DocRoles...)...).rows {
		if !in(r[0], DocAdminActs...) {
			t.Fatalf("table admin: unknown action %q", r[0])
		}
		for i, role := range DocRoles {
			if !in(r[i+1], "allow", "deny", "own org") {
				t.Fatalf("table admin: %s/%s: unknown cell %q", r[0], role, r[i+1])
			}
			o.Admin[[2]string{r[0], role}] = r[i+1]
		}
	}
	for _, r := range get("roles", append([]string{"role given"}, DocRoles...)...).rows {
		if !in(r[0], DocRoles...) {
			t.Fatalf("table roles: unknown role %q", r[0])
		}
		for i, role := range DocRoles {
			if !in(r[i+1], "allow", "deny", "own org") {
				t.Fatalf("table roles: %s/%s: unknown cell %q", r[0], role, r[i+1])
			}
			o.Roles[[2]string{r[0], role}] = r[i+1]
		}
	}

	// Every combination must be given exactly once.
	for _, tl := range DocTLPs {
		if _, ok := o.DefaultDist[tl]; !ok {
			t.Fatalf("table default-distribution: no row for %s", tl)
		}
		for _, d := range DocDists {
			if _, ok := o.ReadTable[[3]string{tl, d, "same-org"}]; !ok {
				t.Fatalf("table read: no row for %s/%s", tl, d)
			}
		}
	}
	if len(o.ReadTable) != len(DocTLPs)*len(DocDists)*len(DocRels) {
		t.Fatalf("table read: %d cells, want %d", len(o.ReadTable), len(DocTLPs)*len(DocDists)*len(DocRels))
	}
	if len(o.Actions) != len(DocRoles)*len(DocActions) || len(o.Admin) != len(DocAdminActs)*len(DocRoles) ||
		len(o.Roles) != len(DocRoles)*len(DocRoles) {
		t.Fatalf("tables actions/admin/roles are incomplete: %d, %d, %d cells", len(o.Actions), len(o.Admin), len(o.Roles))
	}
	return o
}

// Scenario is one case as the page describes it, in the page's words.
type Scenario struct {
	Role        string
	ViewerLocal bool   // as the caller says; the page says a peer is never local
	SameOrg     bool   // the viewer's organisation is the owner
	Owned       bool   // the object has an owner
	OwnerLocal  bool   // the owner is hosted on this node
	TLP         string // effective TLP word
	Dist        string // effective distribution word
	InGroup     bool   // the viewer is a recipient of the object's sharing group (if it has one)
	Action      string
}

// Relation derives the relation from the page's definitions, first match wins.
func (s Scenario) Relation() string {
	viewerLocal := s.ViewerLocal && s.Role != "peer"
	ownerLocal := s.Owned && s.OwnerLocal
	switch {
	case s.Owned && s.SameOrg:
		return "same-org"
	case s.Dist == "sharing group" && s.InGroup:
		return "same-group"
	case viewerLocal && ownerLocal:
		return "same-node"
	case viewerLocal != ownerLocal:
		return "federated"
	}
	return "none"
}

// Decide answers the Scenario from the tables.
func (o *Oracle) Decide(s Scenario) (bool, error) {
	rel := s.Relation()
	rule, ok := o.Actions[[2]string{s.Role, s.Action}]
	if !ok {
		return false, fmt.Errorf("no action rule for %s/%s", s.Role, s.Action)
	}
	switch rule {
	case "deny":
		return false, nil
	case "owner":
		return rel == "same-org", nil
	}
	cell, ok := o.ReadTable[[3]string{s.TLP, s.Dist, rel}]
	if !ok {
		return false, fmt.Errorf("no read cell for %s/%s/%s", s.TLP, s.Dist, rel)
	}
	if cell == "n/a" {
		return false, fmt.Errorf("read cell %s/%s/%s is n/a, yet the case arose", s.TLP, s.Dist, rel)
	}
	return cell == "allow", nil
}
