package text

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/formats/warninglist"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

const (
	testIdentity = "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	tlpGreen     = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
)

func fixedClock(s string) func() time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return tm }
}

// parsePattern reads the one comparison ToSTIX writes, "[object:path OP 'literal']", and returns its
// parts with the literal unescaped. It rejects an unescaped quote or an unknown escape in the literal.
func parsePattern(p string) (path, op, lit string, err error) {
	if !strings.HasPrefix(p, "[") || !strings.HasSuffix(p, "']") {
		return "", "", "", fmt.Errorf("%q: not [... '...']", p)
	}
	body := p[1 : len(p)-1]
	q := strings.IndexByte(body, ' ')
	path = body[:q]
	rest := body[q+1:]
	op, rest, _ = strings.Cut(rest, " ")
	if strings.HasPrefix(path, "file:hashes.'") { // a quoted path component
		end := strings.Index(body, "' ")
		path = body[:end+1]
		op, rest, _ = strings.Cut(body[end+2:], " ")
	}
	if len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
		return "", "", "", fmt.Errorf("%q: literal not quoted", p)
	}
	var b strings.Builder
	in := rest[1 : len(rest)-1]
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\\':
			if i+1 >= len(in) || in[i+1] != '\\' && in[i+1] != '\'' {
				return "", "", "", fmt.Errorf("%q: bad escape", p)
			}
			i++
			b.WriteByte(in[i])
		case '\'':
			return "", "", "", fmt.Errorf("%q: unescaped quote in literal", p)
		default:
			b.WriteByte(in[i])
		}
	}
	return path, op, b.String(), nil
}

func TestPattern(t *testing.T) {
	tests := []struct {
		kind     Kind
		value    string
		path, op string
	}{
		{KindIPv4, "198.51.100.7", "ipv4-addr:value", "="},
		{KindIPv6, "2001:db8::1", "ipv6-addr:value", "="},
		{KindIPv4CIDR, "198.51.100.0/24", "ipv4-addr:value", "ISSUBSET"},
		{KindIPv6CIDR, "2001:db8::/32", "ipv6-addr:value", "ISSUBSET"},
		{KindDomain, "evil.com", "domain-name:value", "="},
		{KindURL, `http://evil.com/it's\here\'`, "url:value", "="},
		{KindEmail, "o'brien@evil.com", "email-addr:value", "="},
		{KindMD5, strings.Repeat("a", 32), "file:hashes.MD5", "="},
		{KindSHA1, strings.Repeat("b", 40), "file:hashes.'SHA-1'", "="},
		{KindSHA256, strings.Repeat("c", 64), "file:hashes.'SHA-256'", "="},
		{KindSHA512, strings.Repeat("d", 128), "file:hashes.'SHA-512'", "="},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			p, err := Pattern(tt.kind, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pattern.Compile(p); err != nil {
				t.Errorf("%s does not compile: %v", p, err)
			}
			path, op, lit, err := parsePattern(p)
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.path || op != tt.op || lit != tt.value {
				t.Errorf("pattern %s reads as %s %s %q, want %s %s %q", p, path, op, lit, tt.path, tt.op, tt.value)
			}
		})
	}
	for _, k := range []Kind{KindCVE, KindATTACK, "x"} {
		if _, err := Pattern(k, "v"); err == nil {
			t.Errorf("Pattern(%s) succeeded", k)
		}
	}
}

const stixReport = `# Operation Quiet Harbour
Phish from billing[@]harbour-invoices[.]com linking to hxxps://harbour-invoices[.]com/pay?id=1'2
C2 198.51.100.7 and 2001:db8::7, range 203.0.113.0/24; DNS via 8.8.8.8.
Payload 44d88612fea8a8f36de82e1278abb02f / 3395856ce81f2b7382dee72602f798b642f14140 /
275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f.
Exploits CVE-2023-4966 and CVE-2021-44228, then T1059.001 and T1071.
Dropped setup.exe.
`

func TestToSTIX(t *testing.T) {
	ex := extract(t, stixReport)
	flags := warninglist.NewSet(&warninglist.List{Name: "Public DNS", Type: warninglist.TypeCIDR, Entries: []string{"8.8.8.8"}, Source: "dns"})
	objs, err := ToSTIX(ex, Options{
		CreatedByRef: testIdentity,
		Markings:     []string{tlpGreen},
		Clock:        fixedClock("2025-03-04T05:06:07.123456Z"),
		Flag: func(k Kind, v string) []string {
			var names []string
			for _, h := range flags.Check(k.Observable(), v) {
				names = append(names, "warninglist "+h.ListName)
			}
			return names
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	decoded := map[string]*stix.Object{}
	var raw []map[string]any
	for _, b := range objs.All() {
		o, err := stix.Decode(b)
		if err != nil {
			t.Fatalf("%s\ndoes not validate: %v", b, err)
		}
		decoded[o.ID] = o
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, m)
		if o.CreatedByRef != testIdentity || !slices.Equal(o.ObjectMarkingRefs, []string{tlpGreen}) {
			t.Errorf("%s: created_by_ref %q, markings %q", o.ID, o.CreatedByRef, o.ObjectMarkingRefs)
		}
		if o.Created.String() != "2025-03-04T05:06:07.123Z" || !o.Modified.Equal(o.Created) {
			t.Errorf("%s: created %s modified %s", o.ID, o.Created, o.Modified)
		}
	}
	// Every indicator value of the extraction has one indicator whose pattern reads back as it.
	var indicatorIDs []string
	byValue := map[string]map[string]any{}
	for _, m := range raw {
		if m["type"] != "indicator" {
			continue
		}
		indicatorIDs = append(indicatorIDs, m["id"].(string))
		_, _, lit, err := parsePattern(m["pattern"].(string))
		if err != nil {
			t.Fatal(err)
		}
		byValue[lit] = m
		if m["pattern_type"] != "stix" || m["valid_from"] != "2025-03-04T05:06:07.123Z" {
			t.Errorf("indicator %v", m)
		}
	}
	wantIndicators := 0
	for _, mt := range ex.Matches {
		if !mt.Kind.IsIndicator() {
			continue
		}
		wantIndicators++
		ind, ok := byValue[mt.Value]
		if !ok {
			t.Errorf("no indicator for %s %s", mt.Kind, mt.Value)
			continue
		}
		if !strings.Contains(ind["description"].(string), fmt.Sprintf("line %d, column %d", mt.Line, mt.Column)) {
			t.Errorf("indicator %s does not say where the value was: %q", mt.Value, ind["description"])
		}
	}
	if len(objs.Indicators) != wantIndicators || wantIndicators != 9 {
		t.Errorf("%d indicators for %d values (want 9)", len(objs.Indicators), wantIndicators)
	}
	if _, ok := byValue["https://harbour-invoices.com/pay?id=1'2"]; !ok {
		t.Error("the URL with a quote did not round-trip through its pattern")
	}
	// Vulnerabilities.
	var vulnNames []string
	for _, m := range raw {
		if m["type"] == "vulnerability" {
			vulnNames = append(vulnNames, m["name"].(string))
			ref := m["external_references"].([]any)[0].(map[string]any)
			if ref["source_name"] != "cve" || ref["external_id"] != m["name"] {
				t.Errorf("vulnerability external reference %v", ref)
			}
		}
	}
	if !slices.Equal(vulnNames, []string{"CVE-2023-4966", "CVE-2021-44228"}) {
		t.Errorf("vulnerabilities %q", vulnNames)
	}
	// The report refers to every indicator and vulnerability, and carries the ATT&CK ids.
	rep := raw[0]
	if rep["type"] != "report" || rep["name"] != "Operation Quiet Harbour" || rep["published"] != "2025-03-04T05:06:07.123Z" {
		t.Errorf("report %v", rep)
	}
	var refs []string
	for _, r := range rep["object_refs"].([]any) {
		refs = append(refs, r.(string))
		if decoded[r.(string)] == nil {
			t.Errorf("report refers to %s, which is not produced", r)
		}
	}
	if len(refs) != len(indicatorIDs)+len(vulnNames) {
		t.Errorf("report refers to %d objects, want %d", len(refs), len(indicatorIDs)+len(vulnNames))
	}
	var attack []string
	for _, r := range rep["external_references"].([]any) {
		r := r.(map[string]any)
		if r["source_name"] == "mitre-attack" {
			attack = append(attack, r["external_id"].(string)+" "+r["url"].(string))
		}
	}
	if !slices.Equal(attack, []string{"T1059.001 https://attack.mitre.org/techniques/T1059/001/", "T1071 https://attack.mitre.org/techniques/T1071/"}) {
		t.Errorf("ATT&CK references %q", attack)
	}
	// The note.
	note := raw[len(raw)-1]
	content := note["content"].(string)
	if note["type"] != "note" || note["object_refs"].([]any)[0] != objs.ReportID {
		t.Errorf("note %v", note)
	}
	for _, want := range []string{"setup.exe", "a file name", "198.51.100.7", "8.8.8.8", "on warninglist Public DNS", "billing[@]harbour-invoices[.]com", "defanged"} {
		if !strings.Contains(content, want) {
			t.Errorf("note content lacks %q:\n%s", want, content)
		}
	}
	if objs.Flagged != 1 || strings.Index(content, "8.8.8.8") > strings.Index(content, "198.51.100.7") {
		t.Errorf("flagged %d; flagged values should be listed first:\n%s", objs.Flagged, content)
	}
	// The bundle holds every object.
	var bundle struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(objs.Bundle(), &bundle); err != nil {
		t.Fatal(err)
	}
	if bundle.Type != "bundle" || !strings.HasPrefix(bundle.ID, "bundle--") || len(bundle.Objects) != len(objs.All()) {
		t.Errorf("bundle %s with %d objects", bundle.ID, len(bundle.Objects))
	}
}

func TestToSTIXDeterministic(t *testing.T) {
	ex := extract(t, stixReport)
	build := func(creator, at string) *Objects {
		t.Helper()
		o, err := ToSTIX(ex, Options{CreatedByRef: creator, Clock: fixedClock(at)})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a := build(testIdentity, "2025-03-04T05:06:07Z")
	b := build(testIdentity, "2025-03-04T05:06:07Z")
	if !slices.EqualFunc(a.All(), b.All(), func(x, y []byte) bool { return string(x) == string(y) }) || string(a.Bundle()) != string(b.Bundle()) {
		t.Error("the same input and clock gave different bytes")
	}
	later := build(testIdentity, "2025-06-01T00:00:00Z")
	other := build("identity--0b8e1f9a-4d6f-4b1e-9a57-2f0c6f1d7e21", "2025-03-04T05:06:07Z")
	anon := build("", "2025-03-04T05:06:07Z")
	if later.ReportID != a.ReportID || later.NoteID != a.NoteID {
		t.Error("a later import of the same text should make a new version of the same report")
	}
	if string(later.Report) == string(a.Report) {
		t.Error("a later import should have a new modified time")
	}
	if other.ReportID == a.ReportID || anon.ReportID == a.ReportID {
		t.Error("another producer should make other objects")
	}
	for _, b := range anon.All() {
		if _, err := stix.Decode(b); err != nil {
			t.Errorf("without created_by_ref: %v", err)
		}
	}
	diff := extract(t, stixReport+"\nOne more line.\n")
	d, err := ToSTIX(diff, Options{CreatedByRef: testIdentity, Clock: fixedClock("2025-03-04T05:06:07Z")})
	if err != nil {
		t.Fatal(err)
	}
	if d.ReportID == a.ReportID {
		t.Error("another text should make another report")
	}
	if string(d.Indicators[0]) != string(a.Indicators[0]) {
		t.Error("the same value from the same producer at the same time should give the same indicator")
	}
}

func TestToSTIXErrors(t *testing.T) {
	ex := extract(t, "evil.com")
	clock := fixedClock("2025-03-04T05:06:07Z")
	tests := []struct {
		name string
		ex   *Extraction
		opts Options
		want string
	}{
		{"no clock", ex, Options{}, "Clock"},
		{"zero time", ex, Options{Clock: func() time.Time { return time.Time{} }}, "zero time"},
		{"bad creator", ex, Options{Clock: clock, CreatedByRef: "identity--nope"}, "created_by_ref"},
		{"creator of another type", ex, Options{Clock: clock, CreatedByRef: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, "created_by_ref"},
		{"bad marking", ex, Options{Clock: clock, Markings: []string{"tlp:green"}}, "marking 0"},
		{"nothing", extract(t, "T1059 only, and setup.exe"), Options{Clock: clock}, "1 ATT&CK technique ids, 1 candidates skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ToSTIX(tt.ex, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.name == "nothing" && !errors.Is(err, ErrNothingExtracted) {
				t.Errorf("error %v is not ErrNothingExtracted", err)
			}
		})
	}
}

func TestToSTIXNoteBounded(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "host%d.evil.com file%d.exe\n", i, i)
	}
	ex := extract(t, b.String())
	objs, err := ToSTIX(ex, Options{Clock: fixedClock("2025-03-04T05:06:07Z"), MaxNoteItems: 10})
	if err != nil {
		t.Fatal(err)
	}
	var note struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(objs.Note, &note); err != nil {
		t.Fatal(err)
	}
	if strings.Count(note.Content, "\n- ") != 20 || !strings.Contains(note.Content, "... and 40 more\n") ||
		!strings.Contains(note.Content, "... and 40 more (repeats") {
		t.Errorf("note not bounded as asked:\n%s", note.Content)
	}
}
