package pattern

import (
	"strconv"
)

// IndexKey is a comparison of a pattern that tests an object property for one exact value, and so
// can serve as a key of an index of exact values: the pattern can only match an observation in
// which some object of type ObjectType has Value at Path (when Required, or when
// Pattern.IndexComplete says the keys cover the pattern).
type IndexKey struct {
	ObjectType string // e.g. "file"
	// Path is the property path after the colon, in pattern syntax: "value", "hashes.'SHA-256'",
	// "resolves_to_refs[*].value". Keys with a hyphen or a dot are quoted; list steps and *_ref
	// dereferences appear as in the pattern.
	Path  string
	Steps []Step // the same path, parsed
	Op    Op     // OpEq, or OpIn for one member of a set
	Kind  Kind   // the constant's kind
	// Value is the constant: the string itself (no quotes, escapes resolved), the octets of b'' and
	// h'' constants, the decimal form of numbers, "true"/"false", or the timestamp as written.
	Value string
	// Required is true when every match of the pattern satisfies this comparison (it is not under
	// an OR, at either level).
	Required bool
	// Comparison is the comparison the key comes from.
	Comparison *Comparison
}

// IndexKeys lists the pattern's comparisons usable as exact-value index keys: = and IN, without
// NOT, with a string, binary, hex, integer or boolean constant. An IN gives one key per member.
// Comparisons with floats and timestamps are left out (their values have many spellings).
//
// A matcher indexes these keys; when an observation hits one, it evaluates the whole pattern with
// Match (or MatchOne) on the observations around the hit. That finds every match if Required is
// true for some key, or more generally if IndexComplete is true.
func (p *Pattern) IndexKeys() []IndexKey {
	var keys []IndexKey
	var walkCmp func(x CmpExpr, req bool)
	walkCmp = func(x CmpExpr, req bool) {
		switch x := x.(type) {
		case *Comparison:
			if !indexable(x) {
				return
			}
			k := IndexKey{ObjectType: x.Path.ObjectType, Path: x.Path.PropertyPath(), Steps: x.Path.Steps, Op: x.Op, Required: req, Comparison: x}
			if x.Op == OpEq {
				k.Kind, k.Value = x.Value.Kind, keyValue(&x.Value)
				keys = append(keys, k)
				return
			}
			for i := range x.Set {
				k.Kind, k.Value = x.Set[i].Kind, keyValue(&x.Set[i])
				k.Required = req && len(x.Set) == 1
				keys = append(keys, k)
			}
		case *CmpAnd:
			for _, y := range x.Xs {
				walkCmp(y, req)
			}
		case *CmpOr:
			for _, y := range x.Xs {
				walkCmp(y, req && len(x.Xs) == 1)
			}
		}
	}
	var walkObs func(x ObsExpr, req bool)
	walkObs = func(x ObsExpr, req bool) {
		switch x := x.(type) {
		case *ObsLeaf:
			walkCmp(x.Cmp, req)
		case *ObsAnd:
			for _, y := range x.Xs {
				walkObs(y, req)
			}
		case *ObsFollowedBy:
			for _, y := range x.Xs {
				walkObs(y, req)
			}
		case *ObsOr:
			for _, y := range x.Xs {
				walkObs(y, false)
			}
		case *ObsQualified:
			walkObs(x.X, req)
		}
	}
	walkObs(p.root, true)
	return keys
}

func indexable(c *Comparison) bool {
	if c.Negated {
		return false
	}
	ok := func(v *Constant) bool {
		switch v.Kind {
		case KindString, KindBinary, KindHex, KindInt, KindBool:
			return true
		}
		return false
	}
	switch c.Op {
	case OpEq:
		return ok(&c.Value)
	case OpIn:
		if len(c.Set) == 0 {
			return false
		}
		for i := range c.Set {
			if !ok(&c.Set[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func keyValue(v *Constant) string {
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return v.Str
}

// IndexComplete reports whether every match of the pattern satisfies at least one of the
// comparisons IndexKeys returns, so that evaluating the pattern only where a key hits finds every
// match. It is false for patterns such as [file:size > 10] or [a:x = 1] OR [b:y LIKE 'z%'].
func (p *Pattern) IndexComplete() bool {
	var cmpCovered func(x CmpExpr) bool
	cmpCovered = func(x CmpExpr) bool {
		switch x := x.(type) {
		case *Comparison:
			return indexable(x)
		case *CmpAnd:
			for _, y := range x.Xs {
				if cmpCovered(y) {
					return true
				}
			}
			return false
		case *CmpOr:
			for _, y := range x.Xs {
				if !cmpCovered(y) {
					return false
				}
			}
			return true
		}
		return false
	}
	var obsCovered func(x ObsExpr) bool
	obsCovered = func(x ObsExpr) bool {
		switch x := x.(type) {
		case *ObsLeaf:
			return cmpCovered(x.Cmp)
		case *ObsAnd:
			for _, y := range x.Xs {
				if obsCovered(y) {
					return true
				}
			}
			return false
		case *ObsFollowedBy:
			for _, y := range x.Xs {
				if obsCovered(y) {
					return true
				}
			}
			return false
		case *ObsOr:
			for _, y := range x.Xs {
				if !obsCovered(y) {
					return false
				}
			}
			return true
		case *ObsQualified:
			return obsCovered(x.X)
		}
		return false
	}
	return obsCovered(p.root)
}
