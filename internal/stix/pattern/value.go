package pattern

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/renkei-cti/renkei/internal/stix"
)

// The values the evaluator reads from objects are decoded JSON: string, float64, json.Number, the
// Go integer types, bool, nil, map[string]any and []any. Properties whose names end in _bin or
// _hex are decoded to octets ([]byte) when the path steps into them.

// number reads v as a number: an exact integer when it is one, else a float.
func number(v any) (i int64, f float64, isInt, ok bool) {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= maxInt {
			return int64(v), v, true, true
		}
		return 0, v, false, true
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n, float64(n), true, true
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, 0, false, false
		}
		return number(f)
	case int:
		return int64(v), float64(v), true, true
	case int64:
		return v, float64(v), true, true
	case int32:
		return int64(v), float64(v), true, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, float64(v), false, true
		}
		return int64(v), float64(v), true, true
	case float32:
		return number(float64(v))
	}
	return 0, 0, false, false
}

// latin1 converts a string to octets when every code point is below U+0100.
func latin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

// latin1String turns octets into the string of the code points with the same values, so that a
// regular expression matches them byte for byte (\xd4 matches the octet 0xd4).
func latin1String(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		if c < utf8.RuneSelf {
			s.WriteByte(c)
		} else {
			s.WriteRune(rune(c))
		}
	}
	return s.String()
}

// order compares a value with a constant: -1, 0 or 1, and ok=false when their types are not
// comparable (section 9.6.1: the comparison is then false, and != is true).
func order(v any, c *Constant) (int, bool) {
	switch c.Kind {
	case KindString:
		switch v := v.(type) {
		case string:
			return strings.Compare(v, c.Str), true
		case []byte:
			if !c.isBin {
				return 0, false
			}
			return bytes.Compare(v, c.latin1), true
		}
	case KindBinary, KindHex:
		switch v := v.(type) {
		case []byte:
			return bytes.Compare(v, []byte(c.Str)), true
		case string:
			b, ok := latin1(v)
			if !ok {
				return 0, false
			}
			return bytes.Compare(b, []byte(c.Str)), true
		}
	case KindInt, KindFloat:
		i, f, isInt, ok := number(v)
		if !ok {
			return 0, false
		}
		if isInt && c.Kind == KindInt {
			return cmpInt(i, c.Int), true
		}
		return cmpFloat(f, c.Float), true
	case KindBool:
		b, ok := v.(bool)
		if !ok {
			return 0, false
		}
		if b == c.Bool {
			return 0, true
		}
		return 1, true // only = and != reach here
	case KindTimestamp:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		ts, err := stix.ParseTimestamp(s)
		if err != nil {
			return 0, false
		}
		return ts.Time().Compare(c.Time), true
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// test applies one comparison operator to one value found at the comparison's path. Negation is
// applied by the caller, to the comparison as a whole.
func (c *Comparison) test(v any) bool {
	switch c.Op {
	case OpEq, OpNe:
		r, ok := order(v, &c.Value)
		if !ok {
			return c.Op == OpNe
		}
		return (r == 0) == (c.Op == OpEq)
	case OpLt, OpLe, OpGt, OpGe:
		r, ok := order(v, &c.Value)
		if !ok {
			return false
		}
		switch c.Op {
		case OpLt:
			return r < 0
		case OpLe:
			return r <= 0
		case OpGt:
			return r > 0
		}
		return r >= 0
	case OpIn:
		for i := range c.Set {
			if r, ok := order(v, &c.Set[i]); ok && r == 0 {
				return true
			}
		}
		return false
	case OpLike:
		s, ok := v.(string)
		if !ok {
			return false
		}
		return c.re.MatchString(nfc(s))
	case OpMatches:
		switch v := v.(type) {
		case string:
			return c.re.MatchString(nfc(v))
		case []byte:
			return c.re.MatchString(latin1String(v))
		}
		return false
	case OpIsSubset, OpIsSuperset:
		s, ok := v.(string)
		if !ok {
			return false
		}
		p, ok := ParseIPPrefix(s)
		if !ok || p.Addr().Is4() != c.prefix.Addr().Is4() {
			return false
		}
		if c.Op == OpIsSubset {
			return c.prefix.Bits() <= p.Bits() && c.prefix.Contains(p.Addr())
		}
		return p.Bits() <= c.prefix.Bits() && p.Contains(c.prefix.Addr())
	case OpExists:
		return true
	}
	return false
}

func nfc(s string) string {
	if isASCII(s) || norm.NFC.IsNormalString(s) {
		return s
	}
	return norm.NFC.String(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
