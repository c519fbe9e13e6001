package text

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// checkExtraction asserts the invariants of every extraction: each value re-validates to itself,
// appears once, and has a position and its original text; indicator patterns read back as the value.
func checkExtraction(t *testing.T, ex *Extraction) {
	t.Helper()
	seen := map[matchKey]bool{}
	for _, m := range ex.Matches {
		k, v, err := Validate(m.Kind, m.Value)
		if err != nil || k != m.Kind || v != m.Value {
			t.Fatalf("extracted %s %q does not re-validate: %s %q %v", m.Kind, m.Value, k, v, err)
		}
		if seen[matchKey{m.Kind, m.Value}] {
			t.Fatalf("%s %q extracted twice", m.Kind, m.Value)
		}
		seen[matchKey{m.Kind, m.Value}] = true
		if m.Original == "" || !utf8.ValidString(m.Original) || !utf8.ValidString(m.Value) {
			t.Fatalf("match %+v: bad original text", m)
		}
		if m.Line < 1 || m.Line > max(ex.Lines, 1) || m.Column < 1 || m.Count < 1 {
			t.Fatalf("match %+v: bad position (of %d lines)", m, ex.Lines)
		}
		if m.Kind.IsIndicator() {
			p, err := Pattern(m.Kind, m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pattern.Compile(p); err != nil {
				t.Fatalf("pattern %s does not compile: %v", p, err)
			}
			if _, _, lit, err := parsePattern(p); err != nil || lit != m.Value {
				t.Fatalf("pattern %s of %q reads back as %q (%v)", p, m.Value, lit, err)
			}
		}
	}
	for _, s := range ex.Skipped {
		if s.Reason == "" || s.Line < 1 || !utf8.ValidString(s.Text) {
			t.Fatalf("skip %+v", s)
		}
	}
	if len(ex.Matches) == 0 {
		return
	}
	objs, err := ToSTIX(ex, Options{CreatedByRef: testIdentity, Markings: []string{tlpGreen}, Clock: fixedClock("2025-03-04T05:06:07Z")})
	if err != nil {
		if len(ex.Matches) > 0 && ex.Matches[0].Kind.IsIndicator() {
			t.Fatalf("ToSTIX: %v", err)
		}
		return
	}
	for _, b := range objs.All() {
		if _, err := stix.Decode(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

func addCorpusSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		if strings.HasSuffix(p, ".want") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{stixReport, "hxxp[:]//1.2.3[.]4:80/a'b\\c", "[2001:db8::1]:443 ::ffff:1.2.3.4/120", "a[@]b(dot)c [.]",
		"http://[::1", "T1059.001.002 CVE-2021-", "x\xff\xfe.com 日本.jp", "http://a.com/)))]]]", "(at)(dot)[.]{.}hxxp"} {
		f.Add(s)
	}
}

func FuzzExtract(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		ex, err := Extract(t.Context(), strings.NewReader(src), Limits{MaxLineBytes: 4096, MaxIndicators: 1000})
		if err != nil {
			t.Fatal(err)
		}
		checkExtraction(t, ex)
	})
}

func FuzzExtractTable(f *testing.F) {
	addCorpusSeeds(f)
	f.Add("domain,ip\nevil[.]com,198.51.100.7\n")
	f.Add("\"a\nb\",c\n")
	f.Fuzz(func(t *testing.T, src string) {
		ex, err := ExtractTable(t.Context(), strings.NewReader(src), TableOptions{})
		if err == nil {
			checkExtraction(t, ex)
		}
		ex, err = ExtractList(t.Context(), strings.NewReader(src), ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkExtraction(t, ex)
	})
}
