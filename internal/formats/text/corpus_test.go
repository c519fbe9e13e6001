package text

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCorpus extracts the reports in testdata/corpus (written for these tests: defanged and plain
// indicators, Japanese prose, tables, and traps such as file names, version numbers, OIDs, long hex
// runs and C++ scopes) and compares the values with the hand-written .want files. It reports
// precision and recall over the corpus, and fails on any difference.
func TestCorpus(t *testing.T) {
	reports, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	var truePos, falsePos, falseNeg int
	for _, path := range reports {
		if strings.HasSuffix(path, ".want") {
			continue
		}
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := readWant(t, strings.TrimSuffix(path, filepath.Ext(path))+".want")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ex, err := Extract(t.Context(), f, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ex.Matches {
				got = append(got, string(m.Kind)+" "+m.Value)
			}
			for _, g := range got {
				if slices.Contains(want, g) {
					truePos++
				} else {
					falsePos++
					t.Errorf("extracted %s, which is not an indicator of the report", g)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					falseNeg++
					t.Errorf("missed %s", w)
				}
			}
			for _, s := range ex.Skipped {
				t.Logf("skipped %q (%d:%d): %s", s.Text, s.Line, s.Column, s.Reason)
			}
		})
	}
	if truePos+falsePos == 0 || truePos+falseNeg == 0 {
		t.Fatal("empty corpus")
	}
	t.Logf("corpus: precision %.3f, recall %.3f (%d found, %d wrong, %d missed)",
		float64(truePos)/float64(truePos+falsePos), float64(truePos)/float64(truePos+falseNeg), truePos, falsePos, falseNeg)
}

func readWant(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			want = append(want, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}
