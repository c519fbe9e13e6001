package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the type of a constant in a pattern.
type Kind uint8

// The kinds of constants (STIX 2.1 section 9.2).
const (
	KindString    Kind = iota + 1 // 'text'
	KindInt                       // 42, -7
	KindFloat                     // 7.0, .5
	KindBool                      // true, false
	KindBinary                    // b'base64'
	KindHex                       // h'hex'
	KindTimestamp                 // t'2016-01-01T00:00:00Z'
)

var kindNames = [...]string{"", "string", "integer", "float", "boolean", "binary", "hex", "timestamp"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// family groups kinds that a set (IN) may mix: numbers with numbers, binary with hex.
func (k Kind) family() Kind {
	switch k {
	case KindFloat:
		return KindInt
	case KindHex:
		return KindBinary
	}
	return k
}

// Constant is a constant of a comparison.
type Constant struct {
	Kind  Kind
	Text  string    // as written in the pattern
	Str   string    // KindString: the value; KindBinary, KindHex: the octets
	Int   int64     // KindInt
	Float float64   // KindFloat (and KindInt, converted)
	Bool  bool      // KindBool
	Time  time.Time // KindTimestamp

	latin1 []byte // KindString: the string as octets when every code point is < U+0100, else nil
	isBin  bool   // latin1 is valid (the conversion was possible)
}

func (c *Constant) prepare() {
	if c.Kind != KindString {
		return
	}
	b := make([]byte, 0, len(c.Str))
	for _, r := range c.Str {
		if r > 0xff {
			return
		}
		b = append(b, byte(r))
	}
	c.latin1, c.isBin = b, true
}

// String renders the constant in pattern syntax.
func (c Constant) String() string {
	switch c.Kind {
	case KindString:
		return quote(c.Str)
	case KindBinary:
		return "b'" + base64.StdEncoding.EncodeToString([]byte(c.Str)) + "'"
	case KindHex:
		return "h'" + hex.EncodeToString([]byte(c.Str)) + "'"
	case KindTimestamp:
		return "t'" + c.Text[2:len(c.Text)-1] + "'"
	}
	return c.Text
}

func quote(s string) string {
	return "'" + quoter.Replace(s) + "'"
}

// quoter escapes a string constant's backslashes and quotes (a Replacer is safe for concurrent use).
var quoter = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// Op is a comparison operator.
type Op uint8

// The comparison operators (STIX 2.1 section 9.6.1).
const (
	OpEq Op = iota + 1
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	OpIn
	OpLike
	OpMatches
	OpIsSubset
	OpIsSuperset
	OpExists
)

var opNames = [...]string{"", "=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Step is one step of an object path after the object type: a property or dictionary key, a list
// index, or [*].
type Step struct {
	Key     string // property or dictionary key, when !IsIndex
	IsIndex bool
	Index   int  // list index when IsIndex && !Star (negative indexes never match)
	Star    bool // [*]
}

// Path is an object path: object-type:step.step[i]...
type Path struct {
	ObjectType string
	Steps      []Step
}

// PropertyPath renders the path after the colon, quoting keys that are not plain identifiers,
// e.g. "hashes.'SHA-256'" or "resolves_to_refs[*].value".
func (p Path) PropertyPath() string {
	var b strings.Builder
	for i, s := range p.Steps {
		switch {
		case s.Star:
			b.WriteString("[*]")
		case s.IsIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			if plainName(s.Key) {
				b.WriteString(s.Key)
			} else {
				b.WriteString(quote(s.Key))
			}
		}
	}
	return b.String()
}

// String renders the whole path, e.g. "file:hashes.'SHA-256'".
func (p Path) String() string { return p.ObjectType + ":" + p.PropertyPath() }

func plainName(s string) bool {
	if s == "" || !isWordStart(s[0]) || keywords[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordChar(s[i]) || s[i] == '-' {
			return false
		}
	}
	return true
}

// Comparison is one comparison expression: path [NOT] op constant, or [NOT] EXISTS path.
type Comparison struct {
	Path    Path
	Op      Op
	Negated bool
	Value   Constant   // the constant, for every operator but IN and EXISTS
	Set     []Constant // IN
	Offset  int        // byte offset of the comparison in the pattern

	re     *regexp.Regexp // LIKE, MATCHES
	prefix netip.Prefix   // ISSUBSET, ISSUPERSET
}

func (c *Comparison) String() string {
	var b strings.Builder
	if c.Op == OpExists {
		if c.Negated {
			b.WriteString("NOT ")
		}
		b.WriteString("EXISTS " + c.Path.String())
		return b.String()
	}
	b.WriteString(c.Path.String())
	if c.Negated {
		b.WriteString(" NOT")
	}
	b.WriteString(" " + c.Op.String() + " ")
	if c.Op == OpIn {
		b.WriteByte('(')
		for i, v := range c.Set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
		b.WriteByte(')')
	} else {
		b.WriteString(c.Value.String())
	}
	return b.String()
}

// CmpExpr is a comparison expression inside [ ]: a *Comparison, or a *CmpAnd / *CmpOr of them.
type CmpExpr interface{ cmpExpr() }

// CmpAnd is comparison expressions joined by AND: all must hold on the same root object.
type CmpAnd struct{ Xs []CmpExpr }

// CmpOr is comparison expressions joined by OR.
type CmpOr struct{ Xs []CmpExpr }

func (*Comparison) cmpExpr() {}
func (*CmpAnd) cmpExpr()     {}
func (*CmpOr) cmpExpr()      {}

// ObsExpr is an observation expression: *ObsLeaf ([...]), *ObsAnd, *ObsOr, *ObsFollowedBy or
// *ObsQualified.
type ObsExpr interface{ obsExpr() }

// ObsLeaf is [comparison expression]: it matches single observations.
type ObsLeaf struct {
	Cmp   CmpExpr
	types map[string]bool // object types its comparisons start from
}

// ObsAnd is observation expressions joined by AND: each on different observations.
type ObsAnd struct{ Xs []ObsExpr }

// ObsOr is observation expressions joined by OR.
type ObsOr struct{ Xs []ObsExpr }

// ObsFollowedBy is X1 FOLLOWEDBY X2 FOLLOWEDBY ..., left-associative.
type ObsFollowedBy struct{ Xs []ObsExpr }

// Qualifier kinds.
const (
	QualWithin = iota + 1
	QualRepeats
	QualStartStop
)

// ObsQualified is an observation expression with one qualifier.
type ObsQualified struct {
	X           ObsExpr
	Qual        int
	Within      time.Duration // QualWithin
	WithinText  string        // the number as written
	Repeats     int           // QualRepeats
	Start, Stop time.Time     // QualStartStop: observations must be at or after Start and before Stop
	StartText   string
	StopText    string
}

func (*ObsLeaf) obsExpr()       {}
func (*ObsAnd) obsExpr()        {}
func (*ObsOr) obsExpr()         {}
func (*ObsFollowedBy) obsExpr() {}
func (*ObsQualified) obsExpr()  {}

// writeCmp renders a comparison expression; prec is the precedence of the context (0 top, 1 in OR,
// 2 in AND).
func writeCmp(b *strings.Builder, x CmpExpr, prec int) {
	switch x := x.(type) {
	case *Comparison:
		b.WriteString(x.String())
	case *CmpAnd:
		if prec > 2 {
			b.WriteByte('(')
		}
		for i, y := range x.Xs {
			if i > 0 {
				b.WriteString(" AND ")
			}
			writeCmp(b, y, 3)
		}
		if prec > 2 {
			b.WriteByte(')')
		}
	case *CmpOr:
		if prec > 1 {
			b.WriteByte('(')
		}
		for i, y := range x.Xs {
			if i > 0 {
				b.WriteString(" OR ")
			}
			writeCmp(b, y, 2)
		}
		if prec > 1 {
			b.WriteByte(')')
		}
	}
}

// writeObs renders an observation expression; prec: 0 top, 1 operand of FOLLOWEDBY, 2 of OR,
// 3 of AND, 4 qualified.
func writeObs(b *strings.Builder, x ObsExpr, prec int) {
	list := func(xs []ObsExpr, sep string, my int) {
		if prec > my {
			b.WriteByte('(')
		}
		for i, y := range xs {
			if i > 0 {
				b.WriteString(sep)
			}
			// Left-associative: a right operand of the same operator needs parentheses.
			p := my + 1
			if i == 0 {
				p = my
			}
			writeObs(b, y, p)
		}
		if prec > my {
			b.WriteByte(')')
		}
	}
	switch x := x.(type) {
	case *ObsLeaf:
		b.WriteByte('[')
		writeCmp(b, x.Cmp, 0)
		b.WriteByte(']')
	case *ObsFollowedBy:
		list(x.Xs, " FOLLOWEDBY ", 1)
	case *ObsOr:
		list(x.Xs, " OR ", 2)
	case *ObsAnd:
		list(x.Xs, " AND ", 3)
	case *ObsQualified:
		if repeatsQual(x.X, x.Qual) {
			// A second qualifier of a kind directly on [ ] is not allowed: nest in parentheses.
			b.WriteByte('(')
			writeObs(b, x.X, 0)
			b.WriteByte(')')
		} else {
			writeObs(b, x.X, 4)
		}
		switch x.Qual {
		case QualWithin:
			b.WriteString(" WITHIN " + x.WithinText + " SECONDS")
		case QualRepeats:
			b.WriteString(" REPEATS " + strconv.Itoa(x.Repeats) + " TIMES")
		case QualStartStop:
			b.WriteString(" START " + x.StartText + " STOP " + x.StopText)
		}
	}
}

// repeatsQual reports whether x is a chain of qualifiers on a [ ] that has one of kind q.
func repeatsQual(x ObsExpr, q int) bool {
	for {
		qx, ok := x.(*ObsQualified)
		if !ok {
			return false
		}
		if qx.Qual == q {
			// Only a problem when the chain ends at a leaf.
			for {
				y, ok := x.(*ObsQualified)
				if !ok {
					_, leaf := x.(*ObsLeaf)
					return leaf
				}
				x = y.X
			}
		}
		x = qx.X
	}
}

// SyntaxError is why a pattern does not compile: where, what was found and what was expected.
type SyntaxError struct {
	Offset   int    // byte offset in the pattern
	Line     int    // 1-based
	Column   int    // 1-based, in characters (code points)
	Found    string // what is at Offset, e.g. "']'" or "end of pattern"
	Expected string // what the grammar (or a rule of the spec) wants there
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("pattern %d:%d (byte %d): found %s, expected %s", e.Line, e.Column, e.Offset, e.Found, e.Expected)
}

func newSyntaxError(src string, off int, found, expected string) *SyntaxError {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	if !utf8.ValidString(src[:off]) {
		col = off + 1
	}
	return &SyntaxError{Offset: off, Line: line, Column: col, Found: found, Expected: expected}
}
