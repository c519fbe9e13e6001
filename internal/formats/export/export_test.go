package export

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

const org = "identity--a0000000-0000-4000-8000-000000000001"

type ind struct {
	n                       int
	name, pattern, typ      string
	from, until, marking    string
	revokedProp, revokedRow bool
	extra                   string // more JSON members
}

func (x ind) id() string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", x.n) }

func (x ind) version() store.Version {
	m := map[string]any{"type": "indicator", "spec_version": "2.1", "id": x.id(), "created_by_ref": org,
		"created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "pattern": x.pattern,
		"pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}
	if x.name != "" {
		m["name"] = x.name
	}
	if x.typ != "" {
		m["pattern_type"] = x.typ
	}
	if x.from != "" {
		m["valid_from"] = x.from
	}
	if x.until != "" {
		m["valid_until"] = x.until
	}
	if x.marking != "" {
		m["object_marking_refs"] = []string{x.marking}
	}
	if x.revokedProp {
		m["revoked"] = true
	}
	raw, err := json.Marshal(m, json.Deterministic(true))
	if err != nil {
		panic(err)
	}
	if x.extra != "" {
		raw = append(raw[:len(raw)-1], []byte(","+x.extra+"}")...)
	}
	return store.Version{ID: x.id(), Type: "indicator", SpecVersion: "2.1", Created: "2024-01-01T00:00:00.000Z",
		Modified: "2024-01-01T00:00:00.000Z", VersionKey: "2024-01-01T00:00:00.000Z", CreatedByRef: org,
		Revoked: x.revokedRow, Raw: raw, Label: store.Label{Cell: store.NoLabelCell}}
}

// fixture is a small set of indicators, one of each case.
func fixture() []ind {
	return []ind{
		{n: 1, name: "C2 server", pattern: "[ipv4-addr:value = '198.51.100.7']", marking: stix.TLP2Green},
		{n: 2, name: "C2 range", pattern: "[ipv4-addr:value = '203.0.113.0/24'] OR [ipv6-addr:value = '2001:DB8::1']", marking: stix.TLP2Clear},
		{n: 3, name: "phishing domain", pattern: "[domain-name:value = 'Login-Example.TEST.']"},
		{n: 4, name: `odd "name"; with | and \ and tab	here`, pattern: `[url:value = 'http://evil.example/a;b"c|d\\e?x=1']`},
		{n: 5, name: "dropper", pattern: "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' OR file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
		{n: 6, name: "sender", pattern: "[email-addr:value IN ('attacker@evil.example', 'x@evil.example')]"},
		{n: 7, name: "=HYPERLINK(\"http://x\")", pattern: "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"},
		{n: 8, pattern: "[ipv4-addr:value ISSUBSET '192.0.2.0/25']"},
		// Left out:
		{n: 20, name: "revoked", pattern: "[ipv4-addr:value = '192.0.2.20']", revokedProp: true},
		{n: 21, name: "revoked row", pattern: "[ipv4-addr:value = '192.0.2.21']", revokedRow: true},
		{n: 22, name: "expired", pattern: "[ipv4-addr:value = '192.0.2.22']", until: "2025-06-01T00:00:00Z"},
		{n: 23, name: "future", pattern: "[ipv4-addr:value = '192.0.2.23']", from: "2025-06-01T00:00:01Z"},
		{n: 24, name: "sigma", pattern: "title: x", typ: "sigma"},
		{n: 25, name: "and", pattern: "[ipv4-addr:value = '192.0.2.25' AND network-traffic:dst_port = 443]"},
		{n: 26, name: "followed", pattern: "[ipv4-addr:value = '192.0.2.26'] FOLLOWEDBY [domain-name:value = 'a.example']"},
		{n: 27, name: "within", pattern: "[ipv4-addr:value = '192.0.2.27'] WITHIN 300 SECONDS"},
		{n: 28, name: "like", pattern: "[domain-name:value LIKE '%.evil.example']"},
		{n: 29, name: "bad ip", pattern: "[ipv4-addr:value = '192.0.2.300']"},
		{n: 30, name: "red", pattern: "[ipv4-addr:value = '192.0.2.30']", marking: stix.TLP2Red},
		{n: 31, name: "amber strict", pattern: "[ipv4-addr:value = '192.0.2.31']", marking: stix.TLP2AmberStrict},
		{n: 32, name: "bad pattern", pattern: "[ipv4-addr:value = "},
		{n: 33, name: "other property", pattern: "[file:name = 'evil.exe']"},
	}
}

func seqOf(vs []store.Version) iter.Seq2[store.Version, error] {
	return func(yield func(store.Version, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

func versions(xs []ind) []store.Version {
	var vs []store.Version
	for _, x := range xs {
		vs = append(vs, x.version())
	}
	return vs
}

func collect(t *testing.T, vs []store.Version, o Options) *Set {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	set, err := Collect(t.Context(), seqOf(vs), o)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func ids(set *Set) []int {
	var out []int
	for _, i := range set.Indicators {
		var n int
		fmt.Sscanf(i.ID[len(i.ID)-12:], "%d", &n)
		out = append(out, n)
	}
	return out
}

func TestCollect(t *testing.T) {
	set := collect(t, versions(fixture()), Options{})
	if got, want := ids(set), []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("exported %v, want %v", got, want)
	}
	want := map[Reason]int{ReasonRevoked: 2, ReasonExpired: 1, ReasonNotYetValid: 1, ReasonNotSTIX: 1, ReasonComplex: 5,
		ReasonBadValue: 1, ReasonTLP: 2, ReasonBadPattern: 1}
	for r, n := range want {
		if set.Report.Counts[r] != n {
			t.Errorf("%s: %d, want %d", r, set.Report.Counts[r], n)
		}
	}
	if set.Report.Skipped() != 14 || set.Report.Read != 22 || len(set.Report.Skips) != 14 {
		t.Errorf("report %+v", set.Report)
	}
	for _, s := range set.Report.Skips {
		if s.ID == "" || s.Reason == "" {
			t.Errorf("skip without id or reason: %+v", s)
		}
	}
	got := map[int][]Value{}
	for _, i := range set.Indicators {
		var n int
		fmt.Sscanf(i.ID[len(i.ID)-12:], "%d", &n)
		got[n] = i.Values
	}
	checks := map[int][]Value{
		2: {{KindIPv6, "2001:db8::1"}, {KindCIDR, "203.0.113.0/24"}},
		3: {{KindDomain, "login-example.test"}},
		5: {{KindMD5, "d41d8cd98f00b204e9800998ecf8427e"}, {KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
		6: {{KindEmail, "attacker@evil.example"}, {KindEmail, "x@evil.example"}},
		8: {{KindCIDR, "192.0.2.0/25"}},
	}
	for n, want := range checks {
		if !slices.Equal(got[n], want) {
			t.Errorf("indicator %d: %v, want %v", n, got[n], want)
		}
	}
}

func TestTLPRule(t *testing.T) {
	vs := versions(fixture())
	for _, tc := range []struct {
		name     string
		o        Options
		red, str bool
	}{
		{"leaving the organisation", Options{}, false, false},
		{"internal", Options{Internal: true}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(collect(t, vs, tc.o))
			if slices.Contains(got, 30) != tc.red || slices.Contains(got, 31) != tc.str {
				t.Errorf("exported %v", got)
			}
		})
	}
	t.Run("the store's label wins over the markings", func(t *testing.T) {
		v := ind{n: 40, pattern: "[ipv4-addr:value = '192.0.2.40']", marking: stix.TLP2Green}.version()
		v.Label = store.Label{Cell: uint8(stix.TLPRed)} // as policy.Cell would label a RED object
		if set := collect(t, []store.Version{v}, Options{}); len(set.Indicators) != 0 || set.Report.Counts[ReasonTLP] != 1 {
			t.Errorf("exported %v", ids(set))
		}
	})
	t.Run("unmarked, unlabelled: the default", func(t *testing.T) {
		v := ind{n: 41, pattern: "[ipv4-addr:value = '192.0.2.41']"}.version()
		if set := collect(t, []store.Version{v}, Options{DefaultTLP: stix.TLPRed}); len(set.Indicators) != 0 {
			t.Errorf("exported %v", ids(set))
		}
		if set := collect(t, []store.Version{v}, Options{}); len(set.Indicators) != 1 || set.Indicators[0].TLP != stix.TLPAmber {
			t.Errorf("exported %+v", set.Indicators)
		}
	})
}

func TestLatestVersionWins(t *testing.T) {
	old := ind{n: 50, pattern: "[ipv4-addr:value = '192.0.2.1']"}.version()
	newer := ind{n: 50, pattern: "[ipv4-addr:value = '192.0.2.2']"}.version()
	newer.VersionKey, newer.Modified = "2024-02-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"
	for _, order := range [][]store.Version{{old, newer}, {newer, old}} {
		set := collect(t, order, Options{})
		if len(set.Indicators) != 1 || set.Indicators[0].Values[0].Value != "192.0.2.2" || set.Report.Counts[ReasonSuperseded] != 1 {
			t.Errorf("%+v %+v", set.Indicators, set.Report)
		}
	}
}

func render(t *testing.T, f Format, set *Set) []byte {
	t.Helper()
	var b bytes.Buffer
	rep := set.Report
	if err := Write(&b, f, set, WriteOptions{}, &rep); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// untar returns the files of a tar archive as name → content.
func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = string(data)
	}
}

func TestGolden(t *testing.T) {
	set := collect(t, versions(fixture()), Options{})
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			var got []byte
			if f.MultiFile() {
				files := untar(t, render(t, f, set))
				names := slices.Sorted(func(yield func(string) bool) {
					for n := range files {
						if !yield(n) {
							return
						}
					}
				})
				var b bytes.Buffer
				for _, n := range names {
					fmt.Fprintf(&b, "=== %s\n%s", n, files[n])
				}
				got = b.Bytes()
			} else {
				got = render(t, f, set)
			}
			path := filepath.Join("testdata", "golden", string(f)+".txt")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", f, path, got)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	vs := versions(fixture())
	base := collect(t, vs, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := slices.Clone(vs)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		set := collect(t, shuffled, Options{})
		for _, f := range Formats() {
			if !bytes.Equal(render(t, f, base), render(t, f, set)) {
				t.Errorf("shuffle %d: %s differs", i, f)
			}
		}
	}
}

// ruleOptions splits a rule's options, honouring backslash escapes in quoted strings.
func ruleOptions(t *testing.T, line string) []string {
	t.Helper()
	open := strings.IndexByte(line, '(')
	if open < 0 || !strings.HasSuffix(line, ")") {
		t.Fatalf("not a rule: %q", line)
	}
	body := line[open+1 : len(line)-1]
	var opts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && quoted && i+1 < len(body):
			cur.WriteByte(c)
			cur.WriteByte(body[i+1])
			i++
			continue
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			opts = append(opts, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if quoted || strings.TrimSpace(cur.String()) != "" {
		t.Fatalf("unbalanced rule %q", line)
	}
	return opts
}

// decodeContent undoes the |hex| escapes of a content string.
func decodeContent(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '|')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i+1:], '|')
		if j < 0 {
			t.Fatalf("unterminated hex in %q", s)
		}
		for _, h := range strings.Fields(s[i+1 : i+1+j]) {
			var c byte
			if _, err := fmt.Sscanf(h, "%02X", &c); err != nil {
				t.Fatalf("hex %q: %v", h, err)
			}
			b.WriteByte(c)
		}
		s = s[i+2+j:]
	}
}

func TestEscapingTorture(t *testing.T) {
	nasty := []string{`a;b`, `a"b`, `a\b`, `a|b`, "a\x01b", "a\x7fb", `;;"|\|`, "ünïcode", `||`, ""}
	for _, s := range nasty {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			c := escapeContent(s, true)
			if strings.ContainsAny(c, `;"\`) {
				t.Errorf("content %q keeps a raw special: %q", s, c)
			}
			if got := decodeContent(t, c); got != s {
				t.Errorf("content %q round-trips to %q", s, got)
			}
			m := escapeContent(s, false)
			for i := 0; i < len(m); i++ {
				if (m[i] == ';' || m[i] == '"') && (i == 0 || m[i-1] != '\\') || m[i] < 0x20 || m[i] >= 0x7f {
					t.Errorf("msg %q: unescaped byte %q in %q", s, m[i], m)
				}
			}
		})
	}
	// The fixture's URL and name go through whole rules: every option parses and the URL's path
	// comes back from the content.
	set := collect(t, versions(fixture()), Options{})
	for _, f := range []Format{FormatSuricata, FormatSnort} {
		var rules string
		if f == FormatSuricata {
			rules = untar(t, render(t, f, set))["renkei.rules"]
		} else {
			rules = string(render(t, f, set))
		}
		found := false
		for _, line := range strings.Split(strings.TrimSpace(rules), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			opts := ruleOptions(t, line)
			if !strings.HasPrefix(opts[0], `msg:"`) || !strings.HasPrefix(opts[len(opts)-1], "rev:") {
				t.Errorf("%s: options %q", f, opts)
			}
			for _, o := range opts {
				if c, ok := strings.CutPrefix(o, `content:"`); ok && decodeContent(t, strings.TrimSuffix(c, `"`)) == `/a;b"c|d\e?x=1` {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no content holds the URL path", f)
		}
	}
}

func TestZeekAndCSVParseBack(t *testing.T) {
	set := collect(t, versions(fixture()), Options{})
	lines := strings.Split(strings.TrimSuffix(string(render(t, FormatZeek, set)), "\n"), "\n")
	if lines[0] != "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc" {
		t.Errorf("header %q", lines[0])
	}
	types := map[string]bool{}
	for _, l := range lines[1:] {
		fs := strings.Split(l, "\t")
		if len(fs) != 4 || strings.ContainsAny(l, "\r") {
			t.Errorf("line %q has %d fields", l, len(fs))
			continue
		}
		types[fs[1]] = true
		if fs[1] == "Intel::URL" && strings.Contains(fs[0], "://") {
			t.Errorf("URL with its scheme: %q", fs[0])
		}
	}
	for _, typ := range []string{"Intel::ADDR", "Intel::SUBNET", "Intel::DOMAIN", "Intel::URL", "Intel::EMAIL", "Intel::FILE_HASH"} {
		if !types[typ] {
			t.Errorf("no %s line", typ)
		}
	}
	rows, err := csv.NewReader(bytes.NewReader(render(t, FormatCSV, set))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "indicator_id" || len(rows) != 1+set.Report.Values {
		t.Errorf("%d rows for %d values", len(rows), set.Report.Values)
	}
	for _, r := range rows[1:] {
		if strings.HasPrefix(r[2], "=") {
			t.Errorf("formula not defused: %q", r[2])
		}
		if strings.HasPrefix(r[0], "indicator--00000000-0000-4000-8000-000000000004") && r[2] != "odd \"name\"; with | and \\ and tab\there" {
			t.Errorf("name %q", r[2])
		}
	}
}

func TestSuricataDatasets(t *testing.T) {
	var xs []ind
	for i := range 5 {
		xs = append(xs, ind{n: 60 + i, pattern: fmt.Sprintf("[domain-name:value = 'd%d.example'] OR [ipv4-addr:value = '192.0.2.%d']", i, i)})
	}
	set := collect(t, versions(xs), Options{})
	var b bytes.Buffer
	if err := Write(&b, FormatSuricata, set, WriteOptions{DatasetMin: 5}, &set.Report); err != nil {
		t.Fatal(err)
	}
	files := untar(t, b.Bytes())
	var domains []string
	for _, l := range strings.Fields(files["renkei-domain.lst"]) {
		d, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			t.Fatal(err)
		}
		domains = append(domains, string(d))
	}
	if !slices.Equal(domains, []string{"d0.example", "d1.example", "d2.example", "d3.example", "d4.example"}) {
		t.Errorf("domain dataset %v", domains)
	}
	if got := strings.Fields(files["renkei-ip.lst"]); len(got) != 5 || got[0] != "192.0.2.0" {
		t.Errorf("ip dataset %v", got)
	}
	rules := files["renkei.rules"]
	if strings.Count(rules, "dataset:isset,renkei-domain,type string,load renkei-domain.lst") != 3 ||
		strings.Count(rules, "dataset:isset,renkei-ip,type ip,load renkei-ip.lst") != 2 || strings.Contains(rules, "d0.example") {
		t.Errorf("rules:\n%s", rules)
	}
}

func TestSIDs(t *testing.T) {
	a := newSIDAlloc(WriteOptions{SIDBase: 100, SIDSpan: 3})
	got := []uint32{a.sid("x"), a.sid("y"), a.sid("z")}
	slices.Sort(got)
	if !slices.Equal(got, []uint32{100, 101, 102}) {
		t.Errorf("collisions not resolved: %v", got)
	}
	b := newSIDAlloc(WriteOptions{}.withDefaults())
	c := newSIDAlloc(WriteOptions{}.withDefaults())
	if b.sid("indicator--1|ipv4|192.0.2.1|") != c.sid("indicator--1|ipv4|192.0.2.1|") {
		t.Error("sid is not a function of the key")
	}
}

func TestPersonalDataGuard(t *testing.T) {
	base := "31415926535"
	w := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := range 11 {
		sum += int(base[i]-'0') * w[i]
	}
	check := 0
	if r := sum % 11; r > 1 {
		check = 11 - r
	}
	myNumber := fmt.Sprintf("%s%d", base, check)
	xs := []ind{
		{n: 70, name: "reported by 090-1234-5678", pattern: "[ipv4-addr:value = '192.0.2.70']"},
		{n: 71, name: "clean", pattern: "[ipv4-addr:value = '192.0.2.71']"},
		{n: 72, name: "number in pattern", pattern: "[url:value = 'http://evil.example/?id=" + myNumber + "']"},
	}
	vs := versions(xs)
	t.Run("redact", func(t *testing.T) {
		set := collect(t, vs, Options{PII: &pii.Policy{Mode: pii.ModeRedact}})
		if got := ids(set); !slices.Equal(got, []int{70, 71}) || set.Report.Redacted != 1 || set.Report.Counts[ReasonPersonalPat] != 1 {
			t.Fatalf("exported %v, report %+v", got, set.Report)
		}
		if set.Indicators[0].Name != "reported by [pii-redacted:phone]" {
			t.Errorf("name %q", set.Indicators[0].Name)
		}
		for _, f := range Formats() {
			if bytes.Contains(render(t, f, set), []byte("090-1234-5678")) || bytes.Contains(render(t, f, set), []byte(myNumber)) {
				t.Errorf("%s carries personal data", f)
			}
		}
		if !bytes.Equal(vs[0].Raw, xs[0].version().Raw) {
			t.Error("the stored bytes changed")
		}
	})
	t.Run("block", func(t *testing.T) {
		set := collect(t, vs, Options{PII: &pii.Policy{Mode: pii.ModeBlock}})
		if got := ids(set); !slices.Equal(got, []int{71}) || set.Report.Counts[ReasonPersonal] != 2 {
			t.Errorf("exported %v, report %+v", got, set.Report)
		}
		for _, s := range set.Report.Skips {
			if strings.Contains(s.Detail, "090-1234-5678") || strings.Contains(s.Detail, myNumber) {
				t.Errorf("the report shows the value: %+v", s)
			}
		}
	})
}

func TestCollectErrors(t *testing.T) {
	if _, err := Collect(t.Context(), seqOf(nil), Options{}); err == nil {
		t.Error("no Now: no error")
	}
	vs := versions(fixture()[:3])
	if _, err := Collect(t.Context(), seqOf(vs), Options{Now: now, MaxIndicators: 2}); err == nil {
		t.Error("over the limit: no error")
	}
	failing := func(yield func(store.Version, error) bool) { yield(store.Version{}, io.ErrUnexpectedEOF) }
	if _, err := Collect(t.Context(), failing, Options{Now: now}); err == nil {
		t.Error("a failing sequence: no error")
	}
	if _, err := ParseFormat("pdf"); err == nil {
		t.Error("ParseFormat(pdf): no error")
	}
}
