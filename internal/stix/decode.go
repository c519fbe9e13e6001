package stix

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound what Decode accepts from one object.
type Limits struct {
	MaxBytes int // size of one object's JSON text
	MaxDepth int // nesting of objects and arrays
}

// DefaultLimits are generous for real intelligence and small enough to keep a node safe.
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 64}

// member is one top-level property of an object, in the order received.
type member struct {
	name  string
	value jsontext.Value
}

// Decode reads and validates one STIX object. raw is kept, not copied: the caller must not modify it
// afterwards. A rejected object gives a *ValidationError.
func Decode(raw []byte) (*Object, error) { return DecodeWithLimits(raw, DefaultLimits) }

// DecodeWithLimits is Decode with explicit limits.
func DecodeWithLimits(raw []byte, lim Limits) (*Object, error) {
	v := &validator{obj: &Object{Raw: raw, Confidence: -1}}
	if lim.MaxBytes > 0 && len(raw) > lim.MaxBytes {
		v.problem("$", "size", fmt.Sprintf("object is %d bytes, more than the limit of %d", len(raw), lim.MaxBytes))
		return nil, v.err()
	}
	members, err := readMembers(raw, lim.MaxDepth)
	if err != nil {
		v.problem("$", "json", err.Error())
		return nil, v.err()
	}
	v.members = members
	v.validate()
	if len(v.problems) > 0 {
		return nil, v.err()
	}
	return v.obj, nil
}

// readMembers splits a JSON object into its top-level members. Duplicate names are an error
// (RFC 7493), as is invalid UTF-8 or nesting deeper than maxDepth.
func readMembers(raw []byte, maxDepth int) ([]member, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if tok.Kind() != '{' {
		return nil, fmt.Errorf("expected a JSON object, found %s", kindName(tok.Kind()))
	}
	var ms []member
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		val, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if maxDepth > 0 && depth(val) > maxDepth-1 {
			return nil, fmt.Errorf("property %q nests deeper than %d levels", name.String(), maxDepth)
		}
		ms = append(ms, member{name: name.String(), value: val})
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err == nil {
		return nil, fmt.Errorf("unexpected data after the object")
	}
	return ms, nil
}

// depth returns how deeply a valid JSON value nests objects and arrays.
func depth(v jsontext.Value) int {
	if len(v) == 0 || (v[0] != '{' && v[0] != '[') {
		return 0
	}
	d, maxD, inStr := 0, 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			d++
			maxD = max(maxD, d)
		case '}', ']':
			d--
		}
	}
	return maxD
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

// unmarshal decodes one property value into a Go value.
func unmarshal(v jsontext.Value, out any) error { return json.Unmarshal(v, out) }
