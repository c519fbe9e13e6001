package stix

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Digest returns the SHA-256 of the RFC 8785 (JCS) canonical form of a JSON value, such as an
// object's Raw. Two texts of the same object that differ only in member order, whitespace, string
// escapes or number spelling have the same digest. Numbers are canonicalised as IEEE 754 doubles,
// as RFC 8785 requires.
//
// The canonical form of the values STIX objects are made of (ASCII member names, strings, integers
// of up to 15 digits, literals) is written by a single pass of our own (canonical below); anything
// else (a fraction or an exponent, non-ASCII or escaped member names, duplicate names, invalid
// UTF-8, lone surrogates, deep nesting, malformed JSON) is left to jsontext's Canonicalize, which
// also gives the errors. TestDigestAgreesWithJSONText and FuzzDigest compare the two.
func Digest(raw []byte) ([32]byte, error) {
	c := canonPool.Get().(*canonicalizer)
	defer canonPool.Put(c)
	c.out = c.out[:0]
	if end, ok := c.value(raw, skipWS(raw, 0), 0); ok && skipWS(raw, end) == len(raw) {
		return sha256.Sum256(c.out), nil
	}
	return digestJSONText(raw)
}

// digestJSONText is Digest by jsontext alone.
func digestJSONText(raw []byte) ([32]byte, error) {
	v := jsontext.Value(append([]byte(nil), raw...))
	if err := v.Canonicalize(); err != nil {
		return [32]byte{}, fmt.Errorf("stix: digest: %w", err)
	}
	return sha256.Sum256(v), nil
}

// canonicalizer writes the canonical form of a JSON value into out. Its methods return the
// position after the value read and false for anything they leave to jsontext.
type canonicalizer struct {
	out     []byte
	members [][]canonMember // by depth, reused
}

// canonMember is an object member: the bytes of its name (between the quotes, plain ASCII) and
// where its value starts and ends.
type canonMember struct {
	name       []byte
	value, end int
}

var canonPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// maxCanonicalDepth bounds the nesting the fast path follows; deeper values go to jsontext.
const maxCanonicalDepth = 32

func (c *canonicalizer) value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '{':
		return c.object(b, i, depth)
	case '[':
		return c.array(b, i, depth)
	case '"':
		return c.str(b, i)
	case 't':
		return c.literal(b, i, "true")
	case 'f':
		return c.literal(b, i, "false")
	case 'n':
		return c.literal(b, i, "null")
	default:
		return c.number(b, i)
	}
}

func (c *canonicalizer) literal(b []byte, i int, lit string) (int, bool) {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return 0, false
	}
	c.out = append(c.out, lit...)
	return i + len(lit), true
}

// number copies an integer of at most 15 digits (exactly a double, written the same by ES6); any
// other number goes to jsontext.
func (c *canonicalizer) number(b []byte, i int) (int, bool) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n := i - digits
	switch {
	case n == 0 || n > 15:
		return 0, false
	case b[digits] == '0' && (n > 1 || digits > start): // a leading zero, or -0
		return 0, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, false
	}
	c.out = append(c.out, b[start:i]...)
	return i, true
}

// str writes a string in canonical form: only '"', '\\' and control characters escaped, the
// control characters with a short escape where JSON has one and \u00xx (lower case) otherwise.
func (c *canonicalizer) str(b []byte, i int) (int, bool) {
	i++ // the opening quote
	c.out = append(c.out, '"')
	for {
		// A run of bytes that are copied as they are.
		j := i
		for j < len(b) && b[j] >= 0x20 && b[j] != '"' && b[j] != '\\' && b[j] < utf8.RuneSelf {
			j++
		}
		c.out = append(c.out, b[i:j]...)
		i = j
		if i >= len(b) {
			return 0, false
		}
		switch ch := b[i]; {
		case ch == '"':
			c.out = append(c.out, '"')
			return i + 1, true
		case ch < 0x20:
			return 0, false // a raw control character: invalid JSON
		case ch >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return 0, false
			}
			c.out = append(c.out, b[i:i+n]...)
			i += n
		default: // a backslash
			if i+1 >= len(b) {
				return 0, false
			}
			var r rune
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				r, i = rune(e), i+2
			case 'b':
				r, i = '\b', i+2
			case 'f':
				r, i = '\f', i+2
			case 'n':
				r, i = '\n', i+2
			case 'r':
				r, i = '\r', i+2
			case 't':
				r, i = '\t', i+2
			case 'u':
				var ok bool
				if r, i, ok = unicodeEscape(b, i); !ok {
					return 0, false
				}
			default:
				return 0, false
			}
			c.appendRune(r)
		}
	}
}

// unicodeEscape reads \uXXXX at b[i:], and the low half that must follow a high surrogate.
func unicodeEscape(b []byte, i int) (rune, int, bool) {
	r, ok := hex4(b, i+2)
	if !ok {
		return 0, 0, false
	}
	i += 6
	if !utf16.IsSurrogate(r) {
		return r, i, true
	}
	if r >= 0xdc00 || i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, 0, false // a lone surrogate
	}
	lo, ok := hex4(b, i+2)
	if !ok {
		return 0, 0, false
	}
	if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
		return 0, 0, false
	}
	return r, i + 6, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, h := range b[i : i+4] {
		switch {
		case h >= '0' && h <= '9':
			r = r<<4 | rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r<<4 | rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendRune writes one character of a string in canonical form.
func (c *canonicalizer) appendRune(r rune) {
	switch r {
	case '"':
		c.out = append(c.out, '\\', '"')
	case '\\':
		c.out = append(c.out, '\\', '\\')
	case '\b':
		c.out = append(c.out, '\\', 'b')
	case '\f':
		c.out = append(c.out, '\\', 'f')
	case '\n':
		c.out = append(c.out, '\\', 'n')
	case '\r':
		c.out = append(c.out, '\\', 'r')
	case '\t':
		c.out = append(c.out, '\\', 't')
	default:
		if r < 0x20 {
			const hex = "0123456789abcdef"
			c.out = append(c.out, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
			return
		}
		c.out = utf8.AppendRune(c.out, r)
	}
}

func (c *canonicalizer) array(b []byte, i, depth int) (int, bool) {
	if depth >= maxCanonicalDepth {
		return 0, false
	}
	c.out = append(c.out, '[')
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		c.out = append(c.out, ']')
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = c.value(b, i, depth+1); !ok {
			return 0, false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			c.out = append(c.out, ',')
			i = skipWS(b, i+1)
		case ']':
			c.out = append(c.out, ']')
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// object writes an object's members sorted by name. The fast path takes only plain ASCII names
// (no escapes), for which the order of RFC 8785 (UTF-16 code units) is the order of the bytes.
func (c *canonicalizer) object(b []byte, i, depth int) (int, bool) {
	if depth >= maxCanonicalDepth {
		return 0, false
	}
	for len(c.members) <= depth {
		c.members = append(c.members, nil)
	}
	ms := c.members[depth][:0]
	defer func() { c.members[depth] = ms[:0] }()
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		c.out = append(c.out, '{', '}')
		return i + 1, true
	}
	// Read the names and skip the values, then write them in order.
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		j := i + 1
		for j < len(b) && b[j] >= 0x20 && b[j] < utf8.RuneSelf && b[j] != '"' && b[j] != '\\' {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			return 0, false // an escape or a non-ASCII name: jsontext's
		}
		name := b[i+1 : j]
		i = skipWS(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		end, ok := skipCanonical(b, i, depth+1)
		if !ok {
			return 0, false
		}
		ms = append(ms, canonMember{name: name, value: i, end: end})
		i = skipWS(b, end)
		if i >= len(b) {
			return 0, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
	slices.SortFunc(ms, func(x, y canonMember) int { return bytes.Compare(x.name, y.name) })
	c.out = append(c.out, '{')
	for k, m := range ms {
		if k > 0 {
			if bytes.Equal(ms[k-1].name, m.name) {
				return 0, false // a duplicate name: jsontext reports it
			}
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, '"')
		c.out = append(c.out, m.name...)
		c.out = append(c.out, '"', ':')
		if end, ok := c.value(b, m.value, depth+1); !ok || end != m.end {
			return 0, false // not a value, or not the one skipped: malformed
		}
	}
	c.out = append(c.out, '}')
	return i, true
}

// skipCanonical returns the end of the value at b[i:], checking only what finding its end needs
// (the value is read again, strictly, when it is written, and must end at the same place).
func skipCanonical(b []byte, i, depth int) (int, bool) {
	if depth > maxCanonicalDepth || i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return 0, false
	case '{', '[':
		closer := byte('}')
		if b[i] == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if closer == '}' {
				end, ok := skipCanonical(b, i, depth+1) // the name
				if !ok || b[i] != '"' {
					return 0, false
				}
				if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipWS(b, i+1)
			}
			end, ok := skipCanonical(b, i, depth+1)
			if !ok {
				return 0, false
			}
			if i = skipWS(b, end); i >= len(b) {
				return 0, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return 0, false
			}
			i = skipWS(b, i+1)
		}
	default:
		j := i
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'E') {
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}
