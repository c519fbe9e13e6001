package pattern

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// likeRegexp turns a LIKE pattern ('%' any run of characters, '_' one character) into an anchored
// RE2 expression. The pattern is NFC-normalized first, as the spec requires.
func likeRegexp(like string) (*regexp.Regexp, error) {
	like = norm.NFC.String(like)
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.Compile(b.String())
}

// compileRegexp compiles the regular expression of MATCHES for Go's RE2 engine, with the DOTALL
// option the spec requires. PCRE constructs that need a backtracking engine are refused with an
// error that names them; nothing is ever run on a backtracking engine.
func compileRegexp(expr string) (*regexp.Regexp, error) {
	if why := pcreOnly(expr); why != "" {
		return nil, fmt.Errorf("a regular expression without %s (MATCHES runs on RE2, which never backtracks)", why)
	}
	re, err := regexp.Compile("(?s)" + expr)
	if err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		return nil, fmt.Errorf("a regular expression RE2 accepts (%s)", msg)
	}
	return re, nil
}

// pcreOnly names the first construct of expr that PCRE has and RE2 cannot do, or returns "".
func pcreOnly(expr string) string {
	inClass := false
	prevQuant := false // the previous item was a quantifier (*, +, ?, {n,m})
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c == '\\' {
			if i+1 >= len(expr) {
				return ""
			}
			n := expr[i+1]
			i++
			prevQuant = false
			if inClass {
				continue
			}
			switch {
			case n >= '1' && n <= '9':
				return fmt.Sprintf(`backreferences (\%c)`, n)
			case n == 'g' || n == 'k':
				return fmt.Sprintf(`backreferences (\%c)`, n)
			case n == 'K':
				return `match reset (\K)`
			case n == 'G':
				return `\G (the end of the previous match)`
			case n == 'Z':
				return `\Z (use \z, or $ for the end of the text)`
			case n == 'R' || n == 'X':
				return fmt.Sprintf(`the \%c escape`, n)
			}
			continue
		}
		if inClass {
			if c == ']' {
				inClass = false
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
			prevQuant = false
			// A ']' right after '[' or '[^' is a literal.
			if strings.HasPrefix(expr[i+1:], "^]") {
				i += 2
			} else if strings.HasPrefix(expr[i+1:], "]") {
				i++
			}
		case '(':
			prevQuant = false
			rest := expr[i+1:]
			switch {
			case strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"):
				return "lookahead ((?= or (?!)"
			case strings.HasPrefix(rest, "?<="), strings.HasPrefix(rest, "?<!"):
				return "lookbehind ((?<= or (?<!)"
			case strings.HasPrefix(rest, "?>"):
				return "atomic groups ((?>)"
			case strings.HasPrefix(rest, "?("):
				return "conditionals ((?()"
			case strings.HasPrefix(rest, "?|"):
				return "branch reset groups ((?|)"
			case strings.HasPrefix(rest, "?#"):
				return "comment groups ((?#)"
			case strings.HasPrefix(rest, "?R"), strings.HasPrefix(rest, "?&"), strings.HasPrefix(rest, "?P>"),
				len(rest) > 1 && rest[0] == '?' && (rest[1] >= '0' && rest[1] <= '9' || rest[1] == '+' || rest[1] == '-' && len(rest) > 2 && rest[2] >= '0' && rest[2] <= '9'):
				return "recursion or subroutine calls"
			case strings.HasPrefix(rest, "*"):
				return "backtracking control verbs ((*VERB))"
			}
		case '*', '+', '?':
			if prevQuant && c == '+' {
				return "possessive quantifiers (*+, ++, ?+, {n}+)"
			}
			// A '?' after a quantifier makes it lazy, which RE2 supports; it is still a quantifier
			// position for the purpose of spotting "+?+" style mistakes, which RE2 rejects itself.
			prevQuant = !prevQuant || c != '?'
			continue
		case '{':
			if j := strings.IndexByte(expr[i:], '}'); j > 0 && isRepeat(expr[i+1:i+j]) {
				i += j
				prevQuant = true
				continue
			}
		}
		if c >= utf8.RuneSelf {
			_, n := utf8.DecodeRuneInString(expr[i:])
			i += n - 1
		}
		prevQuant = false
	}
	return ""
}

// isRepeat reports whether s is the inside of a {n}, {n,} or {n,m} quantifier.
func isRepeat(s string) bool {
	if s == "" {
		return false
	}
	comma := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',' && !comma && i > 0:
			comma = true
		case s[i] >= '0' && s[i] <= '9':
		default:
			return false
		}
	}
	return true
}
