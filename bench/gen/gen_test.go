package gen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/stix"
)

// generated is a bundle decoded for inspection.
type generated struct {
	raw  [][]byte
	objs []map[string]any
	size int
}

func generate(t *testing.T, n int, seed int64) generated {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, n, seed); err != nil {
		t.Fatalf("Write: %v", err)
	}
	var g generated
	g.size = buf.Len()
	err := Each(&buf, func(raw []byte) error {
		g.raw = append(g.raw, bytes.Clone(raw))
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("object %d: %w", len(g.objs), err)
		}
		g.objs = append(g.objs, m)
		return nil
	})
	if err != nil {
		t.Fatalf("Each: %v", err)
	}
	if len(g.objs) != n {
		t.Fatalf("bundle holds %d objects, want %d", len(g.objs), n)
	}
	return g
}

func TestDecodesWithoutRejections(t *testing.T) {
	g := generate(t, 2000, 42)
	for i, raw := range g.raw {
		obj, err := stix.Decode(raw)
		if err != nil {
			t.Errorf("object %d rejected: %v\n%s", i, err, raw)
			continue
		}
		if obj.SpecVersion != stix.SpecVersion21 {
			t.Errorf("object %d (%s): spec version %q, want 2.1", i, obj.ID, obj.SpecVersion)
		}
		if got := g.objs[i]["id"]; obj.ID != got {
			t.Errorf("object %d: decoded id %q, text has %v", i, obj.ID, got)
		}
	}
}

func TestTypeMix(t *testing.T) {
	const n = 2000
	g := generate(t, n, 7)
	opening := len(New(7).opening)
	counts := map[Category]int{}
	types := map[string]int{}
	for i, o := range g.objs {
		typ, _ := o["type"].(string)
		types[typ]++
		c, ok := CategoryOf(typ)
		if !ok {
			t.Fatalf("object %d has unexpected type %q", i, typ)
		}
		if i >= opening {
			counts[c]++
		}
	}
	rest := float64(n - opening)
	sum := 0.0
	for c := CatIndicator; c <= CatIdentity; c++ {
		sum += Share(c)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("shares add up to %v", sum)
	}
	for c := CatIndicator; c <= CatIdentity; c++ {
		p := Share(c)
		got := float64(counts[c]) / rest
		// Four standard deviations of a binomial share: wide enough for any seed, narrow enough to
		// catch a wrong weight.
		tol := 4 * math.Sqrt(p*(1-p)/rest)
		if math.Abs(got-p) > tol {
			t.Errorf("category %d: share %.3f, want %.3f ± %.3f", c, got, p, tol)
		}
	}
	for _, typ := range []string{"ipv4-addr", "domain-name", "url", "file", "email-addr", "malware", "intrusion-set",
		"campaign", "attack-pattern", "threat-actor", "report", "sighting", "identity", "relationship", "indicator"} {
		if types[typ] == 0 {
			t.Errorf("no object of type %s among %d", typ, n)
		}
	}
	if avg := g.size / n; avg < 500 || avg > 800 {
		t.Errorf("average object size %d bytes, want 500–800", avg)
	}
}

func TestDeterministic(t *testing.T) {
	write := func(n int, seed int64) []byte {
		var b bytes.Buffer
		if err := Write(&b, n, seed); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := write(500, 3), write(500, 3)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different bundles")
	}
	if c := write(500, 4); bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same bundle")
	}
	// A shorter bundle is a prefix of a longer one with the same seed (up to the closing bracket).
	short, long := write(200, 3), write(500, 3)
	body := bytes.TrimSuffix(short, []byte("\n]}\n"))
	if !bytes.HasPrefix(long, body) {
		t.Fatal("the first 200 objects differ between bundles of 200 and 500 objects")
	}
}

// scoID computes a deterministic id independently of DeterministicID: encoding/json sorts map keys,
// which for these ASCII-only properties is the RFC 8785 form.
func scoID(t *testing.T, typ string, props map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(props); err != nil {
		t.Fatal(err)
	}
	return typ + "--" + uuid.NewSHA1(uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7"), bytes.TrimSpace(b.Bytes())).String()
}

// The generator takes its observable ids from stix.DeterministicID; this pins that function to
// values computed independently, with Python's uuid.uuid5 over the canonical JSON text.
func TestDeterministicIDKnownAnswers(t *testing.T) {
	tests := []struct {
		typ, contributing, want string
	}{
		{"ipv4-addr", `{"value":"198.51.100.3"}`, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
		{"ipv4-addr", `{ "value" : "100.64.0.0" }`, "ipv4-addr--fe43be6a-1524-5b7c-b9ec-16295c1732e5"},
		{"file", `{"name":"loader_0.ps1","hashes":{"SHA-256":"dc917db4aa3846fbe0944b2a881b485079ac4d0b318183eee4f453c5d8ab69e0"}}`,
			"file--7c26050d-2810-55b2-940e-6dd6c4f73adf"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := stix.DeterministicID(tt.typ, []byte(tt.contributing))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DeterministicID(%s, %s) = %s, want %s", tt.typ, tt.contributing, got, tt.want)
			}
		})
	}
	if _, err := stix.DeterministicID("ipv4-addr", []byte(`{"value":`)); err == nil {
		t.Error("DeterministicID accepted truncated JSON")
	}
}

func TestObservableIDs(t *testing.T) {
	g := generate(t, 2000, 11)
	checked := 0
	for i, o := range g.objs {
		typ := o["type"].(string)
		var props map[string]any
		switch typ {
		case "ipv4-addr", "domain-name", "url", "email-addr":
			props = map[string]any{"value": o["value"]}
		case "file":
			hashes := o["hashes"].(map[string]any)
			one := map[string]any{}
			if md5, ok := hashes["MD5"]; ok {
				one["MD5"] = md5
			} else {
				one["SHA-256"] = hashes["SHA-256"]
			}
			props = map[string]any{"hashes": one, "name": o["name"]}
		default:
			continue
		}
		if want := scoID(t, typ, props); o["id"] != want {
			t.Errorf("object %d: id %v, want %s", i, o["id"], want)
		}
		checked++
	}
	if checked < 300 {
		t.Fatalf("only %d observables checked", checked)
	}
}

// indicates lists what an indicator may indicate.
var indicates = []string{"malware", "intrusion-set", "campaign", "threat-actor", "attack-pattern"}

var relationshipRules = map[string]map[string][]string{ // relationship_type → source type → target types
	"indicates":     {"indicator": indicates},
	"uses":          {"intrusion-set": {"attack-pattern", "malware"}, "threat-actor": {"attack-pattern", "malware"}, "campaign": {"attack-pattern", "malware"}, "malware": {"attack-pattern", "malware"}},
	"targets":       {"intrusion-set": {"identity"}, "threat-actor": {"identity"}, "campaign": {"identity"}, "malware": {"identity"}},
	"attributed-to": {"campaign": {"intrusion-set", "threat-actor"}, "intrusion-set": {"threat-actor"}},
	"related-to":    {"indicator": {"ipv4-addr", "domain-name", "url", "file", "email-addr"}},
}

func TestReferences(t *testing.T) {
	g := generate(t, 2000, 5)
	seen := map[string]string{} // id → type, of the objects before the current one
	typeOf := func(ref any) string {
		s, _ := ref.(string)
		typ, _, _ := strings.Cut(s, "--")
		return typ
	}
	tlp := map[string]bool{stix.TLP2Clear: true, stix.TLP2Green: true, stix.TLP2Amber: true, stix.TLP2AmberStrict: true, stix.TLP2Red: true}
	for i, o := range g.objs {
		id := o["id"].(string)
		typ := o["type"].(string)
		if _, dup := seen[id]; dup {
			t.Errorf("object %d: id %s appears twice", i, id)
		}
		earlier := func(prop string, ref any, want ...string) {
			s, _ := ref.(string)
			if _, ok := seen[s]; !ok {
				t.Errorf("object %d (%s): %s %v is not an earlier object", i, id, prop, ref)
			}
			for _, w := range want {
				if typeOf(s) == w {
					return
				}
			}
			t.Errorf("object %d (%s): %s %v should be one of %v", i, id, prop, ref, want)
		}
		if ref, ok := o["created_by_ref"]; ok {
			earlier("created_by_ref", ref, "identity")
		}
		if refs, ok := o["object_marking_refs"].([]any); ok {
			for _, r := range refs {
				if !tlp[r.(string)] {
					t.Errorf("object %d (%s): marking %v is not a TLP 2.0 marking", i, id, r)
				}
			}
		}
		switch typ {
		case "relationship":
			rt := o["relationship_type"].(string)
			src := typeOf(o["source_ref"])
			allowed, ok := relationshipRules[rt][src]
			if !ok {
				t.Errorf("object %d: unexpected relationship %s %s …", i, src, rt)
				break
			}
			earlier("source_ref", o["source_ref"], src)
			earlier("target_ref", o["target_ref"], allowed...)
		case "sighting":
			earlier("sighting_of_ref", o["sighting_of_ref"], "indicator", "malware")
			for _, r := range o["where_sighted_refs"].([]any) {
				earlier("where_sighted_refs", r, "identity")
			}
		case "report":
			refs := o["object_refs"].([]any)
			if len(refs) < 10 || len(refs) > 50 {
				t.Errorf("object %d: report with %d object_refs, want 10–50", i, len(refs))
			}
			uniq := map[any]bool{}
			for _, r := range refs {
				s := r.(string)
				earlier("object_refs", r, typeOf(s))
				if uniq[s] {
					t.Errorf("object %d: %s listed twice in object_refs", i, s)
				}
				uniq[s] = true
			}
		case "indicator":
			if o["pattern_type"] != "stix" || !strings.HasPrefix(o["pattern"].(string), "[") {
				t.Errorf("object %d: pattern %v of type %v", i, o["pattern"], o["pattern_type"])
			}
			if vf, vu := o["valid_from"].(string), o["valid_until"]; vu != nil && vu.(string) <= vf {
				t.Errorf("object %d: valid_until %v is not after valid_from %s", i, vu, vf)
			}
		}
		seen[id] = typ
	}
}

func TestWriteErrors(t *testing.T) {
	if err := Write(io.Discard, -1, 1); err == nil {
		t.Error("Write accepted a negative count")
	}
	boom := errors.New("disk full")
	if err := Write(failWriter{boom}, 1000, 1); !errors.Is(err, boom) {
		t.Errorf("Write on a failing writer: %v, want %v", err, boom)
	}
	tests := map[string]string{
		"not an object":     `[1,2]`,
		"objects not array": `{"type":"bundle","objects":{}}`,
		"truncated":         `{"type":"bundle","objects":[{"type":"x"}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if err := Each(strings.NewReader(in), func([]byte) error { return nil }); err == nil {
				t.Errorf("Each accepted %s", in)
			}
		})
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func BenchmarkWrite(b *testing.B) {
	var cw countWriter
	for b.Loop() {
		if err := Write(&cw, 10000, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(cw.n / int64(b.N))
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
