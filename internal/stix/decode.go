package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound what Decode accepts from one object.
type Limits struct {
	MaxBytes  int // size of one object's JSON text
	MaxDepth  int // nesting of objects and arrays
	MaxValues int // members of objects plus elements of arrays, counted over the whole object
}

// DefaultLimits are generous for real intelligence and small enough to keep a node safe.
var DefaultLimits = Limits{MaxBytes: 16 << 20, MaxDepth: 64, MaxValues: 1 << 20}

// maxProblems caps how many problems one ValidationError lists.
const maxProblems = 20

// Decode reads and validates one STIX object. raw is kept, not copied: the caller must not modify it
// afterwards. Object.Raw is raw itself, and the strings of the Object (ID, Type, references,
// timestamps...) share raw's memory rather than copying it, so that decoding costs few
// allocations; modifying raw would change them too. A rejected object gives a *ValidationError.
func Decode(raw []byte) (*Object, error) { return DecodeWithLimits(raw, DefaultLimits) }

// DecodeWithLimits is Decode with explicit limits. A zero limit means no limit.
func DecodeWithLimits(raw []byte, lim Limits) (*Object, error) {
	v := validators.Get().(*validator)
	defer v.release()
	v.reset(raw, lim)
	if lim.MaxBytes > 0 && len(raw) > lim.MaxBytes {
		v.problem(nil, "size", fmt.Sprintf("object is %d bytes, more than the limit of %d", len(raw), lim.MaxBytes))
		return nil, v.err()
	}
	depth, values := shape(raw, lim)
	if lim.MaxDepth > 0 && depth > lim.MaxDepth {
		v.problem(nil, "depth", fmt.Sprintf("objects and arrays nest %d levels deep, more than the limit of %d", depth, lim.MaxDepth))
		return nil, v.err()
	}
	if lim.MaxValues > 0 && values > lim.MaxValues {
		v.problem(nil, "size", fmt.Sprintf("object holds about %d values, more than the limit of %d", values, lim.MaxValues))
		return nil, v.err()
	}
	if !v.split() {
		if len(v.problems) == 0 {
			path, msg := syntaxProblem(raw)
			v.problems = append(v.problems, Problem{Path: path, Rule: "json", Message: msg})
		}
		v.obj.ID, v.obj.Type = salvageIdentity(raw)
		return nil, v.err()
	}
	v.validate()
	if len(v.problems) > 0 {
		return nil, v.err()
	}
	obj := v.obj
	v.obj = nil
	if len(obj.Edges) == 0 {
		obj.Edges = nil
	}
	if len(obj.ObjectMarkingRefs) == 0 {
		obj.ObjectMarkingRefs = nil
	}
	return obj, nil
}

// shape returns scanShape's figures, or cheap upper bounds of them when those are within the
// limits: counting brackets and commas (strings included) uses the vectorised bytes.Count.
func shape(raw []byte, lim Limits) (depth, values int) {
	brackets := bytes.Count(raw, []byte{'{'}) + bytes.Count(raw, []byte{'['})
	if lim.MaxDepth > 0 && brackets > lim.MaxDepth {
		return scanShape(raw)
	}
	values = brackets + bytes.Count(raw, []byte{','})
	if lim.MaxValues > 0 && values > lim.MaxValues {
		return scanShape(raw)
	}
	return brackets, values
}

// syntaxProblem explains why raw is not valid I-JSON (RFC 7493): the slow path, taken only for
// rejected input.
func syntaxProblem(raw []byte) (path, msg string) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	_, err := dec.ReadValue()
	if err == nil {
		if _, err = dec.ReadToken(); err == io.EOF {
			return "$", "invalid JSON"
		} else if err == nil {
			return "$", "unexpected data after the object"
		}
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return pointerToPath(string(se.JSONPointer)), fmt.Sprintf("invalid JSON at byte %d: %v", se.ByteOffset, se.Err)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return "$", "invalid JSON: unexpected end of input"
	}
	return "$", "invalid JSON: " + err.Error()
}

// salvageIdentity finds the top-level id and type of an object that is not valid I-JSON (a
// duplicate name, bad UTF-8...), so that its rejection can name it. It gives up quietly.
func salvageIdentity(raw []byte) (id, typ string) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return "", ""
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			break
		}
		n := name.String()
		if (n == "id" || n == "type") && dec.PeekKind() == '"' {
			val, err := dec.ReadToken()
			if err != nil {
				break
			}
			if n == "id" && checkID(val.String(), "") == "" {
				id = val.String()
			} else if n == "type" && ValidTypeName(val.String()) {
				typ = val.String()
			}
			continue
		}
		if dec.SkipValue() != nil {
			break
		}
	}
	return id, typ
}

// split checks that raw is one valid I-JSON (RFC 7493) object, and records its top-level members.
// jsontext does the checking (syntax, UTF-8, escapes, duplicate names at every level) in the same
// pass that finds where each member starts and ends. It returns false when raw is not valid; the
// caller explains why.
func (v *validator) split() bool {
	v.buf = *bytes.NewBuffer(v.raw)
	if v.dec == nil {
		v.dec = jsontext.NewDecoder(&v.buf)
	} else {
		v.dec.Reset(&v.buf)
	}
	dec := v.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return false
	}
	if tok.Kind() != '{' {
		v.problem(nil, "json", "expected a JSON object, found "+KindName(tok.Kind()))
		return false
	}
	start := int(dec.InputOffset()) - 1
	for dec.PeekKind() == '"' {
		name, err := dec.ReadValue()
		if err != nil {
			return false
		}
		ne := int(dec.InputOffset())
		val, err := dec.ReadValue()
		if err != nil {
			return false
		}
		ve := int(dec.InputOffset())
		v.members = append(v.members, member{name: v.unquoted(span{ne - len(name), ne}), val: span{ve - len(val), ve}})
	}
	if _, err := dec.ReadToken(); err != nil {
		return false
	}
	v.root = span{start, int(dec.InputOffset())}
	if _, err := dec.ReadToken(); err != io.EOF {
		return false
	}
	return true
}

// KindName names the kind of a JSON value for error messages: "an object", "a string", ….
func KindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0', '-', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

// objectAlloc lets an Object and the first few of its edges and markings share one allocation.
type objectAlloc struct {
	obj   Object
	edges [4]Edge
	marks [2]string
}

var validators = sync.Pool{New: func() any { return new(validator) }}

func (v *validator) reset(raw []byte, lim Limits) {
	v.raw = raw
	// The strings handed out are substrings of raw, which the caller may not modify (see Decode).
	v.s = unsafe.String(unsafe.SliceData(raw), len(raw))
	v.lim = lim
	a := new(objectAlloc)
	a.obj.Raw = raw
	a.obj.Confidence = -1
	a.obj.Edges = a.edges[:0]
	a.obj.ObjectMarkingRefs = a.marks[:0]
	v.obj = &a.obj
	v.members = v.members[:0]
	v.problems = nil
	v.dropped = 0
	v.spec = nil
	v.v21 = false
	v.custom = false
	v.selectors = 0
	clear(v.edgeSet)
	v.resetPaths()
}

func (v *validator) release() {
	v.raw, v.s, v.obj, v.problems = nil, "", nil, nil
	v.buf = bytes.Buffer{}
	v.members = v.members[:0]
	if cap(v.scratch) > 64<<10 {
		v.scratch = nil
	}
	if len(v.edgeSet) > 1024 {
		v.edgeSet = nil
	}
	validators.Put(v)
}
