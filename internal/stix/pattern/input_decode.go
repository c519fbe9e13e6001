package pattern

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// The decoder of ReadObservations and ReadObjects. jsontext checks the syntax of each top-level
// value of the input once (ReadValue: its nesting depth, at most 10,000 as encoding/json's, strings,
// numbers and literals), and the objects are then read from their text, which is known to be valid
// JSON, without checking it again: of observed-data only the members an Observation needs; small
// objects of other types are decoded into maps as they are read (they are most likely the
// cyber-observable objects observed-data references), larger ones only when observed-data
// references them.
// The values built are those encoding/json builds with UseNumber (map[string]any, []any, string,
// json.Number, bool, nil; the last of duplicate member names wins; invalid UTF-8 and lone
// surrogates become U+FFFD), so that the evaluator sees the same observations either way
// (input_decode_test.go compares the two). Strings without escapes are substrings of the input
// text, which the decoded values share.

// readInput reads the JSON text of r within lim.MaxBytes, into memory of its own.
func readInput(r io.Reader, lim InputLimits) ([]byte, error) {
	size := 512
	if l, ok := r.(interface{ Len() int }); ok { // bytes.Reader, bytes.Buffer, strings.Reader
		size = int(min(int64(l.Len()), lim.MaxBytes)) + 1
	}
	data, err := readAll(io.LimitReader(r, lim.MaxBytes+1), size)
	if err != nil {
		return nil, fmt.Errorf("read observations: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInput, lim.MaxBytes)
	}
	return data, nil
}

// readAll is io.ReadAll starting with a buffer of the given capacity.
func readAll(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// The members of observed-data that make its Observation.
const (
	fieldID = iota
	fieldFirst
	fieldLast
	fieldCount
	fieldObjects
	fieldRefs
	numFields
)

var fieldNames = [numFields]string{"id", "first_observed", "last_observed", "number_observed", "objects", "object_refs"}

// span is the text of a value in the input, data[lo:hi]; hi is 0 when there is none.
type span struct{ lo, hi int }

// rawObject is one object of the input, its text not yet decoded.
type rawObject struct {
	text     span
	id       string // the id when it is a string
	hasID    bool
	observed bool           // type is "observed-data"
	props    map[string]any // decoded on first use
}

// observedText is observed-data of the input: where the values of its members of interest start
// in the input (0 when absent: no member value starts there).
type observedText struct {
	obj    int // in inputDecoder.objs
	fields [numFields]int
}

// inputDecoder splits the input into objects and decodes what is needed of them.
type inputDecoder struct {
	lim      InputLimits
	objs     []rawObject
	observed []observedText
	vd       valueDecoder
}

// split reads the framing of the input (one object or bundle, or an array of them) and files its
// objects, with the same checks and errors as the encoding/json-based reading had. data must not
// be modified afterwards: the decoded strings share its memory.
func (d *inputDecoder) split(data []byte) error {
	d.vd = valueDecoder{b: data, s: unsafe.String(unsafe.SliceData(data), len(data))}
	// Room for objects of 256 bytes or more, observed-data of 1 KiB or more (with what it references).
	d.objs = make([]rawObject, 0, len(data)/256+1)
	d.observed = make([]observedText, 0, len(data)/1024+1)
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	notJSON := func(err error) error {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: not JSON: %w", ErrInput, err)
	}
	value := func() (span, error) {
		v, err := dec.ReadValue()
		if err != nil {
			return span{}, notJSON(err)
		}
		end := int(dec.InputOffset())
		return span{end - len(v), end}, nil
	}
	if dec.PeekKind() == '[' {
		if _, err := dec.ReadToken(); err != nil {
			return notJSON(err)
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			v, err := value()
			if err != nil {
				return err
			}
			if err := d.addTop(v, i); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return notJSON(err)
		}
	} else {
		v, err := value()
		if err != nil {
			return err
		}
		if err := d.addTop(v, -1); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("%w: more than one JSON value", ErrInput)
	}
	return nil
}

// addTop files a value of the top level: a bundle's objects, or an object.
// top is the index of the value in the top-level array, -1 when the value is the whole input.
func (d *inputDecoder) addTop(v span, top int) error {
	where := func() string {
		if top < 0 {
			return "the input"
		}
		return "[" + strconv.Itoa(top) + "]"
	}
	b := d.vd.b
	if b[v.lo] != '{' {
		return fmt.Errorf("%w: %s is not a JSON object", ErrInput, where())
	}
	o, fields, typ := d.scan(v)
	if objects := fields[fieldObjects]; typ != "bundle" {
		d.add(o, &fields)
	} else if objects != 0 && b[objects] != 'n' { // null: no objects
		if b[objects] != '[' {
			return fmt.Errorf("%w: %s: the objects of a bundle must be an array", ErrInput, where())
		}
		i := skipSpace(b, objects+1)
		for n := 0; b[i] != ']'; n++ {
			if b[i] != '{' {
				return fmt.Errorf("%w: %s.objects[%d] is not a JSON object", ErrInput, where(), n)
			}
			end := d.vd.skip(i)
			x, xf, _ := d.scan(span{i, end})
			d.add(x, &xf)
			if len(d.objs) > d.lim.MaxObjects {
				break
			}
			i = skipSpace(b, end)
			if b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
	}
	if len(d.objs) > d.lim.MaxObjects {
		return fmt.Errorf("%w: more than %d objects", ErrInput, d.lim.MaxObjects)
	}
	return nil
}

// scan reads the members of object v that say what it is, and those of observed-data.
func (d *inputDecoder) scan(v span) (o rawObject, fields [numFields]int, typ string) {
	vd := &d.vd
	b := vd.b
	o.text = v
	eager := v.hi-v.lo <= maxEager
	var typText span
	i := skipSpace(b, v.lo+1)
	for b[i] != '}' {
		kEnd := vd.skip(i)
		key := vd.s[i+1 : kEnd-1]
		if bytes.IndexByte(b[i+1:kEnd-1], '\\') >= 0 {
			key, _ = vd.str(i) // a name written with escapes may still be one of those below
		}
		i = skipSpace(b, kEnd)
		i = skipSpace(b, i+1) // after the colon
		end := vd.skip(i)
		switch key {
		case "type":
			typText = span{i, end}
			if eager && b[i] == '"' {
				if t, _ := vd.str(i); t != "observed-data" && t != "bundle" {
					// Most likely a cyber-observable object that observed-data references:
					// decoded now rather than read twice.
					m := vd.object(v.lo)
					typ, _ = m["type"].(string)
					if typ != "observed-data" && typ != "bundle" { // else a later type is; read on
						o.props = m
						o.id, o.hasID = m["id"].(string)
						return o, fields, typ
					}
					eager = false
				}
			}
		case "id":
			fields[fieldID] = i
		case "first_observed":
			fields[fieldFirst] = i
		case "last_observed":
			fields[fieldLast] = i
		case "number_observed":
			fields[fieldCount] = i
		case "objects":
			fields[fieldObjects] = i
		case "object_refs":
			fields[fieldRefs] = i
		}
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if typText.hi != 0 && b[typText.lo] == '"' {
		typ, _ = vd.str(typText.lo)
	}
	o.observed = typ == "observed-data"
	if id := fields[fieldID]; id != 0 && b[id] == '"' {
		o.id, _ = vd.str(id)
		o.hasID = true
	}
	return o, fields, typ
}

// maxNear is how many objects after observed-data are looked at for the objects it references
// before the index of all.
const maxNear = 8

// maxEager is the size of the largest objects (other than observed-data and bundles) that are
// decoded when they are read rather than when they are first referenced.
const maxEager = 2048

// object decodes the object that starts at b[i].
func (vd *valueDecoder) object(i int) map[string]any {
	v, _ := vd.value(i)
	return v.(map[string]any)
}

// add files object o, and its fields when it is observed-data.
func (d *inputDecoder) add(o rawObject, fields *[numFields]int) {
	if o.observed {
		d.observed = append(d.observed, observedText{obj: len(d.objs), fields: *fields})
	}
	d.objs = append(d.objs, o)
}

// decodeObject returns the properties of object k, decoded on first use.
func (d *inputDecoder) decodeObject(k int) map[string]any {
	o := &d.objs[k]
	if o.props == nil {
		o.props = d.vd.object(o.text.lo)
	}
	return o.props
}

// observations builds the observations of the observed-data filed by split, as
// ObservationsFromObjects does from decoded objects.
func (d *inputDecoder) observations() ([]Observation, error) {
	if len(d.observed) == 0 {
		return nil, nil
	}
	// The first object of an id is the one referenced: filed last.
	byID := make(map[string]int, len(d.objs))
	withID := 0
	for k := len(d.objs) - 1; k >= 0; k-- {
		if o := &d.objs[k]; o.hasID {
			byID[o.id] = k
			withID++
		}
	}
	// When no two objects share an id, an object next to the observed-data (where they usually
	// are) that has the id is the one referenced.
	unique := len(byID) == withID
	at := 0 // the observed-data being read
	ref := func(id string) (map[string]any, bool) {
		if unique {
			for k := at + 1; k < min(at+1+maxNear, len(d.objs)); k++ {
				if o := &d.objs[k]; o.hasID && o.id == id {
					return d.decodeObject(k), true
				}
			}
		}
		k, ok := byID[id]
		if !ok {
			return nil, false
		}
		return d.decodeObject(k), true
	}
	out := make([]Observation, 0, len(d.observed))
	var scratch []Object
	for n := range d.observed {
		od := &d.observed[n]
		at = od.obj
		ob, err := observationOf(observedProps{text: &od.fields, vd: &d.vd, scratch: &scratch}, ref)
		if err != nil {
			return nil, observationError(d.objs[od.obj].id, od.obj, err)
		}
		out = append(out, ob)
	}
	return out, nil
}

// objects decodes every object filed by split.
func (d *inputDecoder) objects() []map[string]any {
	if len(d.objs) == 0 {
		return nil
	}
	out := make([]map[string]any, len(d.objs))
	for k := range d.objs {
		out[k] = d.decodeObject(k)
	}
	return out
}

// observedProps gives observationOf the properties of observed-data: from its decoded map, or
// decoded from the text of its members.
type observedProps struct {
	m       map[string]any
	text    *[numFields]int
	vd      *valueDecoder
	scratch *[]Object // when not nil, where the objects are gathered
}

// get returns property f and whether it is present.
func (p observedProps) get(f int) (any, bool) {
	if p.text == nil {
		v, ok := p.m[fieldNames[f]]
		return v, ok
	}
	t := p.text[f]
	if t == 0 {
		return nil, false
	}
	v, _ := p.vd.value(t)
	return v, true
}

// str returns property f when it is a string.
func (p observedProps) str(f int) (string, bool) {
	if p.text == nil {
		s, ok := p.m[fieldNames[f]].(string)
		return s, ok
	}
	t := p.text[f]
	if t == 0 || p.vd.b[t] != '"' {
		return "", false
	}
	s, _ := p.vd.str(t)
	return s, true
}

// refs calls fn with each element of object_refs (ok when it is a string). It returns an error when
// object_refs is present, not null and not an array, or when fn does.
func (p observedProps) refs(fn func(i int, id string, ok bool) error) error {
	if p.text == nil {
		v := p.m["object_refs"]
		if v == nil {
			return nil
		}
		list, ok := v.([]any)
		if !ok {
			return errRefsNotArray
		}
		for i, r := range list {
			id, ok := r.(string)
			if err := fn(i, id, ok); err != nil {
				return err
			}
		}
		return nil
	}
	t := p.text[fieldRefs]
	b := p.vd.b
	if t == 0 || b[t] == 'n' {
		return nil
	}
	if b[t] != '[' {
		return errRefsNotArray
	}
	i := skipSpace(b, t+1)
	for n := 0; b[i] != ']'; n++ {
		var id string
		ok := b[i] == '"'
		if ok {
			id, i = p.vd.str(i)
		} else {
			i = p.vd.skip(i)
		}
		if err := fn(n, id, ok); err != nil {
			return err
		}
		i = skipSpace(b, i)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

var errRefsNotArray = errors.New("object_refs is not an array")

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(b []byte, i int) int {
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

// valueDecoder decodes valid JSON text into the values encoding/json makes with UseNumber.
type valueDecoder struct {
	b     []byte
	s     string // b, shared
	buf   []byte
	boxes [512]struct {
		s string
		v any
	}
}

// skip returns the index just after the value that starts at b[i].
func (vd *valueDecoder) skip(i int) int {
	b := vd.b
	switch b[i] {
	case '"':
		for i++; ; i += 2 { // skipping a backslash and the byte it escapes
			if i = plainRun(b, i, false); b[i] == '"' {
				return i + 1
			}
		}
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			case '"':
				i = vd.skip(i) - 1
			}
		}
	default:
		for i++; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// value decodes the value that starts at b[i] and returns it and the index just after it.
func (vd *valueDecoder) value(i int) (any, int) {
	b := vd.b
	switch b[i] {
	case '"':
		s, j := vd.str(i)
		return vd.box(s, false), j
	case '{':
		m := make(map[string]any)
		i = skipSpace(b, i+1)
		for b[i] != '}' {
			k, j := vd.str(i)
			j = skipSpace(b, j)
			j = skipSpace(b, j+1)
			var x any
			x, j = vd.value(j)
			m[k] = x
			i = skipSpace(b, j)
			if b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return m, i + 1
	case '[':
		list := []any{}
		i = skipSpace(b, i+1)
		for b[i] != ']' {
			var x any
			x, i = vd.value(i)
			list = append(list, x)
			i = skipSpace(b, i)
			if b[i] == ',' {
				i = skipSpace(b, i+1)
			}
		}
		return list, i + 1
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	}
	end := vd.skip(i)
	return vd.box(vd.s[i:end], true), end
}

// box returns s as a string, or as a json.Number when num is set, in an interface. Short values
// recur (types, spec versions, ports, protocols): the interfaces made for them are reused.
func (vd *valueDecoder) box(s string, num bool) any {
	n := len(s)
	if n == 0 || n > 16 {
		if num {
			return json.Number(s)
		}
		return s
	}
	h := (uint(n)*0x9e + uint(s[0])*0x3b + uint(s[n/2])*0x1f + uint(s[n-1])) % uint(len(vd.boxes)/2)
	if num {
		h += uint(len(vd.boxes) / 2)
	}
	e := &vd.boxes[h]
	if e.v != nil && e.s == s {
		return e.v
	}
	e.s = s
	if num {
		e.v = json.Number(s)
	} else {
		e.v = s
	}
	return e.v
}

// str decodes the JSON string that starts at b[i] and returns it and the index just after it.
func (vd *valueDecoder) str(i int) (string, int) {
	j := plainRun(vd.b, i+1, true)
	if vd.b[j] != '"' {
		return vd.strSlow(i)
	}
	return vd.s[i+1 : j], j + 1
}

// plainRun returns the index of the first byte of b at or after j that is a quote or a backslash,
// or not ASCII when nonASCII is set; len(b) when there is none. It reads eight bytes at a time.
func plainRun(b []byte, j int, nonASCII bool) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) &^ v & highs } // exact for the lowest zero byte
	var ascii uint64
	if nonASCII {
		ascii = highs
	}
	for ; j+8 <= len(b); j += 8 {
		w := binary.LittleEndian.Uint64(b[j:])
		if m := (w&ascii | hasZero(w^('"'*ones)) | hasZero(w^('\\'*ones))) & highs; m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
	}
	for ; j < len(b); j++ {
		if c := b[j]; c == '"' || c == '\\' || nonASCII && c >= utf8.RuneSelf {
			return j
		}
	}
	return j
}

// strSlow decodes a string with escapes or non-ASCII bytes as encoding/json does: invalid UTF-8
// bytes and lone surrogates become U+FFFD.
func (vd *valueDecoder) strSlow(i int) (string, int) {
	b := vd.b
	j := i + 1
	k := j
	for b[k] != '"' && b[k] != '\\' {
		k++
	}
	if b[k] == '"' && utf8.Valid(b[j:k]) {
		return vd.s[j:k], k + 1
	}
	out := vd.buf[:0]
	for b[j] != '"' {
		c := b[j]
		switch {
		case c == '\\':
			j++
			switch b[j] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(b[j+1:])
				j += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if b[j+1] == '\\' && b[j+2] == 'u' {
						r2 = hex4(b[j+3:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r = dec
						j += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				out = utf8.AppendRune(out, r)
			default: // " \ /
				out = append(out, b[j])
			}
			j++
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[j:j+size]...)
			}
			j += size
		}
	}
	vd.buf = out
	return string(out), j + 1
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
