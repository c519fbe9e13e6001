package pii

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// match is one detector hit inside a decoded string.
type match struct {
	rule       Rule
	start, end int    // byte offsets in the string
	norm       string // the value normalised for hashing: digits only, or a lower-case address
}

// Digits and separators, ASCII and full-width.
const (
	d   = `[0-9０-９]`
	sep = `[ \-‐‑–−－]` // space, hyphen-minus, hyphen, non-breaking hyphen, en dash, minus, full-width hyphen-minus
)

var (
	reMyNumber = regexp.MustCompile(d + `{4}` + sep + `?` + d + `{4}` + sep + `?` + d + `{4}`)
	reCard     = regexp.MustCompile(d + `(?:[ \-－]?` + d + `){12,18}`)
	reE164     = regexp.MustCompile(`[+＋]` + `[1-9１-９]` + `(?:[ \-.－]?\(?` + d + `\)?){7,14}`)
	reJPSep    = regexp.MustCompile(`[0０]` + d + `{0,4}` + sep + d + `{1,4}` + sep + d + `{3,4}`)
	reJPParen  = regexp.MustCompile(`[(（][0０]` + d + `{0,4}[)）]` + sep + `?` + d + `{1,4}` + sep + d + `{3,4}`)
	reJPMobile = regexp.MustCompile(`[0０][5789５７８９][0０]` + d + `{8}`)
	reNANP     = regexp.MustCompile(`(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[\-. ])[2-9]\d{2}[\-. ]\d{4}`)
	reEmail    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}`)
)

// digitsOf returns the ASCII digits of s (full-width digits converted), dropping everything else.
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		}
	}
	return b.String()
}

func isDigit(r rune) bool { return (r >= '0' && r <= '9') || (r >= '０' && r <= '９') }

// joins reports whether r, next to a match, makes the match part of a larger token.
// Kana and kanji do not join: Japanese text writes numbers right after them (番号123456789018).
func joins(r rune) bool {
	return isDigit(r) || r == '_' || (r < utf8.RuneSelf && isAlnum(byte(r))) ||
		(r >= 'Ａ' && r <= 'Ｚ') || (r >= 'ａ' && r <= 'ｚ')
}

// groupContinues reports whether a grouped number continues past [start, end): the separator it uses
// followed by a digit comes right after it or right before it (4111 1111 1111 1111 is not a 4-4-4
// My Number followed by 1111).
func groupContinues(s string, start, end int) bool {
	var sepr rune = -1
	for _, r := range s[start:end] {
		if !isDigit(r) {
			sepr = r
			break
		}
	}
	if sepr < 0 {
		return false
	}
	if r, n := utf8.DecodeRuneInString(s[end:]); r == sepr {
		if q, _ := utf8.DecodeRuneInString(s[end+n:]); isDigit(q) {
			return true
		}
	}
	if r, n := utf8.DecodeLastRuneInString(s[:start]); r == sepr {
		if q, _ := utf8.DecodeLastRuneInString(s[:start-n]); isDigit(q) {
			return true
		}
	}
	return false
}

// numberBounded checks the characters around a numeric match: no letter, digit or underscore on
// either side, and no '.', '-', '/' or '+' that continues a run of digits (IP addresses, dates,
// versions, longer numbers).
func numberBounded(s string, start, end int) bool {
	if start > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:start])
		if joins(r) {
			return false
		}
		if strings.ContainsRune(".-‐－−/+,", r) && start-n > 0 {
			if q, _ := utf8.DecodeLastRuneInString(s[:start-n]); isDigit(q) {
				return false
			}
		}
	}
	if end < len(s) {
		r, n := utf8.DecodeRuneInString(s[end:])
		if joins(r) {
			return false
		}
		if strings.ContainsRune(".-‐－−/,", r) && end+n < len(s) {
			if q, _ := utf8.DecodeRuneInString(s[end+n:]); isDigit(q) {
				return false
			}
		}
	}
	return true
}

// emailBounded checks that an address match is not a piece of a longer address-like token.
func emailBounded(s string, start, end int) bool {
	if start > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:start])
		if r < utf8.RuneSelf && (isAlnum(byte(r)) || strings.ContainsRune("._%+-@", r)) {
			return false
		}
	}
	if end < len(s) {
		r, _ := utf8.DecodeRuneInString(s[end:])
		if r < utf8.RuneSelf && (isAlnum(byte(r)) || r == '-' || r == '@' || r == '_') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// findAll runs re over s from every position a previous candidate did not settle, so that a
// candidate refused by check does not hide one that starts inside it.
func findAll(s string, lo, hi int, re *regexp.Regexp, window int, check func(m string, start, end int) bool, out func(start, end int)) {
	findPrefix(s, lo, hi, re, window, func(m string, start, end int) int {
		if check(m, start, end) {
			return end
		}
		return -1
	}, out)
}

// findPrefix is findAll for a check that may accept a prefix of the candidate: it returns the end of
// what it accepts, or -1. window is searchWindow for the numeric rules (see findIn), 0 for none.
//
// Only s[lo:hi] is searched; the checks see all of s. A refused candidate is retried from the next
// character that does not follow a digit: a match that starts right after a digit is never bounded.
func findPrefix(s string, lo, hi int, re *regexp.Regexp, window int, check func(m string, start, end int) int, out func(start, end int)) {
	pos := lo
	for pos < hi {
		start, end, ok := findIn(re, s, pos, hi, window)
		if !ok {
			return
		}
		if e := check(s[start:end], start, end); e > start {
			out(start, e)
			pos = e
			continue
		}
		r, n := utf8.DecodeRuneInString(s[start:])
		pos = start + n
		for isDigit(r) && pos < hi {
			if r, n = utf8.DecodeRuneInString(s[pos:]); !isDigit(r) {
				break
			}
			pos += n
		}
	}
}

// maxNumericMatch bounds, in bytes, the matches of the numeric rules' regular expressions
// (TestNumericMatchesAreBounded computes it from their syntax).
const maxNumericMatch = 160

// searchWindow is how much of a run one search of a numeric rule reads. A run can be long (a table
// of numbers, a hex dump: one run of digits and spaces), and a search over all of it from every
// refused candidate makes Go's regexp run its slower NFA over the whole rest of the run each time;
// windows keep every search small. A var so that a test can compare with unbounded searches.
var searchWindow = 1024

// findIn returns the leftmost match of re in s[pos:hi], searching windows of window bytes (all of
// it when window is 0). Only for expressions whose matches are at most maxNumericMatch bytes: a
// match starting maxNumericMatch bytes or more before a window's end then lies wholly in the
// window, so it is the match a search of all of s[pos:hi] finds; when a window has none, no match
// starts before that point, and the next window starts there.
func findIn(re *regexp.Regexp, s string, pos, hi, window int) (start, end int, ok bool) {
	if window == 0 {
		window = hi - pos
	}
	for pos < hi {
		w := min(hi, pos+window)
		loc := re.FindStringIndex(s[pos:w])
		if loc != nil && (w == hi || loc[0] < w-pos-maxNumericMatch) {
			return pos + loc[0], pos + loc[1], true
		}
		if w == hi {
			return 0, 0, false
		}
		for pos = w - maxNumericMatch; !utf8.RuneStart(s[pos]); pos-- {
		}
	}
	return 0, 0, false
}

// runStart marks the bytes that may begin a run: ASCII digits, '(' and '+', and every non-ASCII
// byte (full-width forms are decoded and checked).
var runStart = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= utf8.RuneSelf || c >= '0' && c <= '9' || c == '(' || c == '+'
	}
	return t
}()

// numericChar is a character a number may be written with: digits, separators, parentheses, plus.
func numericChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9' || r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '+'
	}
	return isDigit(r) || strings.ContainsRune(" -‐‑–−－.()（）+＋", r)
}

// segments yields the maximal runs of numeric characters in s that could hold a match (see
// candidateRun) and, when the run is only digits, have at most 19 of them. Dates and IPv4
// addresses, the most common numeric runs in threat intelligence, are skipped before any regular
// expression runs.
func segments(s string, yield func(lo, hi int)) {
	i := 0
	for i < len(s) {
		if !runStart[s[i]] {
			i++ // the common case, without decoding a rune
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isDigit(r) && r != '(' && r != '（' && r != '+' && r != '＋' {
			i += n
			continue
		}
		if end, ok := gluedRun(s, i); ok {
			i = end // the common case in STIX ids: see glued
			continue
		}
		lo, digits, other, plus, hyphens := i, 0, false, false, true
		// sub counts the digits since the last '.', group those since the last non-digit.
		sub, maxSub, group, maxGroup := 0, 0, 0, 0
		for i < len(s) {
			if c := s[i]; c < utf8.RuneSelf {
				r, n = rune(c), 1
			} else {
				r, n = utf8.DecodeRuneInString(s[i:])
			}
			if !numericChar(r) {
				break
			}
			if isDigit(r) {
				digits++
				sub++
				group++
				maxSub, maxGroup = max(maxSub, sub), max(maxGroup, group)
			} else {
				other = true
				plus = plus || r == '+' || r == '＋'
				// hyphens: every separator is a single '-' (as in a UUID's digit groups).
				hyphens = hyphens && r == '-' && group > 0
				group = 0
				if r == '.' {
					sub = 0
				}
			}
			i += n
		}
		if hyphens && glued(s, lo) {
			continue
		}
		if candidateRun(digits, maxSub, maxGroup, plus) && (other || digits <= 19) {
			yield(lo, i)
		}
	}
}

// gluedRun returns the end of the run at s[lo:] when it is made of ASCII digits and single hyphens
// and is glued (no match can lie in it); ok is false when the run must be looked at whole.
func gluedRun(s string, lo int) (end int, ok bool) {
	if !glued(s, lo) {
		return 0, false
	}
	i := lo
	for i < len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		case c < utf8.RuneSelf && !numericChar(rune(c)):
			return i, true
		default:
			return 0, false // another separator, a double hyphen, or a rune to decode
		}
		i++
	}
	return i, true
}

// glued reports whether the run of digits and single hyphens at s[lo:] follows a letter, a digit or
// an underscore (a piece of a UUID or of a hash-like token). No match can then lie in the run: every
// rule requires what stands before a match not to join it (numberBounded), which rules out the
// run's start, and a hyphen that follows a digit, which rules out every other start. A letter
// after a backslash may be a JSON escape (\n) of a character that does not join: such a run is
// kept.
func glued(s string, lo int) bool {
	if lo == 0 {
		return false
	}
	c := s[lo-1]
	if c >= utf8.RuneSelf || !(isAlnum(c) || c == '_') {
		return false
	}
	return lo < 2 || s[lo-2] != '\\'
}

// candidateRun reports whether a run of numeric characters can hold a match of some rule, from its
// digit count, the most digits between two dots, the longest group of digits, and whether it has a
// plus sign. Only E.164 (which needs a plus sign and 8 digits) and North American numbers (10 digits,
// the last four in one group) may be written with dots; every other rule needs 10 digits or more
// with no dot among them. So an IPv4 address (groups of at most three digits between dots) is none.
func candidateRun(digits, maxSub, maxGroup int, plus bool) bool {
	switch {
	case plus && digits >= 8:
		return true
	case maxSub >= 10:
		return true
	default:
		return digits >= 10 && maxGroup >= 4
	}
}

// detect finds every rule's matches in s. Overlapping matches are resolved in rule order (my-number,
// payment-card, phone, email): a later rule's match that overlaps an earlier one is dropped.
func detect(s string, rules ruleSet) []match { return detectIn(s, rules, segments) }

// detectIn is detect with the numeric detectors run on the spans that spans yields.
func detectIn(s string, rules ruleSet, spans func(string, func(lo, hi int))) []match {
	if len(s) < 6 {
		return nil
	}
	var ms []match
	add := func(rule Rule, norm func(string) string) func(int, int) {
		return func(start, end int) {
			for _, m := range ms {
				if start < m.end && m.start < end {
					return
				}
			}
			ms = append(ms, match{rule: rule, start: start, end: end, norm: norm(s[start:end])})
		}
	}
	spans(s, func(lo, hi int) {
		if rules.has(RuleMyNumber) {
			findAll(s, lo, hi, reMyNumber, searchWindow, func(m string, start, end int) bool {
				ds := digitsOf(m)
				return len(ds) == 12 && consistentSeps(m) && validMyNumber(ds) && numberBounded(s, start, end) &&
					!groupContinues(s, start, end)
			}, add(RuleMyNumber, digitsOf))
		}
		if rules.has(RuleCard) {
			findPrefix(s, lo, hi, reCard, searchWindow, longestPrefix(s, 13, func(ds string, start, end int) bool {
				return len(ds) <= 19 && luhn(ds) && knownIIN(ds) && numberBounded(s, start, end)
			}), add(RuleCard, digitsOf))
		}
		if rules.has(RulePhone) {
			phone := add(RulePhone, func(m string) string { return phoneNorm(m) })
			findPrefix(s, lo, hi, reE164, searchWindow, longestPrefix(s, 8, func(ds string, start, end int) bool {
				return len(ds) <= 15 && balancedParens(s[start:end]) && numberBounded(s, start, end)
			}), phone)
			jp := func(m string, start, end int) bool {
				n := len(digitsOf(m))
				return (n == 10 || n == 11) && numberBounded(s, start, end)
			}
			findAll(s, lo, hi, reJPSep, searchWindow, jp, phone)
			findAll(s, lo, hi, reJPParen, searchWindow, jp, phone)
			findAll(s, lo, hi, reJPMobile, searchWindow, jp, phone)
			findAll(s, lo, hi, reNANP, searchWindow, func(m string, start, end int) bool { return numberBounded(s, start, end) }, phone)
		}
	})
	if rules.has(RuleEmail) && strings.IndexByte(s, '@') >= 0 {
		findAll(s, 0, len(s), reEmail, 0, func(m string, start, end int) bool { return emailBounded(s, start, end) },
			add(RuleEmail, strings.ToLower))
	}
	return ms
}

// longestPrefix returns a check for findPrefix that accepts the longest prefix of a candidate that
// ends in a digit, has at least minDigits digits and satisfies ok (given the prefix's digits).
func longestPrefix(s string, minDigits int, ok func(ds string, start, end int) bool) func(string, int, int) int {
	return func(_ string, start, end int) int {
		for e := end; e > start; {
			r, n := utf8.DecodeLastRuneInString(s[start:e])
			if isDigit(r) {
				ds := digitsOf(s[start:e])
				if len(ds) < minDigits {
					return -1
				}
				if ok(ds, start, e) {
					return e
				}
			}
			e -= n
		}
		return -1
	}
}

// consistentSeps: a My Number is written as 12 digits or as three groups of four with the same
// separator.
func consistentSeps(m string) bool {
	var seps []rune
	for _, r := range m {
		if !isDigit(r) {
			seps = append(seps, r)
		}
	}
	return len(seps) == 0 || (len(seps) == 2 && seps[0] == seps[1])
}

func balancedParens(m string) bool {
	return strings.Count(m, "(") == strings.Count(m, ")") && strings.Count(m, "(") <= 1
}

// phoneNorm keeps the digits, with a leading '+' for international numbers, so that the same number
// written with different separators hashes the same.
func phoneNorm(m string) string {
	ds := digitsOf(m)
	if strings.HasPrefix(m, "+") || strings.HasPrefix(m, "＋") {
		return "+" + ds
	}
	return ds
}

// CheckDigit computes the check digit of the first 11 digits of a My Number (ASCII digits), as the
// Order for Enforcement of the Act on the Use of Numbers to Identify a Specific Individual, art. 8,
// defines it: with Pn the n-th digit counted from the right of the 11 (P1 is the rightmost) and
// Qn = n+1 for n ≤ 6, n−5 for n ≥ 7, let r = (Σ Pn×Qn) mod 11; the check digit is 0 when r ≤ 1,
// else 11−r. It returns -1 when base is not 11 ASCII digits.
func CheckDigit(base string) int {
	if len(base) != 11 {
		return -1
	}
	sum := 0
	for n := 1; n <= 11; n++ {
		c := base[11-n]
		if c < '0' || c > '9' {
			return -1
		}
		q := n + 1
		if n >= 7 {
			q = n - 5
		}
		sum += int(c-'0') * q
	}
	r := sum % 11
	if r <= 1 {
		return 0
	}
	return 11 - r
}

func validMyNumber(ds string) bool {
	return len(ds) == 12 && CheckDigit(ds[:11]) == int(ds[11]-'0')
}

// luhn reports whether ds (ASCII digits) passes the Luhn check.
func luhn(ds string) bool {
	sum := 0
	double := false
	for i := len(ds) - 1; i >= 0; i-- {
		v := int(ds[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// knownIIN reports whether a card number of this length starts with the issuer identification
// number of a common scheme.
func knownIIN(ds string) bool {
	n := len(ds)
	p := func(k int) int {
		v := 0
		for i := 0; i < k; i++ {
			v = v*10 + int(ds[i]-'0')
		}
		return v
	}
	switch {
	case ds[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p(2) >= 51 && p(2) <= 55, p(4) >= 2221 && p(4) <= 2720: // Mastercard
		return n == 16
	case p(2) == 34 || p(2) == 37: // American Express
		return n == 15
	case p(4) == 6011, p(3) >= 644 && p(3) <= 649, p(2) == 65: // Discover
		return n >= 16 && n <= 19
	case p(4) >= 3528 && p(4) <= 3589: // JCB
		return n >= 16 && n <= 19
	case p(3) >= 300 && p(3) <= 305, p(2) == 36, p(2) == 38, p(2) == 39: // Diners Club
		return n >= 14 && n <= 19
	case p(2) == 62: // UnionPay
		return n >= 16 && n <= 19
	}
	return false
}

// roleLocalParts are local parts that name a function of an organisation, not a person.
var roleLocalParts = map[string]bool{
	"abuse": true, "security": true, "soc": true, "cert": true, "csirt": true, "cirt": true, "noc": true,
	"postmaster": true, "hostmaster": true, "webmaster": true, "admin": true, "administrator": true,
	"support": true, "info": true, "contact": true, "noreply": true, "no-reply": true, "incident": true,
	"incidents": true, "psirt": true, "phishing": true, "spam": true, "report": true, "helpdesk": true,
}

func roleAddress(addr string) bool {
	local, _, ok := strings.Cut(strings.ToLower(addr), "@")
	return ok && roleLocalParts[local]
}
