package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Limits bound what Compile accepts. Exceeding one is a *SyntaxError, never a panic.
type Limits struct {
	MaxLength      int // bytes of pattern text
	MaxDepth       int // nesting of brackets and parentheses
	MaxComparisons int // comparison expressions in the whole pattern
}

// DefaultLimits are the limits Compile uses.
var DefaultLimits = Limits{MaxLength: 64 << 10, MaxDepth: 64, MaxComparisons: 1024}

// maxWithinSeconds is the largest WITHIN window: what a time.Duration holds (about 285 years).
const maxWithinSeconds = 9e9

// maxInt is the largest integer constant STIX allows (section 2.10: -(2^53)+1 to (2^53)-1).
const maxInt = 1<<53 - 1

// keywords are reserved words of the language (case-sensitive, as in the 2.1 grammar).
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUPERSET": true, "ISSUBSET": true, "IN": true, "EXISTS": true, "START": true, "STOP": true,
	"SECONDS": true, "WITHIN": true, "REPEATS": true, "TIMES": true, "true": true, "false": true,
}

// Pattern is a compiled STIX pattern. It is immutable and safe for concurrent use.
type Pattern struct {
	text  string
	root  ObsExpr
	cmps  []*Comparison
	leafs []*ObsLeaf
}

// Text returns the pattern as given to Compile.
func (p *Pattern) Text() string { return p.text }

// Root returns the pattern's syntax tree. Callers must not modify it.
func (p *Pattern) Root() ObsExpr { return p.root }

// Comparisons returns every comparison of the pattern, in source order.
func (p *Pattern) Comparisons() []*Comparison { return p.cmps }

// String renders the pattern in canonical syntax (single spaces, only the parentheses needed).
// Compiling the result gives an equivalent pattern.
func (p *Pattern) String() string {
	var b strings.Builder
	writeObs(&b, p.root, 0)
	return b.String()
}

// Compile parses and checks a pattern with DefaultLimits.
func Compile(text string) (*Pattern, error) { return CompileWithLimits(text, DefaultLimits) }

// MustCompile is Compile for patterns in code and tests; it panics on error.
func MustCompile(text string) *Pattern {
	p, err := Compile(text)
	if err != nil {
		panic(err)
	}
	return p
}

// CompileWithLimits parses and checks a pattern. Every error is a *SyntaxError.
func CompileWithLimits(text string, lim Limits) (*Pattern, error) {
	if lim.MaxLength > 0 && len(text) > lim.MaxLength {
		return nil, &SyntaxError{Offset: lim.MaxLength, Line: 1, Column: 1,
			Found: fmt.Sprintf("a pattern of %d bytes", len(text)), Expected: fmt.Sprintf("at most %d bytes", lim.MaxLength)}
	}
	ps := &parser{lex: lexer{src: text}, lim: lim, p: &Pattern{text: text}}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	if ps.tok.kind == tEOF {
		return nil, ps.errf("an empty pattern", "an observation expression such as [file:name = 'x']")
	}
	root, err := ps.obsExprs()
	if err != nil {
		return nil, err
	}
	if ps.tok.kind != tEOF {
		return nil, ps.errf(ps.tok.describe(), "AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern")
	}
	ps.p.root = root
	return ps.p, nil
}

type parser struct {
	lex   lexer
	tok   token
	lim   Limits
	depth int
	p     *Pattern

	lastOff int // offset of the last constant read
}

func (ps *parser) advance() error {
	t, err := ps.lex.next()
	if err != nil {
		return err
	}
	ps.tok = t
	return nil
}

func (ps *parser) errf(found, expected string) error {
	return newSyntaxError(ps.lex.src, ps.tok.off, found, expected)
}

func (ps *parser) errAt(off int, found, expected string) error {
	return newSyntaxError(ps.lex.src, off, found, expected)
}

func (ps *parser) isWord(w string) bool { return ps.tok.kind == tWord && ps.tok.text == w }

func (ps *parser) expectWord(w string) error {
	if !ps.isWord(w) {
		found := ps.tok.describe()
		if ps.tok.kind == tWord && strings.EqualFold(ps.tok.text, w) {
			found += " (keywords are upper case)"
		}
		return ps.errf(found, w)
	}
	return ps.advance()
}

func (ps *parser) enter() error {
	ps.depth++
	if ps.lim.MaxDepth > 0 && ps.depth > ps.lim.MaxDepth {
		return ps.errf(ps.tok.describe()+fmt.Sprintf(" nested %d deep", ps.depth), fmt.Sprintf("at most %d nested brackets and parentheses", ps.lim.MaxDepth))
	}
	return nil
}

// obsExprs := obsOr (FOLLOWEDBY obsOr)*
func (ps *parser) obsExprs() (ObsExpr, error) {
	x, err := ps.obsOr()
	if err != nil {
		return nil, err
	}
	if !ps.isWord("FOLLOWEDBY") {
		return x, nil
	}
	xs := []ObsExpr{x}
	for ps.isWord("FOLLOWEDBY") {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		y, err := ps.obsOr()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &ObsFollowedBy{Xs: xs}, nil
}

func (ps *parser) obsOr() (ObsExpr, error) {
	x, err := ps.obsAnd()
	if err != nil {
		return nil, err
	}
	if !ps.isWord("OR") {
		return x, nil
	}
	xs := []ObsExpr{x}
	for ps.isWord("OR") {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		y, err := ps.obsAnd()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &ObsOr{Xs: xs}, nil
}

func (ps *parser) obsAnd() (ObsExpr, error) {
	x, err := ps.obsQualified()
	if err != nil {
		return nil, err
	}
	if !ps.isWord("AND") {
		return x, nil
	}
	xs := []ObsExpr{x}
	for ps.isWord("AND") {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		y, err := ps.obsQualified()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &ObsAnd{Xs: xs}, nil
}

// obsQualified := obsPrimary qualifier*. A bracketed expression may not carry two qualifiers of
// the same kind (spec 9.5.1); a parenthesized group may (the qualifiers nest), as the OASIS
// validator also reads the rule.
func (ps *parser) obsQualified() (ObsExpr, error) {
	bracketed := ps.tok.kind == tLBrack
	x, err := ps.obsPrimary()
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for {
		off := ps.tok.off
		var q *ObsQualified
		switch {
		case ps.isWord("WITHIN"):
			q, err = ps.within()
		case ps.isWord("REPEATS"):
			q, err = ps.repeats()
		case ps.isWord("START"):
			q, err = ps.startStop()
		default:
			if ps.tok.kind == tWord && !keywords[ps.tok.text] && keywords[strings.ToUpper(ps.tok.text)] {
				return nil, ps.errf(ps.tok.describe()+" (keywords are upper case)", strings.ToUpper(ps.tok.text))
			}
			return x, nil
		}
		if err != nil {
			return nil, err
		}
		if bracketed && seen[q.Qual] {
			names := map[int]string{QualWithin: "WITHIN", QualRepeats: "REPEATS", QualStartStop: "START/STOP"}
			return nil, ps.errAt(off, "a second "+names[q.Qual]+" qualifier on the same observation expression",
				"at most one qualifier of each kind on an observation expression (put the expression in parentheses to nest them)")
		}
		seen[q.Qual] = true
		q.X = x
		x = q
	}
}

func (ps *parser) within() (*ObsQualified, error) {
	if err := ps.advance(); err != nil {
		return nil, err
	}
	t := ps.tok
	if t.kind != tInt && t.kind != tFloat {
		return nil, ps.errf(t.describe(), "a positive number of seconds after WITHIN")
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil || !(v > 0) || v > maxWithinSeconds {
		return nil, ps.errf(t.describe(), "a positive number of seconds (at most 9e9) after WITHIN")
	}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	if !ps.isWord("SECONDS") {
		return nil, ps.errf(ps.tok.describe(), "SECONDS (the only unit of WITHIN)")
	}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	d := time.Duration(math.Round(v * float64(time.Second)))
	if d <= 0 {
		d = 1 // a positive window below a nanosecond still admits simultaneous observations
	}
	return &ObsQualified{Qual: QualWithin, Within: d, WithinText: strings.TrimPrefix(t.text, "+")}, nil
}

func (ps *parser) repeats() (*ObsQualified, error) {
	if err := ps.advance(); err != nil {
		return nil, err
	}
	t := ps.tok
	n, err := strconv.ParseInt(t.text, 10, 64)
	if t.kind != tInt || err != nil || n < 1 || n > math.MaxInt32 {
		return nil, ps.errf(t.describe(), "a positive integer after REPEATS")
	}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	if err := ps.expectWord("TIMES"); err != nil {
		return nil, err
	}
	return &ObsQualified{Qual: QualRepeats, Repeats: int(n)}, nil
}

func (ps *parser) startStop() (*ObsQualified, error) {
	if err := ps.advance(); err != nil {
		return nil, err
	}
	start, startText, err := ps.qualTime("START")
	if err != nil {
		return nil, err
	}
	if err := ps.expectWord("STOP"); err != nil {
		return nil, err
	}
	stop, stopText, err := ps.qualTime("STOP")
	if err != nil {
		return nil, err
	}
	return &ObsQualified{Qual: QualStartStop, Start: start, Stop: stop, StartText: startText, StopText: stopText}, nil
}

// qualTime reads the timestamp of START or STOP: t'...' (STIX 2.1), or a plain string holding a
// timestamp (STIX 2.0 patterns wrote them so).
func (ps *parser) qualTime(kw string) (time.Time, string, error) {
	t := ps.tok
	if t.kind != tTimestamp && t.kind != tString {
		return time.Time{}, "", ps.errf(t.describe(), "a timestamp constant t'YYYY-MM-DDTHH:MM:SSZ' after "+kw)
	}
	ts, err := stix.ParseTimestamp(t.val)
	if err != nil {
		return time.Time{}, "", ps.errf(t.describe(), "a valid timestamp after "+kw+": "+timestampProblem(err))
	}
	if err := ps.advance(); err != nil {
		return time.Time{}, "", err
	}
	return ts.Time(), "t'" + t.val + "'", nil
}

func timestampProblem(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// obsPrimary := '[' cmpOr ']' | '(' obsExprs ')'
func (ps *parser) obsPrimary() (ObsExpr, error) {
	switch ps.tok.kind {
	case tLBrack:
		if err := ps.enter(); err != nil {
			return nil, err
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		c, err := ps.cmpOr()
		if err != nil {
			return nil, err
		}
		if ps.tok.kind != tRBrack {
			return nil, ps.errf(ps.tok.describe(), "AND, OR or ']' to close the observation expression")
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		ps.depth--
		leaf := &ObsLeaf{Cmp: c, types: map[string]bool{}}
		collectTypes(c, leaf.types)
		ps.p.leafs = append(ps.p.leafs, leaf)
		return leaf, nil
	case tLParen:
		if err := ps.enter(); err != nil {
			return nil, err
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		x, err := ps.obsExprs()
		if err != nil {
			return nil, err
		}
		if ps.tok.kind != tRParen {
			return nil, ps.errf(ps.tok.describe(), "AND, OR, FOLLOWEDBY, a qualifier or ')'")
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		ps.depth--
		return x, nil
	}
	found := ps.tok.describe()
	if ps.tok.kind == tWord && len(ps.p.cmps) == 0 && ps.tok.off == 0 {
		found += " (a comparison must be inside square brackets)"
	}
	return nil, ps.errf(found, "'[' to start an observation expression, or '('")
}

func collectTypes(c CmpExpr, into map[string]bool) {
	switch c := c.(type) {
	case *Comparison:
		into[c.Path.ObjectType] = true
	case *CmpAnd:
		for _, x := range c.Xs {
			collectTypes(x, into)
		}
	case *CmpOr:
		for _, x := range c.Xs {
			collectTypes(x, into)
		}
	}
}

func (ps *parser) cmpOr() (CmpExpr, error) {
	x, err := ps.cmpAnd()
	if err != nil {
		return nil, err
	}
	if !ps.isWord("OR") {
		return x, nil
	}
	xs := []CmpExpr{x}
	for ps.isWord("OR") {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		y, err := ps.cmpAnd()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &CmpOr{Xs: xs}, nil
}

func (ps *parser) cmpAnd() (CmpExpr, error) {
	x, err := ps.cmpPrimary()
	if err != nil {
		return nil, err
	}
	if !ps.isWord("AND") {
		return x, nil
	}
	xs := []CmpExpr{x}
	for ps.isWord("AND") {
		if err := ps.advance(); err != nil {
			return nil, err
		}
		y, err := ps.cmpPrimary()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	return &CmpAnd{Xs: xs}, nil
}

// cmpPrimary := '(' cmpOr ')' | [NOT] EXISTS path | path [NOT] op constant
func (ps *parser) cmpPrimary() (CmpExpr, error) {
	if ps.tok.kind == tLParen {
		if err := ps.enter(); err != nil {
			return nil, err
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		x, err := ps.cmpOr()
		if err != nil {
			return nil, err
		}
		if ps.tok.kind != tRParen {
			return nil, ps.errf(ps.tok.describe(), "AND, OR or ')'")
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		ps.depth--
		return x, nil
	}
	c := &Comparison{Offset: ps.tok.off}
	if ps.lim.MaxComparisons > 0 && len(ps.p.cmps) >= ps.lim.MaxComparisons {
		return nil, ps.errf(fmt.Sprintf("comparison number %d", len(ps.p.cmps)+1), fmt.Sprintf("at most %d comparisons in a pattern", ps.lim.MaxComparisons))
	}
	if ps.isWord("NOT") || ps.isWord("EXISTS") {
		if ps.isWord("NOT") {
			c.Negated = true
			if err := ps.advance(); err != nil {
				return nil, err
			}
			if !ps.isWord("EXISTS") {
				return nil, ps.errf(ps.tok.describe(), "EXISTS after a leading NOT (elsewhere NOT goes between the object path and the operator)")
			}
		}
		if err := ps.advance(); err != nil {
			return nil, err
		}
		path, err := ps.path()
		if err != nil {
			return nil, err
		}
		c.Path, c.Op = path, OpExists
		ps.p.cmps = append(ps.p.cmps, c)
		return c, nil
	}
	path, err := ps.path()
	if err != nil {
		return nil, err
	}
	c.Path = path
	if ps.isWord("NOT") {
		c.Negated = true
		if err := ps.advance(); err != nil {
			return nil, err
		}
	}
	opTok := ps.tok
	switch {
	case opTok.kind == tOp:
		c.Op = map[string]Op{"=": OpEq, "==": OpEq, "!=": OpNe, "<>": OpNe, "<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe}[opTok.text]
	case opTok.kind == tWord:
		c.Op = map[string]Op{"IN": OpIn, "LIKE": OpLike, "MATCHES": OpMatches, "ISSUBSET": OpIsSubset, "ISSUPERSET": OpIsSuperset}[opTok.text]
	}
	if c.Op == 0 {
		found := opTok.describe()
		if opTok.kind == tWord && opTok.text != strings.ToUpper(opTok.text) && keywords[strings.ToUpper(opTok.text)] {
			found += " (keywords are upper case)"
		}
		return nil, ps.errf(found, "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)")
	}
	if err := ps.advance(); err != nil {
		return nil, err
	}
	switch c.Op {
	case OpIn:
		if err := ps.set(c); err != nil {
			return nil, err
		}
	default:
		v, err := ps.constant()
		if err != nil {
			return nil, err
		}
		if err := ps.checkOperand(c, v, opTok); err != nil {
			return nil, err
		}
		c.Value = v
	}
	ps.p.cmps = append(ps.p.cmps, c)
	return c, nil
}

// checkOperand applies the grammar's and the spec's rules on which constants an operator takes,
// and prepares LIKE, MATCHES and the set operators.
func (ps *parser) checkOperand(c *Comparison, v Constant, opTok token) error {
	bad := func(want string) error {
		return ps.errAt(ps.lastOff, fmt.Sprintf("a %s constant after %s", v.Kind, opTok.text), want)
	}
	switch c.Op {
	case OpLt, OpLe, OpGt, OpGe:
		if v.Kind == KindBool {
			return bad("an orderable constant (number, string, binary, hex or timestamp)")
		}
	case OpLike:
		if v.Kind != KindString {
			return bad("a string constant")
		}
		re, err := likeRegexp(v.Str)
		if err != nil {
			return ps.errAt(ps.lastOff, "a LIKE pattern that cannot be compiled", err.Error())
		}
		c.re = re
	case OpMatches:
		if v.Kind != KindString {
			return bad("a string constant holding a regular expression")
		}
		re, err := compileRegexp(v.Str)
		if err != nil {
			return ps.errAt(ps.lastOff, "the regular expression "+v.Text, err.Error())
		}
		c.re = re
	case OpIsSubset, OpIsSuperset:
		if v.Kind != KindString {
			return bad("a string constant holding an IPv4 or IPv6 address or CIDR block")
		}
		pr, ok := ParseIPPrefix(v.Str)
		if !ok {
			return ps.errAt(ps.lastOff, v.Text, "an IPv4 or IPv6 address or CIDR block such as '198.51.100.0/24'")
		}
		c.prefix = pr
	}
	if c.Op == OpEq || c.Op == OpNe {
		if err := ps.checkHash(c, v); err != nil {
			return err
		}
	}
	return nil
}

// set parses ( constant, ... ); the constants must be of one type (numbers may mix integers and
// floats, binary may mix b” and h”).
func (ps *parser) set(c *Comparison) error {
	if ps.tok.kind != tLParen {
		return ps.errf(ps.tok.describe(), "'(' to start the set of IN")
	}
	if err := ps.advance(); err != nil {
		return err
	}
	c.Set = []Constant{}
	if ps.tok.kind == tRParen {
		return ps.advance()
	}
	for {
		v, err := ps.constant()
		if err != nil {
			return err
		}
		if len(c.Set) > 0 && v.Kind.family() != c.Set[0].Kind.family() {
			return ps.errAt(ps.lastOff, fmt.Sprintf("a %s constant in a set of %s constants", v.Kind, c.Set[0].Kind),
				"constants of one type in a set (the spec requires homogeneous sets)")
		}
		if err := ps.checkHash(c, v); err != nil {
			return err
		}
		c.Set = append(c.Set, v)
		switch ps.tok.kind {
		case tComma:
			if err := ps.advance(); err != nil {
				return err
			}
		case tRParen:
			return ps.advance()
		default:
			return ps.errf(ps.tok.describe(), "',' or ')' in the set")
		}
	}
}

// hashPatterns are the value shapes of hash algorithms (STIX 2.1 section 10.7 and the algorithms the
// OASIS pattern validator also checks), keyed by the upper-cased name without hyphens.
var hashPatterns = map[string]*regexp.Regexp{
	"MD5":       regexp.MustCompile(`^[a-fA-F0-9]{32}$`),
	"SHA1":      regexp.MustCompile(`^[a-fA-F0-9]{40}$`),
	"SHA224":    regexp.MustCompile(`^[a-fA-F0-9]{56}$`),
	"SHA256":    regexp.MustCompile(`^[a-fA-F0-9]{64}$`),
	"SHA384":    regexp.MustCompile(`^[a-fA-F0-9]{96}$`),
	"SHA512":    regexp.MustCompile(`^[a-fA-F0-9]{128}$`),
	"SHA3224":   regexp.MustCompile(`^[a-fA-F0-9]{56}$`),
	"SHA3256":   regexp.MustCompile(`^[a-fA-F0-9]{64}$`),
	"SHA3384":   regexp.MustCompile(`^[a-fA-F0-9]{96}$`),
	"SHA3512":   regexp.MustCompile(`^[a-fA-F0-9]{128}$`),
	"RIPEMD160": regexp.MustCompile(`^[a-fA-F0-9]{40}$`),
	"WHIRLPOOL": regexp.MustCompile(`^[a-fA-F0-9]{128}$`),
	"SSDEEP":    regexp.MustCompile(`^[a-zA-Z0-9/+:.]{1,128}$`),
}

// checkHash refuses an equality test of a hashes dictionary entry of a known algorithm against a
// string that cannot be such a hash: such a comparison can never be true, and is a mistake.
func (ps *parser) checkHash(c *Comparison, v Constant) error {
	n := len(c.Path.Steps)
	if v.Kind != KindString || n < 2 || c.Path.Steps[n-1].IsIndex || c.Path.Steps[n-2].IsIndex || c.Path.Steps[n-2].Key != "hashes" {
		return nil
	}
	alg := c.Path.Steps[n-1].Key
	re := hashPatterns[strings.ReplaceAll(strings.ToUpper(alg), "-", "")]
	if re == nil || re.MatchString(v.Str) {
		return nil
	}
	return ps.errAt(ps.lastOff, fmt.Sprintf("%s, which is not a valid %s hash", v.Text, alg), "a "+alg+" hash value")
}

// path := type ':' name ('.' name | '[' (int | '*') ']')*
func (ps *parser) path() (Path, error) {
	t := ps.tok
	if t.kind != tWord || keywords[t.text] {
		return Path{}, ps.errf(t.describe(), "an object path such as file:name")
	}
	p := Path{ObjectType: t.text}
	if err := ps.advance(); err != nil {
		return Path{}, err
	}
	if ps.tok.kind != tColon {
		found := ps.tok.describe()
		if ps.tok.kind == tDot {
			found += " (the object type is followed by ':')"
		}
		return Path{}, ps.errf(found, "':' after the object type "+strconv.Quote(p.ObjectType))
	}
	if err := ps.advance(); err != nil {
		return Path{}, err
	}
	key, err := ps.propName()
	if err != nil {
		return Path{}, err
	}
	p.Steps = append(p.Steps, Step{Key: key})
	for {
		switch ps.tok.kind {
		case tDot:
			if err := ps.advance(); err != nil {
				return Path{}, err
			}
			key, err := ps.propName()
			if err != nil {
				return Path{}, err
			}
			p.Steps = append(p.Steps, Step{Key: key})
		case tLBrack:
			if err := ps.advance(); err != nil {
				return Path{}, err
			}
			st := Step{IsIndex: true}
			switch ps.tok.kind {
			case tStar:
				st.Star = true
			case tInt:
				n, err := strconv.ParseInt(ps.tok.text, 10, 32)
				if err != nil {
					return Path{}, ps.errf(ps.tok.describe(), "a list index that fits in 32 bits")
				}
				st.Index = int(n)
			default:
				return Path{}, ps.errf(ps.tok.describe(), "a list index or '*' inside [ ]")
			}
			if err := ps.advance(); err != nil {
				return Path{}, err
			}
			if ps.tok.kind != tRBrack {
				return Path{}, ps.errf(ps.tok.describe(), "']' after the list index")
			}
			if err := ps.advance(); err != nil {
				return Path{}, err
			}
			p.Steps = append(p.Steps, st)
		default:
			return p, nil
		}
	}
}

// propName reads a property name or dictionary key: an identifier without hyphens, or a quoted
// string.
func (ps *parser) propName() (string, error) {
	t := ps.tok
	switch t.kind {
	case tString:
		return t.val, ps.advance()
	case tWord:
		if strings.Contains(t.text, "-") {
			return "", ps.errf(t.describe(), fmt.Sprintf("a property name; one with a hyphen must be quoted: '%s'", t.text))
		}
		return t.text, ps.advance()
	}
	return "", ps.errf(t.describe(), "a property name (an identifier, or a quoted name such as 'SHA-256')")
}

// constant reads one constant; ps.lastOff is set to its offset.
func (ps *parser) constant() (Constant, error) {
	t := ps.tok
	ps.lastOff = t.off
	c := Constant{Text: t.text}
	switch t.kind {
	case tString:
		c.Kind, c.Str = KindString, t.val
	case tInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil || n > maxInt || n < -maxInt {
			return c, ps.errf(t.describe(), "an integer between -(2^53)+1 and 2^53-1")
		}
		c.Kind, c.Int, c.Float = KindInt, n, float64(n)
		c.Text = strings.TrimPrefix(t.text, "+")
	case tFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return c, ps.errf(t.describe(), "a finite floating-point number")
		}
		c.Kind, c.Float = KindFloat, f
		c.Text = strings.TrimPrefix(t.text, "+")
	case tWord:
		switch t.text {
		case "true", "false":
			c.Kind, c.Bool = KindBool, t.text == "true"
		default:
			found := t.describe()
			if strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false") {
				found += " (booleans are lower case)"
			} else {
				found += " (strings are quoted with apostrophes)"
			}
			return c, ps.errf(found, "a constant")
		}
	case tBinary:
		s := strings.NewReplacer("\n", "", "\r", "").Replace(t.val) // line feeds are allowed and ignored
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return c, ps.errf(t.describe(), "valid base64 (RFC 4648, with padding) in a binary constant")
		}
		c.Kind, c.Str = KindBinary, string(b)
	case tHex:
		if len(t.val)%2 != 0 {
			return c, ps.errf(t.describe(), "an even number of hex digits in a hex constant")
		}
		b, err := hex.DecodeString(t.val)
		if err != nil {
			return c, ps.errf(t.describe(), "only hex digits (0-9, a-f) in a hex constant")
		}
		c.Kind, c.Str = KindHex, string(b)
	case tTimestamp:
		ts, err := stix.ParseTimestamp(t.val)
		if err != nil {
			return c, ps.errf(t.describe(), "a timestamp of the form t'YYYY-MM-DDTHH:MM:SS[.s]Z': "+timestampProblem(err))
		}
		c.Kind, c.Time = KindTimestamp, ts.Time()
	default:
		return c, ps.errf(t.describe(), "a constant (string, number, boolean, b'…', h'…' or t'…')")
	}
	c.prepare()
	return c, ps.advance()
}

// ParseIPPrefix reads an IPv4 or IPv6 address (as a /32 or /128) or CIDR block as ISSUBSET and
// ISSUPERSET read them: a block is masked, zones are refused.
func ParseIPPrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
