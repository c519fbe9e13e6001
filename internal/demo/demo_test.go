package demo

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/testdata"
)

// tlp2 are the TLP 2.0 marking definitions the demo refers to; a node holds them from init on.
var tlp2 = []string{stix.TLP2Clear, stix.TLP2Green, stix.TLP2Amber, stix.TLP2AmberStrict, stix.TLP2Red}

// objects splits the embedded bundle into its objects' raw bytes.
func objects(t *testing.T) [][]byte {
	t.Helper()
	var b struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatalf("bundle.json: %v", err)
	}
	if b.Type != "bundle" || !strings.HasPrefix(b.ID, "bundle--") {
		t.Fatalf("bundle.json is not a bundle: type %q id %q", b.Type, b.ID)
	}
	out := make([][]byte, len(b.Objects))
	for i, o := range b.Objects {
		out[i] = []byte(o)
	}
	return out
}

// props decodes one object into a map.
func props(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEveryObjectDecodes(t *testing.T) {
	objs := objects(t)
	if n := len(objs); n < 40 || n > 80 {
		t.Errorf("the demo holds %d objects, want 40 to 80", n)
	}
	types := map[string]int{}
	for i, raw := range objs {
		o, err := stix.Decode(raw)
		if err != nil {
			t.Errorf("object %d: %v", i, err)
			continue
		}
		types[o.Type]++
	}
	for _, want := range []string{"identity", "intrusion-set", "campaign", "malware", "indicator", "attack-pattern",
		"relationship", "report", "sighting", "threat-actor", "infrastructure", "ipv4-addr", "domain-name", "file"} {
		if types[want] == 0 {
			t.Errorf("the demo has no %s", want)
		}
	}
}

func TestReferencesResolve(t *testing.T) {
	ids := map[string]string{} // id → type
	objs := objects(t)
	for _, raw := range objs {
		m := props(t, raw)
		ids[m["id"].(string)] = m["type"].(string)
	}
	for _, id := range tlp2 {
		ids[id] = "marking-definition"
	}
	for _, raw := range objs {
		m := props(t, raw)
		for k, v := range m {
			var refs []string
			switch {
			case strings.HasSuffix(k, "_ref"):
				refs = []string{v.(string)}
			case strings.HasSuffix(k, "_refs"):
				for _, r := range v.([]any) {
					refs = append(refs, r.(string))
				}
			default:
				continue
			}
			for _, r := range refs {
				if _, ok := ids[r]; !ok {
					t.Errorf("%s.%s: %s is neither in the demo nor a TLP 2.0 marking", m["id"], k, r)
				}
			}
		}
		if by, ok := m["created_by_ref"].(string); ok && ids[by] != "identity" {
			t.Errorf("%s: created_by_ref %s is not an identity", m["id"], by)
		}
		if marks, ok := m["object_marking_refs"].([]any); ok {
			for _, mk := range marks {
				if !slices.Contains(tlp2, mk.(string)) {
					t.Errorf("%s: marking %s is not TLP 2.0", m["id"], mk)
				}
			}
		}
	}
}

func TestOrganisationsAreInTheBundle(t *testing.T) {
	byID := map[string]map[string]any{}
	for _, raw := range objects(t) {
		m := props(t, raw)
		byID[m["id"].(string)] = m
	}
	orgs := Organisations()
	if orgs[0] != Owner {
		t.Errorf("Organisations()[0] = %v, want Owner", orgs[0])
	}
	for _, o := range orgs {
		m, ok := byID[o.ID]
		if !ok {
			t.Errorf("%s (%s) is not in the bundle", o.Name, o.ID)
			continue
		}
		if m["type"] != "identity" || m["name"] != o.Name || m["identity_class"] != "organization" {
			t.Errorf("%s: %v", o.ID, m)
		}
	}
}

// The demo must never match real traffic: every address is in a documentation range and every
// host name ends in .example.
func TestOnlyDocumentationAddresses(t *testing.T) {
	docs := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
	}
	inDocs := func(a netip.Addr) bool {
		return slices.ContainsFunc(docs, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	ipRE := regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(/\d+)?\b`)
	checked := 0
	for _, m := range ipRE.FindAllString(string(bundle), -1) {
		checked++
		if p, err := netip.ParsePrefix(m); err == nil {
			if !inDocs(p.Addr()) || p.Bits() < 24 {
				t.Errorf("%s is not inside a documentation range", m)
			}
			continue
		}
		a, err := netip.ParseAddr(m)
		if err != nil || !inDocs(a) {
			t.Errorf("%s is not a documentation address", m)
		}
	}
	if checked < 5 {
		t.Errorf("found only %d addresses: is the check looking at the right text?", checked)
	}
	hostRE := regexp.MustCompile(`(?i)(?:https?://|@|'|")((?:[a-z0-9-]+\.)+[a-z]{2,})\b`)
	hosts := 0
	for _, m := range hostRE.FindAllStringSubmatch(string(bundle), -1) {
		h := strings.ToLower(m[1])
		if strings.HasPrefix(h, "attack.mitre.org") || strings.HasSuffix(h, ".exe") {
			continue // references to public documentation; file names
		}
		hosts++
		if !strings.HasSuffix(h, ".example") {
			t.Errorf("host %s does not end in .example", h)
		}
	}
	if hosts < 3 {
		t.Errorf("found only %d host names", hosts)
	}
}

// SCO ids are the UUIDv5 of their id-contributing properties, as STIX 2.1 §2.9 asks.
func TestSCOIDsAreDeterministic(t *testing.T) {
	ns := uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")
	contributing := map[string][]string{
		"ipv4-addr":   {"value"},
		"domain-name": {"value"},
		"file":        {"hashes", "name"},
	}
	n := 0
	for _, raw := range objects(t) {
		m := props(t, raw)
		keys, ok := contributing[m["type"].(string)]
		if !ok {
			continue
		}
		n++
		c := map[string]any{}
		for _, k := range keys {
			if v, ok := m[k]; ok {
				c[k] = v
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		v := jsontext.Value(b)
		if err := v.Canonicalize(); err != nil {
			t.Fatal(err)
		}
		want := m["type"].(string) + "--" + uuid.NewSHA1(ns, v).String()
		if m["id"] != want {
			t.Errorf("%s: id should be %s", m["id"], want)
		}
	}
	if n < 5 {
		t.Errorf("checked %d SCOs, want at least 5", n)
	}
}

// TestSchemas validates every demo object against the OASIS STIX 2.1 JSON schemas, when the shared
// test data is present.
func TestSchemas(t *testing.T) {
	dir := testdata.Path(t, "stix-schemas", "schemas")
	const base = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"
	c := jsonschema.NewCompiler()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		f, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(f))
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return c.AddResource(base+filepath.ToSlash(rel), doc)
	})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*jsonschema.Schema{}
	for _, raw := range objects(t) {
		m := props(t, raw)
		typ := m["type"].(string)
		sch, ok := schemas[typ]
		if !ok {
			for _, sub := range []string{"sdos", "sros", "observables", "common"} {
				if _, err := os.Stat(filepath.Join(dir, sub, typ+".json")); err == nil {
					if sch, err = c.Compile(base + sub + "/" + typ + ".json"); err != nil {
						t.Fatalf("schema for %s: %v", typ, err)
					}
					break
				}
			}
			if sch == nil {
				t.Fatalf("no schema for %s", typ)
			}
			schemas[typ] = sch
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", m["id"], err)
		}
	}
}
