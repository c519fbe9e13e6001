package stix

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// validator collects the problems of one object while it fills in the Object. Validators are
// pooled (see decode.go); everything they hand out (the Object, the problems) is freshly made.
type validator struct {
	raw      []byte
	s        string // raw as a string (sharing its memory): strings without escapes are substrings of it
	lim      Limits
	obj      *Object
	members  []member
	problems []Problem
	dropped  int

	root      span              // the whole object
	buf       bytes.Buffer      // aliases raw, for dec
	dec       *jsontext.Decoder // reused
	spec      *typeSpec         // nil for custom objects
	v21       bool              // STIX 2.1 rules apply (else 2.0)
	custom    bool              // the type is not defined by the specification
	scratch   []byte
	idBuf     [128]byte
	selectors int // granular marking selectors seen

	pathChunks   [][]path
	pathChunkIdx int
	pathBuf      []path
	pathUsed     int
	edgeSet      map[Edge]struct{}
}

// member is one top-level property of an object, in the order received.
type member struct {
	name string
	val  span
}

// path is a JSON path ("$.kill_chain_phases[0].phase_name") built lazily: only a Problem turns
// it into a string. A nil *path is the object itself ("$").
type path struct {
	parent *path
	name   string
	index  int // >= 0 for an array element, else -1
}

func (p *path) String() string {
	if p == nil {
		return "$"
	}
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p *path) write(b *strings.Builder) {
	if p == nil {
		b.WriteByte('$')
		return
	}
	p.parent.write(b)
	if p.index >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(p.index))
		b.WriteByte(']')
		return
	}
	b.WriteByte('.')
	b.WriteString(p.name)
}

// Paths are made in chunks the (pooled) validator owns, so that building them allocates nothing.
const pathChunk = 256

func (v *validator) newPath(pp path) *path {
	if v.pathUsed == len(v.pathBuf) {
		v.pathChunkIdx++
		if v.pathChunkIdx >= len(v.pathChunks) {
			v.pathChunks = append(v.pathChunks, make([]path, pathChunk))
		}
		v.pathBuf, v.pathUsed = v.pathChunks[v.pathChunkIdx], 0
	}
	p := &v.pathBuf[v.pathUsed]
	v.pathUsed++
	*p = pp
	return p
}

func (v *validator) resetPaths() {
	if len(v.pathChunks) > 4 {
		v.pathChunks = v.pathChunks[:4]
	}
	if len(v.pathChunks) == 0 {
		v.pathChunks = append(v.pathChunks, make([]path, pathChunk))
	}
	v.pathChunkIdx, v.pathBuf, v.pathUsed = 0, v.pathChunks[0], 0
}

// top is the path of a top-level property; key and at are the paths of a member and an element.
func (v *validator) top(name string) *path { return v.newPath(path{name: name, index: -1}) }
func (v *validator) key(p *path, name string) *path {
	return v.newPath(path{parent: p, name: name, index: -1})
}
func (v *validator) at(p *path, i int) *path { return v.newPath(path{parent: p, index: i}) }

func (v *validator) problem(p *path, rule, msg string) {
	if len(v.problems) >= maxProblems {
		v.dropped++
		return
	}
	v.problems = append(v.problems, Problem{Path: p.String(), Rule: rule, Message: msg})
}

func (v *validator) problemf(p *path, rule, format string, args ...any) {
	if len(v.problems) >= maxProblems {
		v.dropped++
		return
	}
	v.problem(p, rule, fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	ps := v.problems
	if v.dropped > 0 {
		ps = append(ps, Problem{Path: "$", Rule: "too-many-problems",
			Message: fmt.Sprintf("%d more problems not listed", v.dropped)})
	}
	v.problems = nil
	e := &ValidationError{Problems: ps}
	if v.obj != nil {
		// Copies: these may share raw's memory, which the caller is free to reuse after a rejection.
		e.ObjectID, e.Type = strings.Clone(v.obj.ID), strings.Clone(v.obj.Type)
	}
	return e
}

// get returns the top-level member with this name.
func (v *validator) get(name string) (span, bool) {
	for i := range v.members {
		if v.members[i].name == name {
			return v.members[i].val, true
		}
	}
	return span{}, false
}

func (v *validator) has(name string) bool {
	_, ok := v.get(name)
	return ok
}

// unquoted returns the Go string of a JSON string value (quotes included in sp).
func (v *validator) unquoted(sp span) string {
	if sp.e-sp.s < 2 || v.raw[sp.s] != '"' {
		return ""
	}
	inner := v.raw[sp.s+1 : sp.e-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return v.s[sp.s+1 : sp.e-1]
	}
	s, err := unquote(v.raw[sp.s:sp.e])
	if err != nil { // cannot happen for text jsontext accepted
		return v.s[sp.s+1 : sp.e-1]
	}
	return s
}

// str reads a string value, reporting a problem when it is not one.
func (v *validator) str(p *path, sp span) (string, bool) {
	if sp.kind(v.raw) != '"' {
		v.wrongType(p, sp, "a string")
		return "", false
	}
	return v.unquoted(sp), true
}

func (v *validator) wrongType(p *path, sp span, want string) {
	v.problem(p, "type", "must be "+want+", found "+KindName(jsonKind(v.raw[sp.s])))
}

// validate checks the whole object. The members have been split off by decode.go.
func (v *validator) validate() {
	o := v.obj
	v.readHeader()
	if o.Type == "" {
		return // without a type nothing else can be judged
	}
	if v.custom {
		v.validateCustom()
	} else {
		v.validateBuiltin()
	}
	if len(v.problems) == 0 && o.Kind == KindSCO && !v.custom {
		v.checkSCOID()
	}
	if len(v.problems) == 0 {
		v.collectObservables()
	}
}

// readHeader reads type, id, spec_version, created and modified, and decides the object's kind and
// which version's rules apply.
func (v *validator) readHeader() {
	o := v.obj
	tp := v.top("type")
	if sp, ok := v.get("type"); !ok {
		v.problem(tp, "required", "the type property is required")
	} else if typ, ok := v.str(tp, sp); ok {
		if msg := checkTypeName(typ); msg != "" {
			v.problem(tp, "type-format", msg)
		} else if typ == "bundle" {
			v.problem(tp, "type-format", "a bundle is not a STIX object: pass the objects it holds one at a time")
		} else {
			o.Type = typ
		}
	}
	ip := v.top("id")
	if sp, ok := v.get("id"); !ok {
		v.problem(ip, "required", "the id property is required")
	} else if id, ok := v.str(ip, sp); ok {
		if msg := checkID(id, o.Type); msg != "" {
			v.problem(ip, "id-format", msg)
		} else {
			o.ID = id
		}
	}
	if o.Type == "" {
		return
	}
	v.spec = builtinTypes[o.Type]
	v.custom = v.spec == nil

	svp := v.top("spec_version")
	hasSV := false
	if sp, ok := v.get("spec_version"); ok {
		if sv, ok := v.str(svp, sp); ok {
			if sv != SpecVersion21 && sv != SpecVersion20 {
				v.problemf(svp, "spec-version", "%q is not a supported STIX version (2.1 or 2.0)", sv)
			}
			o.SpecVersion = sv
			hasSV = true
		}
	}
	o.Created = v.timestamp("created")
	o.Modified = v.timestamp("modified")

	switch {
	case v.spec != nil:
		o.Kind = v.spec.kind
	case o.Created.IsZero() && o.Modified.IsZero() && !v.has("created") && !v.has("modified"):
		o.Kind = KindSCO
	default:
		o.Kind = KindSDO
	}
	if !hasSV && o.SpecVersion == "" {
		// spec_version is optional on SCOs, and defaults to 2.1 for them; everything else
		// without it is STIX 2.0.
		if o.Kind == KindSCO {
			o.SpecVersion = SpecVersion21
		} else {
			o.SpecVersion = SpecVersion20
		}
	}
	v.v21 = o.SpecVersion != SpecVersion20

	if !o.Created.IsZero() && !o.Modified.IsZero() && o.Modified.Compare(o.Created) < 0 {
		mp := v.top("modified")
		v.problemf(mp, "timestamp-order", "modified %s is earlier than created %s", o.Modified, o.Created)
	}
	if v.v21 {
		for _, name := range [...]string{"created", "modified"} {
			ts := o.Created
			if name == "modified" {
				ts = o.Modified
			}
			if !ts.IsZero() && ts.Fraction() < 3 {
				p := v.top(name)
				v.problemf(p, "timestamp-precision", "%s must be precise to at least the millisecond (three fractional digits)", ts)
			}
		}
	}
}

// timestamp reads a top-level timestamp property.
func (v *validator) timestamp(name string) Timestamp {
	sp, ok := v.get(name)
	if !ok {
		return Timestamp{}
	}
	p := v.top(name)
	return v.timestampAt(p, sp)
}

func (v *validator) timestampAt(p *path, sp span) Timestamp {
	s, ok := v.str(p, sp)
	if !ok {
		return Timestamp{}
	}
	ts, err := ParseTimestamp(s)
	if err != nil {
		v.problem(p, "timestamp-format", err.Error())
		return Timestamp{}
	}
	return ts
}

// checkTypeName checks the rules for type names (§3.1, §11.2): 3–250 characters of a–z, 0–9 and
// hyphen, starting with a letter, no two hyphens in a row and no hyphen at the end.
func checkTypeName(typ string) string {
	if len(typ) < 3 || len(typ) > 250 {
		return fmt.Sprintf("%q must be 3–250 characters long", typ)
	}
	if typ[0] < 'a' || typ[0] > 'z' || typ[len(typ)-1] == '-' {
		return fmt.Sprintf("%q must start with a letter a–z and must not end with a hyphen", typ)
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if typ[i-1] == '-' {
				return fmt.Sprintf("%q must not contain two hyphens in a row", typ)
			}
		default:
			return fmt.Sprintf("%q may only contain a–z, 0–9 and hyphens", typ)
		}
	}
	return ""
}

// ValidTypeName reports whether typ follows the STIX type name rules (§3.1).
func ValidTypeName(typ string) bool { return checkTypeName(typ) == "" }

// checkPropName checks the rules for property names (§3.1, §11.1): 3–250 characters of a–z, 0–9
// and underscore, starting with a letter. "id" is the one shorter name the specification uses.
func checkPropName(name string) string {
	if name == "id" {
		return ""
	}
	if len(name) < 3 || len(name) > 250 {
		return fmt.Sprintf("property name %q must be 3–250 characters long", name)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Sprintf("property name %q must start with a letter a–z", name)
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Sprintf("property name %q may only contain a–z, 0–9 and underscores", name)
		}
	}
	return ""
}

// checkID checks that id is "<type>--<UUID>" with an RFC 4122 (or RFC 9562) UUID; wantType ""
// accepts any valid type. It returns "" when the id is good, else what is wrong.
func checkID(id, wantType string) string {
	typ, u, ok := strings.Cut(id, "--")
	if !ok || !ValidTypeName(typ) || !validUUID(u) {
		return fmt.Sprintf("%q is not an identifier of the form <type>--<UUID>", id)
	}
	if wantType != "" && typ != wantType {
		return fmt.Sprintf("%q must be an identifier of type %s", id, wantType)
	}
	return ""
}

// validUUID checks the text form of a UUID with the RFC 4122 variant and a version from 1 to 8.
func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := u[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	if u[14] < '1' || u[14] > '8' {
		return false
	}
	switch u[19] {
	case '8', '9', 'a', 'b', 'A', 'B':
		return true
	}
	return false
}

var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool { return hexDigit[c] }

// idType returns the type part of an identifier.
func idType(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}

// uuidVersion returns the version digit of a valid identifier's UUID.
func uuidVersion(id string) byte {
	_, u, _ := strings.Cut(id, "--")
	if len(u) != 36 {
		return 0
	}
	return u[14]
}

// nonEmptyObject reports whether sp is a JSON object with at least one member. When it is not, it
// reports the problem at p: shape says what was expected, empty what an empty one lacks.
func (v *validator) nonEmptyObject(p *path, sp span, shape, empty string) bool {
	if sp.kind(v.raw) != '{' {
		v.wrongType(p, sp, shape)
		return false
	}
	if isEmpty(v.raw, sp) {
		v.problem(p, "empty", empty)
		return false
	}
	return true
}
