package pattern

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tStar
	tOp        // = == != <> < <= > >=
	tWord      // identifier or keyword
	tString    // '...'
	tBinary    // b'...'
	tHex       // h'...'
	tTimestamp // t'...'
	tInt
	tFloat
)

// token is one lexical token. text is the source text; val is the decoded content of quoted
// literals (without quotes and prefix, escapes resolved).
type token struct {
	kind tokKind
	off  int // byte offset in the pattern
	text string
	val  string
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tString, tBinary, tHex, tTimestamp:
		s := t.text
		if len(s) > 40 {
			s = s[:37] + "..."
		}
		return s
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer splits a pattern into tokens on demand.
type lexer struct {
	src string
	pos int
}

// isSpace reports whether r is whitespace in the sense of the STIX patterning spec: a code point with
// the Unicode White_Space property.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isWordChar(c byte) bool {
	return isWordStart(c) || c >= '0' && c <= '9' || c == '-'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip skips whitespace and comments (/* */ and // to end of line, as the OASIS grammar allows).
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errAt(l.pos, "an unterminated comment", "*/ to close the comment")
			}
			l.pos += 2 + end + 2
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexAny(l.src[l.pos:], "\r\n")
			if end < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += end
			}
		case c < utf8.RuneSelf:
			if c == '\v' || c == '\f' {
				l.pos++
				continue
			}
			return nil
		default:
			r, n := utf8.DecodeRuneInString(l.src[l.pos:])
			if r == utf8.RuneError && n == 1 {
				return l.errAt(l.pos, "a byte that is not UTF-8", "a pattern encoded as UTF-8")
			}
			if !isSpace(r) {
				return nil
			}
			l.pos += n
		}
	}
	return nil
}

func (l *lexer) errAt(off int, found, expected string) error {
	return newSyntaxError(l.src, off, found, expected)
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, off: l.pos}, nil
	}
	start := l.pos
	c := l.src[l.pos]
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, off: start, text: l.src[start:l.pos]}, nil
	}
	switch c {
	case '[':
		return one(tLBrack)
	case ']':
		return one(tRBrack)
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case ':':
		return one(tColon)
	case ',':
		return one(tComma)
	case '*':
		return one(tStar)
	case '\'':
		return l.quoted(start, tString, start)
	case '=':
		if strings.HasPrefix(l.src[l.pos:], "==") {
			l.pos += 2
		} else {
			l.pos++
		}
		return token{kind: tOp, off: start, text: l.src[start:l.pos]}, nil
	case '!':
		if strings.HasPrefix(l.src[l.pos:], "!=") {
			l.pos += 2
			return token{kind: tOp, off: start, text: "!="}, nil
		}
		return token{}, l.errAt(start, "'!'", "'!=' (or another comparison operator)")
	case '<':
		if strings.HasPrefix(l.src[l.pos:], "<=") || strings.HasPrefix(l.src[l.pos:], "<>") {
			l.pos += 2
		} else {
			l.pos++
		}
		return token{kind: tOp, off: start, text: l.src[start:l.pos]}, nil
	case '>':
		if strings.HasPrefix(l.src[l.pos:], ">=") {
			l.pos += 2
		} else {
			l.pos++
		}
		return token{kind: tOp, off: start, text: l.src[start:l.pos]}, nil
	case '.':
		if l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) {
			return l.number(start)
		}
		return one(tDot)
	case '+', '-':
		if l.pos+1 < len(l.src) && (isDigit(l.src[l.pos+1]) || l.src[l.pos+1] == '.') {
			return l.number(start)
		}
		return token{}, l.errAt(start, fmt.Sprintf("%q", string(c)), "a number after the sign")
	}
	if isDigit(c) {
		return l.number(start)
	}
	if isWordStart(c) {
		for l.pos < len(l.src) && isWordChar(l.src[l.pos]) {
			l.pos++
		}
		w := l.src[start:l.pos]
		if l.pos < len(l.src) && l.src[l.pos] == '\'' {
			switch w {
			case "b":
				return l.quoted(start, tBinary, l.pos)
			case "h":
				return l.quoted(start, tHex, l.pos)
			case "t":
				return l.quoted(start, tTimestamp, l.pos)
			}
		}
		return token{kind: tWord, off: start, text: w}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, l.errAt(start, fmt.Sprintf("the character %q", r), "a STIX pattern token")
}

// number lexes [+-]? digits [. digits] or [+-]? . digits.
func (l *lexer) number(start int) (token, error) {
	if c := l.src[l.pos]; c == '+' || c == '-' {
		l.pos++
	}
	intStart := l.pos
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
	intDigits := l.src[intStart:l.pos]
	kind := tInt
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		kind = tFloat
		l.pos++
		fracStart := l.pos
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos == fracStart {
			return token{}, l.errAt(start, fmt.Sprintf("%q", l.src[start:l.pos]), "digits after the decimal point")
		}
	} else if len(intDigits) > 1 && intDigits[0] == '0' {
		return token{}, l.errAt(start, fmt.Sprintf("%q", l.src[start:l.pos]), "an integer without leading zeros")
	}
	if l.pos < len(l.src) && (isWordStart(l.src[l.pos]) || l.src[l.pos] == '.') {
		return token{}, l.errAt(l.pos, fmt.Sprintf("%q right after the number %s", l.src[l.pos], l.src[start:l.pos]), "whitespace or an operator after a number")
	}
	return token{kind: kind, off: start, text: l.src[start:l.pos]}, nil
}

// quoted lexes a quoted literal whose opening apostrophe is at q. Only \' and \\ escapes are
// allowed, as the spec says.
func (l *lexer) quoted(start int, kind tokKind, q int) (token, error) {
	l.pos = q + 1
	var b strings.Builder
	plain := l.pos // start of a run without escapes
	for {
		if l.pos >= len(l.src) {
			return token{}, l.errAt(start, "an unterminated quoted constant", "a closing apostrophe (')")
		}
		c := l.src[l.pos]
		switch c {
		case '\'':
			b.WriteString(l.src[plain:l.pos])
			l.pos++
			return token{kind: kind, off: start, text: l.src[start:l.pos], val: b.String()}, nil
		case '\\':
			if l.pos+1 >= len(l.src) || (l.src[l.pos+1] != '\'' && l.src[l.pos+1] != '\\') {
				found := "a backslash at the end of the pattern"
				if l.pos+1 < len(l.src) {
					r, _ := utf8.DecodeRuneInString(l.src[l.pos+1:])
					found = fmt.Sprintf("the escape \\%c", r)
				}
				return token{}, l.errAt(l.pos, found, `\' or \\ (the only escapes in a STIX string; write \\ for a backslash)`)
			}
			b.WriteString(l.src[plain:l.pos])
			b.WriteByte(l.src[l.pos+1])
			l.pos += 2
			plain = l.pos
		default:
			if c >= utf8.RuneSelf {
				r, n := utf8.DecodeRuneInString(l.src[l.pos:])
				if r == utf8.RuneError && n == 1 {
					return token{}, l.errAt(l.pos, "a byte that is not UTF-8", "a pattern encoded as UTF-8")
				}
				l.pos += n
			} else {
				l.pos++
			}
		}
	}
}
