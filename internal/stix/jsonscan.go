package stix

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// This file holds a small scanner over JSON text that has already been validated (by
// jsontext, in Decode). Because the text is known to be valid, the scanner only needs to find
// where values start and end; it never allocates. Values are addressed by spans, offsets into
// the object's bytes, so that strings without escapes can be read as substrings of one copy of
// the object (see validator.str).

// span is a JSON value as the half-open byte range [s, e) of the object's text.
type span struct{ s, e int }

// kind returns the first byte of the value: '{', '[', '"', 't', 'f', 'n', or a digit or '-'.
func (sp span) kind(b []byte) byte { return b[sp.s] }

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just after the string that starts (with its quote) at i, or
// len(b) when the string does not end.
func skipString(b []byte, i int) int {
	i++
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		q := i + j
		// The quote ends the string unless an odd number of backslashes escapes it.
		bs := 0
		for p := q - 1; p >= i && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return len(b)
}

// structural marks the bytes that matter when skipping over containers.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true, ',': true}

// skipValue returns the index just after the value that starts at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			c := b[i]
			if !structural[c] {
				i++
				continue
			}
			switch c {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// iter walks the members of an object or the elements of an array.
type iter struct {
	b []byte
	i int
}

// newIter starts walking the object or array value sp.
func newIter(b []byte, sp span) iter { return iter{b: b, i: sp.s + 1} }

// member returns the next member of an object: its name (a string value, quotes included)
// and its value.
func (it *iter) member() (name, val span, ok bool) {
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == '}' {
		it.i = i
		return span{}, span{}, false
	}
	name = span{i, skipString(b, i)}
	i = skipWS(b, name.e)
	i = skipWS(b, i+1) // the colon
	val = span{i, skipValue(b, i)}
	it.i = val.e
	return name, val, true
}

// elem returns the next element of an array.
func (it *iter) elem() (val span, ok bool) {
	b := it.b
	i := skipWS(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		it.i = i
		return span{}, false
	}
	val = span{i, skipValue(b, i)}
	it.i = val.e
	return val, true
}

// isEmpty reports whether an object or array value has no members or elements.
func isEmpty(b []byte, sp span) bool {
	i := skipWS(b, sp.s+1)
	return i < len(b) && (b[i] == '}' || b[i] == ']')
}

// scanShape returns how deeply a JSON text nests objects and arrays, and roughly how many
// values it holds (members and elements). It tolerates invalid text, so it can run first.
func scanShape(b []byte) (maxDepth, values int) {
	d := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !structural[c] {
			continue
		}
		switch c {
		case '"':
			i = skipString(b, i) - 1
		case '{', '[':
			d++
			values++
			maxDepth = max(maxDepth, d)
		case '}', ']':
			d--
		case ',':
			values++
		}
	}
	return maxDepth, values
}

// unquote decodes a JSON string value (quotes included) that contains escapes.
func unquote(raw []byte) (string, error) {
	b, err := jsontext.AppendUnquote(nil, raw)
	return string(b), err
}

// parseInt reads a JSON number that must be an integer representable in STIX (±(2^53-1)).
// Numbers written with a fraction or exponent are accepted when their value is integral.
func parseInt(num []byte) (int64, bool) {
	const limit = 1<<53 - 1
	if n, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return n, n >= -limit && n <= limit
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(f, 0) || f != math.Trunc(f) || f < -limit || f > limit {
		return 0, false
	}
	return int64(f), true
}

// parseFloat reads a JSON number.
func parseFloat(num []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(num), 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// pointerToPath turns an RFC 6901 JSON pointer (as jsontext reports it) into the "$.a[0].b" form
// used in Problems. Tokens of digits are shown as array indexes.
func pointerToPath(p string) string {
	if p == "" {
		return "$"
	}
	var b strings.Builder
	b.WriteByte('$')
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			b.WriteString("[" + tok + "]")
		} else {
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

// jsonKind is the jsontext kind of a value that starts with byte c.
func jsonKind(c byte) jsontext.Kind { return jsontext.Kind(c) }
