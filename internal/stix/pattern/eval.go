package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Observation is what a pattern is evaluated against: one observed-data object, or one event a log
// reader saw. It stands for Count observations made between First and Last (number_observed,
// first_observed and last_observed of observed-data); when they happened inside that window is
// unknown. A log reader builds one with First = Last = the event's time and Count = 1.
type Observation struct {
	ID          string // the observed-data id, or a label of the reader's choice; may be empty
	First, Last time.Time
	Count       int // values below 1 count as 1
	Objects     []Object
}

// Object is one cyber-observable object of an observation. Props holds its properties as decoded
// JSON: map[string]any, []any, string, float64 or json.Number (or a Go integer type), bool and
// nil; its "type" property names its type. Ref is the key by which other objects of the same
// observation reference it: the key in the objects dictionary of STIX 2.0 observed-data, the id in
// STIX 2.1. Objects of any type are evaluated, custom ones included.
type Object struct {
	Ref   string
	Props map[string]any
}

func (o *Observation) count() int {
	if o.Count < 1 {
		return 1
	}
	return o.Count
}

// objectView is an observation prepared for evaluation: its objects' types, and an index by Ref
// built on first use.
type objectView struct {
	obs   *Observation
	types []string
	byRef map[string]int
}

func newView(o *Observation) objectView {
	v := objectView{obs: o, types: make([]string, len(o.Objects))}
	for i := range o.Objects {
		v.types[i], _ = o.Objects[i].Props["type"].(string)
	}
	return v
}

func (v *objectView) deref(ref string) (map[string]any, bool) {
	objs := v.obs.Objects
	if len(objs) <= 8 {
		for i := range objs {
			if objs[i].Ref == ref {
				return objs[i].Props, true
			}
		}
		return nil, false
	}
	if v.byRef == nil {
		v.byRef = make(map[string]int, len(objs))
		for i := range objs {
			if _, dup := v.byRef[objs[i].Ref]; !dup {
				v.byRef[objs[i].Ref] = i
			}
		}
	}
	i, ok := v.byRef[ref]
	if !ok {
		return nil, false
	}
	return objs[i].Props, true
}

// evaluator holds the state of one evaluation.
type evaluator struct {
	steps int64
	lim   EvalLimits
}

// leafMatches reports whether the comparison expression of a leaf holds on the observation: on
// one of its objects taken as the root of every comparison (spec 9.5).
func (e *evaluator) leafMatches(leaf *ObsLeaf, v *objectView) bool {
	for i := range v.obs.Objects {
		e.steps++
		if !leaf.types[v.types[i]] {
			continue
		}
		if e.cmpHolds(leaf.Cmp, v, i) {
			return true
		}
	}
	return false
}

func (e *evaluator) cmpHolds(x CmpExpr, v *objectView, root int) bool {
	switch x := x.(type) {
	case *Comparison:
		return e.comparisonHolds(x, v, root)
	case *CmpAnd:
		for _, y := range x.Xs {
			if !e.cmpHolds(y, v, root) {
				return false
			}
		}
		return true
	case *CmpOr:
		for _, y := range x.Xs {
			if e.cmpHolds(y, v, root) {
				return true
			}
		}
	}
	return false
}

// comparisonHolds evaluates one comparison with the given root object. A path that does not
// resolve makes the comparison false whatever its operator and NOT (spec 9.6); otherwise the
// comparison holds when the operator holds for any of the values the path reaches ([*]), and NOT
// negates that. EXISTS holds when the path resolves; NOT EXISTS when it does not (on an object of
// the path's type).
func (e *evaluator) comparisonHolds(c *Comparison, v *objectView, root int) bool {
	if v.types[root] != c.Path.ObjectType {
		return false
	}
	found, hit := false, false
	e.walk(v, v.obs.Objects[root].Props, c.Path.Steps, kindPlain, func(val any) bool {
		found = true
		if c.test(val) {
			hit = true
			return true
		}
		return false
	})
	if c.Op == OpExists {
		return found != c.Negated
	}
	if !found {
		return false
	}
	return hit != c.Negated
}

// valKind says what the value being walked is, from the name of the property it came from.
type valKind uint8

const (
	kindPlain   valKind = iota
	kindRef             // the value of a *_ref property: a reference to dereference
	kindRefList         // the value of a *_refs property: a list of references
	kindBin             // a *_bin property: base64 octets
	kindHex             // a *_hex property: hex octets
	kindBinList         // a list of *_bin values
	kindHexList         // a list of *_hex values
)

func kindOfKey(k string) valKind {
	switch {
	case strings.HasSuffix(k, "_ref"):
		return kindRef
	case strings.HasSuffix(k, "_refs"):
		return kindRefList
	case strings.HasSuffix(k, "_bin"):
		return kindBin
	case strings.HasSuffix(k, "_hex"):
		return kindHex
	}
	return kindPlain
}

// walk follows steps from cur and calls yield with every value reached, stopping when yield
// returns true. It returns whether yield did.
func (e *evaluator) walk(v *objectView, cur any, steps []Step, kind valKind, yield func(any) bool) bool {
	e.steps++
	if len(steps) == 0 {
		switch kind {
		case kindBin, kindHex:
			s, ok := cur.(string)
			if !ok {
				return false
			}
			var b []byte
			var err error
			if kind == kindBin {
				b, err = base64.StdEncoding.DecodeString(s)
			} else {
				b, err = hex.DecodeString(s)
			}
			if err != nil {
				return false // the data cannot be obtained: not present
			}
			return yield(b)
		}
		if cur == nil {
			return false // JSON null is treated as absent
		}
		return yield(cur)
	}
	st := steps[0]
	if st.IsIndex {
		list, ok := cur.([]any)
		if !ok {
			return false
		}
		elemKind := kindPlain
		switch kind {
		case kindRefList:
			elemKind = kindRef
		case kindBinList, kindBin:
			elemKind = kindBin
		case kindHexList, kindHex:
			elemKind = kindHex
		}
		if !st.Star {
			if st.Index < 0 || st.Index >= len(list) {
				return false
			}
			return e.walk(v, list[st.Index], steps[1:], elemKind, yield)
		}
		for _, x := range list {
			if e.walk(v, x, steps[1:], elemKind, yield) {
				return true
			}
		}
		return false
	}
	if kind == kindRef {
		ref, ok := cur.(string)
		if !ok {
			return false
		}
		obj, ok := v.deref(ref)
		if !ok {
			return false
		}
		cur = obj
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return false
	}
	next, ok := m[st.Key]
	if !ok {
		return false
	}
	k := kindOfKey(st.Key)
	if k == kindBin || k == kindHex {
		if _, isList := next.([]any); isList {
			k += kindBinList - kindBin
		}
	}
	return e.walk(v, next, steps[1:], k, yield)
}
