package match

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp/syntax"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// PatternSet is a compiled set of STIX patterns evaluated against observations: STIX observed-data
// (pattern.ReadObservations, pattern.ObservationsFromObjects) or observations a reader builds. It
// answers "which of these N patterns match this observation" without evaluating all N: every
// pattern is filed under triggers, at least one of which every observation it matches must have,
// and only the patterns whose triggers an observation has are evaluated (pattern.MatchOne).
//
// A pattern's triggers come from its comparisons, the cheapest kind that covers every match:
//   - an exact value: "=" or IN with a string constant, on any object type and path (a value at
//     that path of an object of that type);
//   - a CIDR block: "ISSUBSET" on any path (an address or block at that path inside the block);
//   - a literal of four bytes or more that every value LIKE or MATCHES accepts must contain (an
//     eight-byte piece of it, else a four-byte one, the one fewest literals share; compared ASCII
//     case-insensitively, at that path);
//   - a range: "<", "<=", ">", ">=" with a number or a timestamp (a number, or a timestamp, at that
//     path on the right side of the bound);
//   - otherwise the object type of a comparison (every comparison holds only on an object of its
//     type): the pattern is evaluated on every observation holding an object of that type.
//
// Within [ ], AND takes one operand's triggers (the cheapest), OR all operands'; between
// observation expressions likewise; qualifiers keep their operand's. The set evaluates each
// observation on its own, as MatchOne does: a pattern joining several observations (AND,
// FOLLOWEDBY, REPEATS) matches one observation only when its number_observed allows.
//
// A PatternSet is immutable and safe for concurrent use; each goroutine evaluates with its own
// PatternMatcher.
type PatternSet struct {
	texts    []string
	patterns []*pattern.Pattern // KeepCompiled: every pattern (nil: did not compile); else nil
	cache    sync.Map           // int32 → *pattern.Pattern, without KeepCompiled
	ncache   atomic.Int64
	byType   map[string]*psType
	paths    []psPath
	exact    map[string]int32 // pathID (4 bytes) + value → pattern, or -(i+1): multi[i]
	multi    [][]int32
	cidr     map[psCIDRKey][]int32
	grams    map[gramKey][]int32
	gramBits []uint64 // Bloom-like filter of the keys of grams (one hash)
	stats    PatternSetStats
}

// PatternSetStats counts how the patterns of a set are triggered.
type PatternSetStats struct {
	Patterns int // given
	Invalid  int // did not compile
	Exact    int // patterns with at least one exact-value trigger
	CIDR     int // ... a CIDR-block trigger
	Literal  int // ... a literal (LIKE, MATCHES) trigger
	Range    int // ... a range (<, <=, >, >= on a number or a timestamp) trigger
	// TypeGated counts patterns with at least one object-type trigger: evaluated on every
	// observation that holds an object of that type.
	TypeGated int
	Triggers  int // triggers filed, all kinds
}

// PatternError is a pattern that did not compile.
type PatternError struct {
	Index int // in the slice given to CompilePatterns
	Err   error
}

func (e PatternError) Error() string { return fmt.Sprintf("pattern %d: %v", e.Index, e.Err) }

// PatternSetOptions control CompilePatterns.
type PatternSetOptions struct {
	Workers int // goroutines compiling patterns (0: GOMAXPROCS)
	// KeepCompiled keeps every compiled pattern (about 1 KB each): a pattern is then never
	// compiled again when an observation has its triggers. Without it the set keeps the texts and
	// the triggers, and compiles a candidate pattern when it must evaluate it (keeping up to
	// maxCachedSetPatterns of them).
	KeepCompiled bool
}

type psType struct {
	paths []int32 // paths rooted at this type with exact, CIDR or literal triggers
	gated []int32 // patterns evaluated on every observation with an object of this type
}

type psPath struct {
	typ    string
	steps  []pattern.Step
	exact  bool
	gram4  bool      // literal triggers of four bytes
	gram8  bool      // ... of eight bytes
	fold4  bool      // ... of four bytes, case-insensitive
	fold8  bool      // ... of eight bytes, case-insensitive
	v4bits uint64    // prefix lengths 0..32 of ISSUBSET blocks of IPv4 on this path
	v6bits [3]uint64 // 0..128, IPv6
	ranges *psRanges
}

// psRanges are the range comparisons on one path, each list sorted by bound: a value v is a
// candidate for lo entries with bound ≤ v and hi entries with bound ≥ v.
type psRanges struct {
	numLo, numHi []psNum
	tmLo, tmHi   []psTime
}

type psNum struct {
	bound float64
	ref   int32
}

type psTime struct {
	bound time.Time
	ref   int32
}

// gramKey is a piece of a literal (n bytes, big-endian in v; n|foldGram when the literal is
// matched case-insensitively) on a path.
type gramKey struct {
	path uint32
	n    uint32
	v    uint64
}

const foldGram = 0x100

func (k gramKey) hash() uint64 {
	return ((k.v ^ uint64(k.path)<<40 ^ uint64(k.n)<<60) * 0x9e3779b97f4a7c15) >> 40
}

type psCIDRKey struct {
	path uint32
	p    netip.Prefix
}

// trigger kinds, cheapest first.
const (
	trigExact = iota
	trigCIDR
	trigGram
	trigRange
	trigType
)

// trigger is one trigger of a pattern before it is filed.
type trigger struct {
	kind   uint8
	path   string // object type + "\x00" + property path (exact, CIDR, literal); the type (type)
	steps  []pattern.Step
	value  string       // exact
	prefix netip.Prefix // CIDR
	grams  []gramKey    // literal: the pieces (path left 0) any of which may be chosen
	// range: a number or a time at the path must be at least (lower) or at most (!lower) bound.
	lower bool
	num   float64
	tm    time.Time
	isTm  bool
}

func trigCost(ts []trigger) int {
	c := 0
	for i := range ts {
		switch ts[i].kind {
		case trigExact:
			c++
		case trigCIDR:
			c += 2
		case trigGram:
			c += 4
		case trigRange:
			c += 16
		default:
			c += 1 << 20
		}
	}
	return c
}

// CompilePatterns compiles texts, one STIX pattern each, into a PatternSet. The set identifies a
// pattern by its index in texts. Patterns that do not compile are left out and returned as
// PatternErrors (with a nil error when all compile).
func CompilePatterns(texts []string, o PatternSetOptions) (*PatternSet, []PatternError) {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s := &PatternSet{
		texts:    slices.Clone(texts),
		byType:   map[string]*psType{},
		exact:    make(map[string]int32, len(texts)),
		cidr:     map[psCIDRKey][]int32{},
		grams:    map[gramKey][]int32{},
		gramBits: make([]uint64, 1<<14),
	}
	s.stats.Patterns = len(texts)
	if o.KeepCompiled {
		s.patterns = make([]*pattern.Pattern, len(texts))
	}
	trigs := make([][]trigger, len(texts))
	errs := make([][]PatternError, workers)
	var wg sync.WaitGroup
	const chunk = 1024
	var next sync.Mutex
	pos := 0
	for w := range workers {
		wg.Go(func() {
			for {
				next.Lock()
				lo := pos
				pos += chunk
				next.Unlock()
				if lo >= len(texts) {
					return
				}
				for i := lo; i < min(lo+chunk, len(texts)); i++ {
					p, err := pattern.Compile(texts[i])
					if err != nil {
						errs[w] = append(errs[w], PatternError{Index: i, Err: err})
						continue
					}
					if s.patterns != nil {
						s.patterns[i] = p
					}
					trigs[i] = obsTriggers(p.Root())
				}
			}
		})
	}
	wg.Wait()
	var bad []PatternError
	for _, e := range errs {
		bad = append(bad, e...)
	}
	slices.SortFunc(bad, func(a, b PatternError) int { return a.Index - b.Index })
	s.stats.Invalid = len(bad)

	// Literal triggers take the piece fewest literals share (on their path), so that a common
	// piece ("http", ".com") does not make a long list of candidates.
	pathIDs := map[string]int32{}
	pathID := func(t *trigger) int32 {
		id, ok := pathIDs[t.path]
		if !ok {
			id = int32(len(s.paths))
			pathIDs[t.path] = id
			typ, _, _ := strings.Cut(t.path, "\x00")
			s.paths = append(s.paths, psPath{typ: typ, steps: t.steps})
			pt := s.typeOf(typ)
			pt.paths = append(pt.paths, id)
		}
		return id
	}
	freq := map[gramKey]int32{}
	for _, ts := range trigs {
		for i := range ts {
			if ts[i].kind == trigGram {
				id := uint32(pathID(&ts[i]))
				for _, g := range ts[i].grams {
					g.path = id
					freq[g]++
				}
			}
		}
	}
	var key []byte
	for i, ts := range trigs {
		ref := int32(i)
		var kinds [trigType + 1]bool
		for j := range ts {
			t := &ts[j]
			kinds[t.kind] = true
			s.stats.Triggers++
			switch t.kind {
			case trigType:
				pt := s.typeOf(t.path)
				if n := len(pt.gated); n == 0 || pt.gated[n-1] != ref {
					pt.gated = append(pt.gated, ref)
				}
			case trigExact:
				id := pathID(t)
				s.paths[id].exact = true
				key = binary.LittleEndian.AppendUint32(key[:0], uint32(id))
				key = append(key, t.value...)
				s.addExact(string(key), ref)
			case trigCIDR:
				id := pathID(t)
				pp := &s.paths[id]
				if bits := t.prefix.Bits(); t.prefix.Addr().Is4() {
					pp.v4bits |= 1 << bits
				} else {
					pp.v6bits[bits/64] |= 1 << (bits % 64)
				}
				k := psCIDRKey{uint32(id), t.prefix}
				if l := s.cidr[k]; len(l) == 0 || l[len(l)-1] != ref {
					s.cidr[k] = append(l, ref)
				}
			case trigRange:
				pp := &s.paths[pathID(t)]
				if pp.ranges == nil {
					pp.ranges = &psRanges{}
				}
				r := pp.ranges
				switch {
				case t.isTm && t.lower:
					r.tmLo = append(r.tmLo, psTime{t.tm, ref})
				case t.isTm:
					r.tmHi = append(r.tmHi, psTime{t.tm, ref})
				case t.lower:
					r.numLo = append(r.numLo, psNum{t.num, ref})
				default:
					r.numHi = append(r.numHi, psNum{t.num, ref})
				}
			case trigGram:
				// An eight-byte piece when the literal has one: far fewer values hold it
				// by chance than a four-byte one.
				id := uint32(pathID(t))
				var best gramKey
				bestN := int32(-1)
				for _, g := range t.grams {
					g.path = id
					n := freq[g]*64 + gramCommonness(g)
					if g.n&^foldGram == 4 {
						n += 1 << 24
					}
					if bestN < 0 || n < bestN {
						best, bestN = g, n
					}
				}
				switch pp := &s.paths[id]; best.n {
				case 4:
					pp.gram4 = true
				case 8:
					pp.gram8 = true
				case 4 | foldGram:
					pp.fold4 = true
				default:
					pp.fold8 = true
				}
				if l := s.grams[best]; len(l) == 0 || l[len(l)-1] != ref {
					s.grams[best] = append(l, ref)
				}
				h := best.hash()
				s.gramBits[h>>6%uint64(len(s.gramBits))] |= 1 << (h & 63)
			}
		}
		for k, n := range kinds {
			if !n {
				continue
			}
			switch k {
			case trigExact:
				s.stats.Exact++
			case trigCIDR:
				s.stats.CIDR++
			case trigGram:
				s.stats.Literal++
			case trigRange:
				s.stats.Range++
			case trigType:
				s.stats.TypeGated++
			}
		}
	}
	for i := range s.paths {
		if r := s.paths[i].ranges; r != nil {
			byNum := func(a, b psNum) int { return cmp.Compare(a.bound, b.bound) }
			byTime := func(a, b psTime) int { return a.bound.Compare(b.bound) }
			slices.SortFunc(r.numLo, byNum)
			slices.SortFunc(r.numHi, byNum)
			slices.SortFunc(r.tmLo, byTime)
			slices.SortFunc(r.tmHi, byTime)
		}
	}
	return s, bad
}

func (s *PatternSet) typeOf(typ string) *psType {
	pt := s.byType[typ]
	if pt == nil {
		pt = &psType{}
		s.byType[typ] = pt
	}
	return pt
}

func (s *PatternSet) addExact(key string, ref int32) {
	v, ok := s.exact[key]
	switch {
	case !ok:
		s.exact[key] = ref
	case v >= 0:
		if v != ref {
			s.multi = append(s.multi, []int32{v, ref})
			s.exact[key] = -int32(len(s.multi))
		}
	default:
		l := s.multi[-v-1]
		if l[len(l)-1] != ref {
			s.multi[-v-1] = append(l, ref)
		}
	}
}

// gramCommonness guesses how common a four-byte piece is in the data, as a tie-break between
// pieces equally rare among the patterns' literals: punctuation ('.', '/', ':', ' ') makes up the
// structure of names, URLs and command lines, and a few pieces of letters are everywhere.
func gramCommonness(g gramKey) int32 {
	var c int32
	for i := range g.n &^ foldGram {
		b := byte(g.v >> (8 * i))
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= utf8.RuneSelf) {
			c += 16
		}
	}
	if g.n&^foldGram == 4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(g.v))
		if commonGrams[string(b[:])] {
			c += 8
		}
	}
	return c
}

var commonGrams = map[string]bool{"http": true, "ttps": true, "mail": true, "goog": true, "oogl": true,
	"ogle": true, "micr": true, "icro": true, "cros": true, "roso": true, "osof": true, "soft": true,
	"wind": true, "indo": true, "ndow": true, "dows": true, "syst": true, "yste": true, "stem": true,
	"powe": true, "ower": true, "wers": true, "ersh": true, "rshe": true, "shel": true, "hell": true,
	"exam": true, "xamp": true, "ampl": true, "mple": true, "user": true, "sers": true, "prog": true,
	"rogr": true, "ogra": true, "gram": true, "file": true, "team": true, "eams": true, "offi": true,
	"ffic": true, "fice": true, "loca": true, "ocal": true, "admi": true, "dmin": true, "upda": true,
	"pdat": true, "date": true, "logi": true, "ogin": true, "vers": true, "ersi": true, "rsio": true,
	"sion": true, "inde": true, "ndex": true, "stat": true, "tati": true, "atic": true, "chro": true,
	"hrom": true, "rome": true, "amaz": true, "mazo": true, "azon": true, "clou": true, "loud": true}

// Len returns the number of patterns given to CompilePatterns.
func (s *PatternSet) Len() int { return len(s.texts) }

// maxCachedSetPatterns bounds the patterns a set compiled for candidates keeps.
const maxCachedSetPatterns = 1 << 16

// Pattern returns pattern i compiled, or nil when it does not compile. It is safe for concurrent
// use.
func (s *PatternSet) Pattern(i int) *pattern.Pattern {
	if s.patterns != nil {
		return s.patterns[i]
	}
	if v, ok := s.cache.Load(int32(i)); ok {
		return v.(*pattern.Pattern)
	}
	p, err := pattern.Compile(s.texts[i])
	if err != nil {
		return nil // reported by CompilePatterns; such a pattern has no triggers
	}
	if s.ncache.Load() < maxCachedSetPatterns {
		if _, loaded := s.cache.LoadOrStore(int32(i), p); !loaded {
			s.ncache.Add(1)
		}
	}
	return p
}

// Stats says how the patterns are triggered.
func (s *PatternSet) Stats() PatternSetStats { return s.stats }

// obsTriggers returns the triggers of an observation expression: every observation a match of it
// uses for a leaf has one of them (see PatternSet).
func obsTriggers(x pattern.ObsExpr) []trigger {
	switch x := x.(type) {
	case *pattern.ObsLeaf:
		return cmpTriggers(x.Cmp)
	case *pattern.ObsAnd:
		return cheapest(x.Xs, obsTriggers)
	case *pattern.ObsFollowedBy:
		return cheapest(x.Xs, obsTriggers)
	case *pattern.ObsOr:
		var out []trigger
		for _, y := range x.Xs {
			out = append(out, obsTriggers(y)...)
		}
		return out
	case *pattern.ObsQualified:
		return obsTriggers(x.X)
	}
	return nil
}

func cheapest[X any](xs []X, f func(X) []trigger) []trigger {
	var best []trigger
	bestCost := -1
	for _, y := range xs {
		ts := f(y)
		if c := trigCost(ts); len(ts) > 0 && (bestCost < 0 || c < bestCost) {
			best, bestCost = ts, c
		}
	}
	return best
}

func cmpTriggers(x pattern.CmpExpr) []trigger {
	switch x := x.(type) {
	case *pattern.Comparison:
		return comparisonTriggers(x)
	case *pattern.CmpAnd:
		return cheapest(x.Xs, cmpTriggers)
	case *pattern.CmpOr:
		var out []trigger
		for _, y := range x.Xs {
			out = append(out, cmpTriggers(y)...)
		}
		return out
	}
	return nil
}

// comparisonTriggers returns the triggers of one comparison: it holds only on an object of its
// type (whatever its operator and NOT), and for some operators only where a value at its path
// has a given form.
func comparisonTriggers(c *pattern.Comparison) []trigger {
	typeOnly := []trigger{{kind: trigType, path: c.Path.ObjectType}}
	if c.Negated || !plainPath(c.Path.Steps) {
		return typeOnly
	}
	path := pathKey(&c.Path)
	switch c.Op {
	case pattern.OpEq:
		if c.Value.Kind == pattern.KindString {
			return []trigger{{kind: trigExact, path: path, steps: c.Path.Steps, value: c.Value.Str}}
		}
	case pattern.OpIn:
		var out []trigger
		for i := range c.Set {
			if c.Set[i].Kind != pattern.KindString {
				return typeOnly
			}
			out = append(out, trigger{kind: trigExact, path: path, steps: c.Path.Steps, value: c.Set[i].Str})
		}
		if len(out) > 0 {
			return out
		}
	case pattern.OpLt, pattern.OpLe, pattern.OpGt, pattern.OpGe:
		lower := c.Op == pattern.OpGt || c.Op == pattern.OpGe
		switch c.Value.Kind {
		case pattern.KindInt, pattern.KindFloat:
			if !math.IsNaN(c.Value.Float) {
				return []trigger{{kind: trigRange, path: path, steps: c.Path.Steps, lower: lower, num: c.Value.Float}}
			}
		case pattern.KindTimestamp:
			return []trigger{{kind: trigRange, path: path, steps: c.Path.Steps, lower: lower, tm: c.Value.Time, isTm: true}}
		}
	case pattern.OpIsSubset:
		if c.Value.Kind == pattern.KindString {
			if p, ok := pattern.ParseIPPrefix(c.Value.Str); ok {
				return []trigger{{kind: trigCIDR, path: path, steps: c.Path.Steps, prefix: p}}
			}
		}
	case pattern.OpLike:
		if c.Value.Kind == pattern.KindString {
			if g := likeGrams(c.Value.Str); len(g) > 0 {
				return []trigger{{kind: trigGram, path: path, steps: c.Path.Steps, grams: g}}
			}
		}
	case pattern.OpMatches:
		if c.Value.Kind == pattern.KindString {
			if g := regexpGrams(c.Value.Str); len(g) > 0 {
				return []trigger{{kind: trigGram, path: path, steps: c.Path.Steps, grams: g}}
			}
		}
	}
	return typeOnly
}

// pathKey names a path uniquely: the object type, then each step (a key, [*] or [n]).
func pathKey(p *pattern.Path) string {
	n := len(p.ObjectType)
	for _, st := range p.Steps {
		n += len(st.Key) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, p.ObjectType...)
	for _, st := range p.Steps {
		switch {
		case st.Star:
			b = append(b, 0, '*')
		case st.IsIndex:
			b = append(b, 0, '#')
			b = strconv.AppendInt(b, int64(st.Index), 10)
		default:
			b = append(b, 0, '.')
			b = append(b, st.Key...)
		}
	}
	return string(b)
}

// plainPath reports whether the evaluator reads the values at steps as JSON strings: no step
// into a *_bin or *_hex property (those are compared as octets).
func plainPath(steps []pattern.Step) bool {
	for _, st := range steps {
		if !st.IsIndex && (strings.HasSuffix(st.Key, "_bin") || strings.HasSuffix(st.Key, "_hex")) {
			return false
		}
	}
	return true
}

// likeGrams returns the four- and eight-byte pieces of the literal runs of a LIKE pattern
// (between its '%' and '_'): every string it accepts holds each of them (after NFC, as the
// evaluator compares).
func likeGrams(like string) []gramKey {
	like = norm.NFC.String(like)
	var g []gramKey
	for run := range strings.FieldsFuncSeq(like, func(r rune) bool { return r == '%' || r == '_' }) {
		g = appendGrams(g, run, false)
	}
	return g
}

// regexpGrams returns the four- and eight-byte pieces of the literal runs every match of the
// MATCHES expression contains, or nil when it has none of four bytes.
func regexpGrams(expr string) []gramKey {
	re, err := syntax.Parse("(?s)"+expr, syntax.Perl)
	if err != nil {
		return nil
	}
	var g []gramKey
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			g = appendGrams(g, string(re.Rune), re.Flags&syntax.FoldCase != 0)
		case syntax.OpCapture, syntax.OpPlus:
			walk(re.Sub[0])
		case syntax.OpRepeat:
			if re.Min >= 1 {
				walk(re.Sub[0])
			}
		case syntax.OpConcat:
			// Adjacent literals with the same case rule are one run.
			for i := 0; i < len(re.Sub); i++ {
				sub := re.Sub[i]
				if sub.Op != syntax.OpLiteral {
					walk(sub)
					continue
				}
				fold := sub.Flags & syntax.FoldCase
				run := string(sub.Rune)
				for i+1 < len(re.Sub) && re.Sub[i+1].Op == syntax.OpLiteral && re.Sub[i+1].Flags&syntax.FoldCase == fold {
					i++
					run += string(re.Sub[i].Rune)
				}
				g = appendGrams(g, run, fold != 0)
			}
		}
	}
	walk(re)
	return g
}

// appendGrams appends the four- and eight-byte pieces of run, ASCII lower-cased. When fold is set
// (the run matches case-insensitively), only pieces of ASCII bytes are taken, marked foldGram:
// their case-insensitive matches are ASCII too, but for k and s, which also fold to U+212A and
// U+017F; values are searched for those pieces with these two written k and s (foldValue).
func appendGrams(g []gramKey, run string, fold bool) []gramKey {
	for _, n := range []int{4, 8} {
		for i := 0; i+n <= len(run); i++ {
			ok := true
			var v uint64
			for j := range n {
				c := run[i+j]
				if fold && c >= utf8.RuneSelf {
					ok = false
					break
				}
				v = v<<8 | uint64(lowerASCII(c))
			}
			k := gramKey{n: uint32(n), v: v}
			if fold {
				k.n |= foldGram
			}
			if ok && !slices.Contains(g, k) {
				g = append(g, k)
			}
		}
	}
	return g
}

func lowerASCII(c byte) byte {
	if c-'A' < 26 {
		return c | 0x20
	}
	return c
}

// PatternMatcher evaluates observations against a PatternSet. It holds scratch memory and is not
// safe for concurrent use.
type PatternMatcher struct {
	s      *PatternSet
	stamp  []uint32 // per pattern: gen when it became a candidate
	gen    uint32
	cands  []int32
	types  []string
	key    []byte
	vals   []string
	nums   []any // values at a path with range triggers that are not strings
	byRef  map[string]int
	obs    *pattern.Observation
	Evals  int64 // patterns evaluated in full (candidates), since the matcher was made
	Misses int64 // candidates that did not match
}

// NewMatcher returns a PatternMatcher for the set.
func (s *PatternSet) NewMatcher() *PatternMatcher {
	return &PatternMatcher{s: s, stamp: make([]uint32, len(s.texts))}
}

// Match appends to dst the indexes of the patterns that match o (as pattern.MatchOne), ascending,
// and returns the extended slice.
func (m *PatternMatcher) Match(dst []int32, o *pattern.Observation) []int32 {
	m.candidates(o)
	slices.Sort(m.cands)
	for _, c := range m.cands {
		m.Evals++
		if p := m.s.Pattern(int(c)); p != nil && p.MatchOne(o) {
			dst = append(dst, c)
		} else {
			m.Misses++
		}
	}
	return dst
}

// Candidates appends to dst the indexes of the patterns whose triggers o has, ascending, without
// evaluating them. They include every pattern that matches a set of observations o is part of and
// o supplies a trigger to: a match of AND or FOLLOWEDBY needs a match of the operand whose triggers
// the pattern has, a match of OR one of an operand whose triggers it has too, so the union of the
// candidates of a set's observations holds every pattern that matches the set (pattern.Match).
func (m *PatternMatcher) Candidates(dst []int32, o *pattern.Observation) []int32 {
	m.candidates(o)
	start := len(dst)
	dst = append(dst, m.cands...)
	slices.Sort(dst[start:])
	return dst
}

// candidates collects the patterns whose triggers o has into m.cands.
func (m *PatternMatcher) candidates(o *pattern.Observation) {
	s := m.s
	m.gen++
	if m.gen == 0 {
		clear(m.stamp)
		m.gen = 1
	}
	m.cands = m.cands[:0]
	m.types = m.types[:0]
	m.obs, m.byRef = o, nil
	for i := range o.Objects {
		typ, _ := o.Objects[i].Props["type"].(string)
		pt := s.byType[typ]
		if pt == nil {
			continue
		}
		if len(pt.gated) > 0 && !slices.Contains(m.types, typ) {
			m.types = append(m.types, typ)
			for _, r := range pt.gated {
				m.add(r)
			}
		}
		for _, id := range pt.paths {
			pp := &s.paths[id]
			m.vals, m.nums = m.vals[:0], m.nums[:0]
			m.walk(o.Objects[i].Props, pp.steps, false, false)
			for _, v := range m.vals {
				m.probe(uint32(id), pp, v)
			}
			if pp.ranges != nil {
				for _, v := range m.nums {
					m.probeNumber(pp.ranges, v)
				}
			}
		}
	}
	m.obs = nil
}

func (m *PatternMatcher) add(r int32) {
	if m.stamp[r] != m.gen {
		m.stamp[r] = m.gen
		m.cands = append(m.cands, r)
	}
}

// probe looks the string value v at path id up in the set's exact, CIDR and literal tables.
func (m *PatternMatcher) probe(id uint32, pp *psPath, v string) {
	s := m.s
	if pp.exact {
		m.key = binary.LittleEndian.AppendUint32(m.key[:0], id)
		m.key = append(m.key, v...)
		if r, ok := s.exact[string(m.key)]; ok {
			if r >= 0 {
				m.add(r)
			} else {
				for _, x := range s.multi[-r-1] {
					m.add(x)
				}
			}
		}
	}
	if pp.v4bits != 0 || pp.v6bits != [3]uint64{} {
		if p, ok := pattern.ParseIPPrefix(v); ok {
			m.probeCIDR(id, pp, p)
		}
	}
	if pp.ranges != nil && (len(pp.ranges.tmLo) > 0 || len(pp.ranges.tmHi) > 0) {
		if ts, err := stix.ParseTimestamp(v); err == nil {
			m.probeTime(pp.ranges, ts.Time())
		}
	}
	if (pp.gram4 || pp.gram8 || pp.fold4 || pp.fold8) && len(v) >= 4 {
		if isASCII(v) {
			m.probeGrams(id, v, pp.gram4, pp.gram8, pp.fold4, pp.fold8)
		} else {
			if !norm.NFC.IsNormalString(v) {
				v = norm.NFC.String(v)
			}
			if f := foldValue(v); f != v {
				m.probeGrams(id, v, pp.gram4, pp.gram8, false, false)
				m.probeGrams(id, f, false, false, pp.fold4, pp.fold8)
			} else {
				m.probeGrams(id, v, pp.gram4, pp.gram8, pp.fold4, pp.fold8)
			}
		}
	}
}

// foldValue writes U+212A (Kelvin sign) as k and U+017F (long s) as s: the only characters
// outside ASCII that match an ASCII letter case-insensitively.
func foldValue(v string) string {
	if !strings.Contains(v, "\u212a") && !strings.Contains(v, "\u017f") {
		return v
	}
	return strings.NewReplacer("\u212a", "k", "\u017f", "s").Replace(v)
}

// probeGrams probes the pieces of v of the kinds asked for.
func (m *PatternMatcher) probeGrams(id uint32, v string, g4, g8, f4, f8 bool) {
	var g uint64
	for i := range len(v) {
		g = g<<8 | uint64(lowerASCII(v[i]))
		if i >= 3 {
			if g4 {
				m.probeGram(gramKey{id, 4, g & 0xffffffff})
			}
			if f4 {
				m.probeGram(gramKey{id, 4 | foldGram, g & 0xffffffff})
			}
		}
		if i >= 7 {
			if g8 {
				m.probeGram(gramKey{id, 8, g})
			}
			if f8 {
				m.probeGram(gramKey{id, 8 | foldGram, g})
			}
		}
	}
}

func (m *PatternMatcher) probeGram(k gramKey) {
	s := m.s
	h := k.hash()
	if s.gramBits[h>>6%uint64(len(s.gramBits))]&(1<<(h&63)) == 0 {
		return
	}
	for _, r := range s.grams[k] {
		m.add(r)
	}
}

// probeNumber adds the range patterns a number v may satisfy. The bounds are compared as
// float64, both ends included: rounding to float64 keeps the order of numbers, so every value the
// evaluator finds in range is found here (and a few on the bounds besides).
func (m *PatternMatcher) probeNumber(r *psRanges, v any) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(v), 64); err != nil {
			return
		}
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case int32:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float32:
		f = float64(v)
	default:
		return
	}
	for i := range r.numLo {
		if r.numLo[i].bound > f {
			break
		}
		m.add(r.numLo[i].ref)
	}
	i, _ := slices.BinarySearchFunc(r.numHi, f, func(e psNum, f float64) int { return cmp.Compare(e.bound, f) })
	for ; i < len(r.numHi); i++ {
		m.add(r.numHi[i].ref)
	}
}

// probeTime adds the range patterns a timestamp t may satisfy, both ends included.
func (m *PatternMatcher) probeTime(r *psRanges, t time.Time) {
	for i := range r.tmLo {
		if r.tmLo[i].bound.After(t) {
			break
		}
		m.add(r.tmLo[i].ref)
	}
	i, _ := slices.BinarySearchFunc(r.tmHi, t, func(e psTime, t time.Time) int { return e.bound.Compare(t) })
	for ; i < len(r.tmHi); i++ {
		m.add(r.tmHi[i].ref)
	}
}

func (m *PatternMatcher) probeCIDR(id uint32, pp *psPath, p netip.Prefix) {
	a := p.Addr()
	if a.Is4() {
		for l := 0; l <= p.Bits(); l++ {
			if pp.v4bits&(1<<l) == 0 {
				continue
			}
			q, err := a.Prefix(l)
			if err != nil {
				continue
			}
			for _, r := range m.s.cidr[psCIDRKey{id, q}] {
				m.add(r)
			}
		}
		return
	}
	for l := 0; l <= p.Bits(); l++ {
		if pp.v6bits[l/64]&(1<<(l%64)) == 0 {
			continue
		}
		q, err := a.Prefix(l)
		if err != nil {
			continue
		}
		for _, r := range m.s.cidr[psCIDRKey{id, q}] {
			m.add(r)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// walk collects into m.vals the strings at steps from cur, following the evaluator's rules: a
// *_ref property is dereferenced (by the Ref of an object of the observation) when a step follows
// it, a *_refs list holds references, [*] visits every element, [n] one.
func (m *PatternMatcher) walk(cur any, steps []pattern.Step, isRef, isRefList bool) {
	if len(steps) == 0 {
		switch v := cur.(type) {
		case string:
			m.vals = append(m.vals, v)
		case nil, bool, map[string]any, []any:
		default:
			m.nums = append(m.nums, v)
		}
		return
	}
	st := steps[0]
	if st.IsIndex {
		list, ok := cur.([]any)
		if !ok {
			return
		}
		if !st.Star {
			if st.Index >= 0 && st.Index < len(list) {
				m.walk(list[st.Index], steps[1:], isRefList, false)
			}
			return
		}
		for _, x := range list {
			m.walk(x, steps[1:], isRefList, false)
		}
		return
	}
	if isRef {
		ref, ok := cur.(string)
		if !ok {
			return
		}
		obj, ok := m.deref(ref)
		if !ok {
			return
		}
		cur = obj
	}
	obj, ok := cur.(map[string]any)
	if !ok {
		return
	}
	next, ok := obj[st.Key]
	if !ok {
		return
	}
	m.walk(next, steps[1:], strings.HasSuffix(st.Key, "_ref"), strings.HasSuffix(st.Key, "_refs"))
}

func (m *PatternMatcher) deref(ref string) (map[string]any, bool) {
	objs := m.obs.Objects
	if len(objs) <= 8 {
		for i := range objs {
			if objs[i].Ref == ref {
				return objs[i].Props, true
			}
		}
		return nil, false
	}
	if m.byRef == nil {
		m.byRef = make(map[string]int, len(objs))
		for i := range objs {
			if _, dup := m.byRef[objs[i].Ref]; !dup {
				m.byRef[objs[i].Ref] = i
			}
		}
	}
	i, ok := m.byRef[ref]
	if !ok {
		return nil, false
	}
	return objs[i].Props, true
}
