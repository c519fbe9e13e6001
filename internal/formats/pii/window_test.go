package pii

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxLen is the longest match, in bytes, that a parsed expression can make; -1 for unbounded.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n
	case syntax.OpCharClass:
		n := 0
		for i := 1; i < len(re.Rune); i += 2 {
			n = max(n, utf8.RuneLen(min(re.Rune[i], utf8.MaxRune)))
		}
		return n
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		n := 0
		for _, sub := range re.Sub {
			m := maxLen(sub)
			if m < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				n += m
			} else {
				n = max(n, m)
			}
		}
		return n
	case syntax.OpRepeat:
		m := maxLen(re.Sub[0])
		if re.Max < 0 || m < 0 {
			return -1
		}
		return re.Max * m
	case syntax.OpStar, syntax.OpPlus:
		return -1
	default: // empty matches and assertions
		return 0
	}
}

func TestNumericMatchesAreBounded(t *testing.T) {
	for _, re := range []*regexp.Regexp{reMyNumber, reCard, reE164, reJPSep, reJPParen, reJPMobile, reNANP} {
		parsed, err := syntax.Parse(re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if n := maxLen(parsed); n < 0 || n > maxNumericMatch {
			t.Errorf("%s matches up to %d bytes, more than maxNumericMatch (%d): windowed searches would miss it", re, n, maxNumericMatch)
		}
	}
	if parsed, _ := syntax.Parse(reEmail.String(), syntax.Perl); maxLen(parsed) >= 0 {
		t.Error("maxLen finds the e-mail expression bounded: the computation is wrong")
	}
	if searchWindow <= maxNumericMatch+utf8.UTFMax {
		t.Errorf("searchWindow %d leaves no room past maxNumericMatch %d", searchWindow, maxNumericMatch)
	}
}

// TestWindowedSearchAgrees compares the detectors on long numeric runs (tables of numbers, hex
// dumps, digit groups) with windows of the shipped size, with small windows (many window edges)
// and with one search over the whole run.
func TestWindowedSearchAgrees(t *testing.T) {
	pieces := []string{"1", "4", "0", "9", "０", "５", " ", "-", ".", "(", ")", "+", "＋", "（", "）", "－", "4111", "1111",
		"0312345678", "090", "+81 ", "(03)", "5555", "4412 3456 7890 1236", "123456789018", "\n", "x"}
	rng := rand.New(rand.NewPCG(7, 11))
	var inputs []string
	for range 300 {
		var b strings.Builder
		for n := 20 + rng.IntN(3000); b.Len() < n; {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		inputs = append(inputs, b.String())
	}
	inputs = append(inputs, strings.Repeat("1234 ", 2000), strings.Repeat("4111 1111 1111 1111 ", 300),
		strings.Repeat("00 01 7f 4d 5a 90 ", 500)+"090-1234-5678")
	defer func(w int) { searchWindow = w }(searchWindow)
	found := 0
	for _, s := range inputs {
		searchWindow = 1 << 30
		want := detect(s, ruleSet{})
		for _, w := range []int{1024, maxNumericMatch + 8} {
			searchWindow = w
			if got := detect(s, ruleSet{}); !slices.Equal(got, want) {
				t.Fatalf("window %d: %d matches, whole-run search %d, in %q", w, len(got), len(want), s)
			}
		}
		found += len(want)
	}
	if found < 50 {
		t.Errorf("only %d matches in all inputs: the comparison says little", found)
	}
}
