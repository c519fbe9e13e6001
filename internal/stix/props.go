package stix

import (
	"fmt"
	"slices"
	"strings"
)

// check is the data type of a property, as the specification defines it.
type check uint8

const (
	cAny        check = iota // any JSON value except null
	cString                  // string
	cStrings                 // non-empty list of strings
	cTimestamp               // timestamp
	cBool                    // boolean
	cInt                     // integer (54-bit), optionally within [lo, hi]
	cNumber                  // float, optionally within [lo, hi]
	cRef                     // identifier, of the types ref allows
	cRefs                    // non-empty list of identifiers
	cKillChains              // non-empty list of kill-chain-phase
	cExtRefs                 // non-empty list of external-reference
	cGranular                // non-empty list of granular-marking
	cExtensions              // the extensions dictionary
	cHashes                  // hashes dictionary
	cDict                    // non-empty dictionary
	cObject                  // object checked against obj
	cObjects                 // non-empty list of objects checked against obj
	cList                    // non-empty list of anything
	cEnum                    // string from enum
	cEnumList                // non-empty list of strings from enum
	cHex                     // hex string
	cBinary                  // base64 string
	cLang                    // RFC 5646 language tag
)

// prop describes one property.
type prop struct {
	c      check
	ref    *refRule
	ranged bool
	lo, hi float64
	enum   []string
	obj    *objSpec
	noEdge bool // the reference makes no Edge of its own (relationship source_ref/target_ref)
}

// objSpec describes a nested object type (an extension, a kill-chain phase...).
type objSpec struct {
	props      map[string]prop
	required   []string
	atLeastOne bool                                 // at least one of props must be present
	check      func(v *validator, p *path, sp span) // rules across properties
}

var (
	pString    = prop{c: cString}
	pStrings   = prop{c: cStrings}
	pTimestamp = prop{c: cTimestamp}
	pBool      = prop{c: cBool}
	pInt       = prop{c: cInt}
	pUint      = prop{c: cInt, ranged: true, lo: 0, hi: 1<<53 - 1}
	pNumber    = prop{c: cNumber}
	pHashes    = prop{c: cHashes}
	pDict      = prop{c: cDict}
	pHex       = prop{c: cHex}
	pBinary    = prop{c: cBinary}
	pKillChain = prop{c: cKillChains}
	pAnyRefs   = prop{c: cRefs, ref: refAny}
)

func pRef(r *refRule) prop            { return prop{c: cRef, ref: r} }
func pRefs(r *refRule) prop           { return prop{c: cRefs, ref: r} }
func pIntRange(lo, hi float64) prop   { return prop{c: cInt, ranged: true, lo: lo, hi: hi} }
func pNumRange(lo, hi float64) prop   { return prop{c: cNumber, ranged: true, lo: lo, hi: hi} }
func pEnum(values ...string) prop     { return prop{c: cEnum, enum: values} }
func pEnumList(values ...string) prop { return prop{c: cEnumList, enum: values} }
func pObject(o *objSpec) prop         { return prop{c: cObject, obj: o} }
func pObjects(o *objSpec) prop        { return prop{c: cObjects, obj: o} }

// value checks one property value against its description. name is the property's own name
// (for the Edge type of references).
func (v *validator) value(p *path, name string, pr *prop, sp span) {
	b := v.raw
	k := sp.kind(b)
	if k == 'n' {
		v.problem(p, "type", "must not be null: leave an optional property out instead")
		return
	}
	switch pr.c {
	case cAny:
	case cString:
		v.str(p, sp)
	case cStrings:
		v.list(p, sp, func(ep *path, e span) { v.str(ep, e) })
	case cTimestamp:
		v.timestampAt(p, sp)
	case cBool:
		if k != 't' && k != 'f' {
			v.wrongType(p, sp, "a boolean")
		}
	case cInt:
		v.integer(p, sp, pr)
	case cNumber:
		if !isNumberKind(k) {
			v.wrongType(p, sp, "a number")
			return
		}
		f, ok := parseFloat(b[sp.s:sp.e])
		if !ok {
			v.problem(p, "type", "must be a finite number")
		} else if pr.ranged && (f < pr.lo || f > pr.hi) {
			v.problemf(p, "range", "%s is outside the range %g–%g", b[sp.s:sp.e], pr.lo, pr.hi)
		}
	case cRef:
		v.ref(p, name, sp, pr.ref, !pr.noEdge)
	case cRefs:
		v.list(p, sp, func(ep *path, e span) { v.ref(ep, name, e, pr.ref, !pr.noEdge) })
	case cKillChains:
		v.list(p, sp, func(ep *path, e span) { v.object(ep, e, &killChainPhase) })
	case cExtRefs:
		v.list(p, sp, func(ep *path, e span) { v.object(ep, e, &externalReference) })
	case cGranular:
		v.list(p, sp, func(ep *path, e span) { v.granularMarking(ep, e) })
	case cExtensions:
		v.extensions(p, sp)
	case cHashes:
		v.hashes(p, sp)
	case cDict:
		if k != '{' {
			v.wrongType(p, sp, "a dictionary (JSON object)")
		} else if isEmpty(b, sp) {
			v.problem(p, "empty", "a dictionary must have at least one entry")
		}
	case cObject:
		v.object(p, sp, pr.obj)
	case cObjects:
		v.list(p, sp, func(ep *path, e span) { v.object(ep, e, pr.obj) })
	case cList:
		v.list(p, sp, func(*path, span) {})
	case cEnum:
		v.enum(p, sp, pr.enum)
	case cEnumList:
		v.list(p, sp, func(ep *path, e span) { v.enum(ep, e, pr.enum) })
	case cHex:
		if s, ok := v.str(p, sp); ok && !isHexString(s) {
			v.problemf(p, "hex", "%q must be an even number of hexadecimal digits", s)
		}
	case cBinary:
		if s, ok := v.str(p, sp); ok && !isBase64(s) {
			v.problem(p, "binary", "must be base64 (RFC 4648, with padding)")
		}
	case cLang:
		if s, ok := v.str(p, sp); ok && !validLang(s) {
			v.problemf(p, "lang", "%q is not an RFC 5646 language tag", s)
		}
	}
}

func isNumberKind(k byte) bool { return k == '-' || k >= '0' && k <= '9' }

func (v *validator) integer(p *path, sp span, pr *prop) (int64, bool) {
	if !isNumberKind(sp.kind(v.raw)) {
		v.wrongType(p, sp, "an integer")
		return 0, false
	}
	n, ok := parseInt(v.raw[sp.s:sp.e])
	if !ok {
		v.problemf(p, "type", "%s is not an integer between -(2^53-1) and 2^53-1", v.raw[sp.s:sp.e])
		return 0, false
	}
	if pr != nil && pr.ranged && (float64(n) < pr.lo || float64(n) > pr.hi) {
		v.problemf(p, "range", "%d is outside the range %.0f–%.0f", n, pr.lo, pr.hi)
		return n, false
	}
	return n, true
}

// list checks that sp is a non-empty array and calls each for every element.
func (v *validator) list(p *path, sp span, each func(*path, span)) {
	if sp.kind(v.raw) != '[' {
		v.wrongType(p, sp, "a list (JSON array)")
		return
	}
	it := newIter(v.raw, sp)
	n := 0
	for {
		e, ok := it.elem()
		if !ok {
			break
		}
		ep := v.at(p, n)
		if e.kind(v.raw) == 'n' {
			v.problem(ep, "type", "list items must not be null")
		} else {
			each(ep, e)
		}
		n++
	}
	if n == 0 {
		v.problem(p, "empty", "a list must have at least one item: leave an optional property out instead")
	}
}

func (v *validator) enum(p *path, sp span, values []string) {
	s, ok := v.str(p, sp)
	if ok && !slices.Contains(values, s) {
		v.problemf(p, "enum", "%q is not one of %s", s, strings.Join(values, ", "))
	}
}

// object checks a nested object against its description.
func (v *validator) object(p *path, sp span, os *objSpec) {
	if sp.kind(v.raw) != '{' {
		v.wrongType(p, sp, "an object")
		return
	}
	it := newIter(v.raw, sp)
	found := 0
	for {
		n, val, ok := it.member()
		if !ok {
			break
		}
		name := v.unquoted(n)
		mp := v.key(p, name)
		if pr, ok := os.props[name]; ok {
			found++
			v.value(mp, name, &pr, val)
		} else {
			v.customValue(mp, name, val, false)
		}
	}
	for _, r := range os.required {
		if !v.memberIn(sp, r) {
			rp := v.key(p, r)
			v.problemf(rp, "required", "the %s property is required", r)
		}
	}
	if os.atLeastOne && found == 0 {
		v.problem(p, "required", "must contain at least one of its defined properties")
	}
	if os.check != nil {
		os.check(v, p, sp)
	}
}

// memberIn finds a member of the object value sp.
func (v *validator) memberIn(sp span, name string) bool {
	_, ok := v.lookup(sp, name)
	return ok
}

func (v *validator) lookup(sp span, name string) (span, bool) {
	if sp.kind(v.raw) != '{' {
		return span{}, false
	}
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			return span{}, false
		}
		if v.unquoted(n) == name {
			return val, true
		}
	}
}

// customValue checks a property the specification does not define: its name, and the references
// and hex or binary values its naming promises. Nested objects are walked for *_ref and *_refs
// members, so that references inside custom properties (such as ATT&CK's
// x_mitre_contents[].object_ref) become Edges. checkName is false for the names of nested members,
// which may be dictionary keys.
func (v *validator) customValue(p *path, name string, sp span, checkName bool) {
	if checkName {
		if msg := checkPropName(name); msg != "" {
			v.problem(p, "property-name", msg)
		}
		if v.v21 && isReserved(name) {
			v.problemf(p, "reserved-name", "%q is a reserved property name and must not be used", name)
		}
		if sp.kind(v.raw) == 'n' {
			v.problem(p, "type", "must not be null: leave an optional property out instead")
			return
		}
		switch k := sp.kind(v.raw); {
		case strings.HasSuffix(name, "_refs") && k != '[':
			v.wrongType(p, sp, "a list of identifiers (the property name ends in _refs)")
			return
		case strings.HasSuffix(name, "_ref") && k != '"':
			v.wrongType(p, sp, "an identifier (the property name ends in _ref)")
			return
		case strings.HasSuffix(name, "_hex"):
			if s, ok := v.str(p, sp); ok && !isHexString(s) {
				v.problemf(p, "hex", "%q must be an even number of hexadecimal digits (the property name ends in _hex)", s)
			}
			return
		case strings.HasSuffix(name, "_bin"):
			if s, ok := v.str(p, sp); ok && !isBase64(s) {
				v.problem(p, "binary", "must be base64 (the property name ends in _bin)")
			}
			return
		}
	}
	v.walkRefs(p, name, sp)
}

// walkRefs looks for references in a value the specification does not describe.
func (v *validator) walkRefs(p *path, name string, sp span) {
	b := v.raw
	switch sp.kind(b) {
	case '"':
		if strings.HasSuffix(name, "_ref") {
			v.customRef(p, name, sp)
		}
	case '[':
		refs := strings.HasSuffix(name, "_refs")
		it := newIter(b, sp)
		for i := 0; ; i++ {
			e, ok := it.elem()
			if !ok {
				return
			}
			switch k := e.kind(b); {
			case k == '"' && refs:
				ep := v.at(p, i)
				v.customRef(ep, name, e)
			case k == '{' || k == '[':
				ep := v.at(p, i)
				v.walkRefs(ep, name, e)
			}
		}
	case '{':
		it := newIter(b, sp)
		for {
			n, val, ok := it.member()
			if !ok {
				return
			}
			if k := val.kind(b); k == '{' || k == '[' || k == '"' {
				mname := v.unquoted(n)
				mp := v.key(p, mname)
				v.walkRefs(mp, mname, val)
			}
		}
	}
}

// customRef checks a reference in a custom property. An empty string is tolerated (ATT&CK
// publishes x_mitre_data_source_ref: ""), as no reference.
func (v *validator) customRef(p *path, name string, sp span) {
	id := v.unquoted(sp)
	if id == "" {
		return
	}
	if msg := checkID(id, ""); msg != "" {
		v.problem(p, "ref-format", msg+" (a property whose name ends in _ref or _refs must hold identifiers)")
		return
	}
	v.edge(id, name)
}

// ref checks one identifier against a reference rule and records its Edge.
func (v *validator) ref(p *path, name string, sp span, r *refRule, edge bool) (string, bool) {
	id, ok := v.str(p, sp)
	if !ok {
		return "", false
	}
	if msg := checkID(id, ""); msg != "" {
		v.problem(p, "ref-format", msg)
		return "", false
	}
	if r != nil && !r.allows(idType(id)) {
		v.problemf(p, "ref-type", "%q must refer to %s", id, r.what)
		return "", false
	}
	if edge {
		v.edge(id, name)
	}
	return id, true
}

// edge records that the object refers to target through the property name.
func (v *validator) edge(target, name string) {
	o := v.obj
	v.addEdge(Edge{Source: o.ID, Target: target, Type: name})
}

func (v *validator) addEdge(e Edge) {
	o := v.obj
	if len(o.Edges) < 16 {
		if slices.Contains(o.Edges, e) {
			return
		}
	} else {
		if v.edgeSet == nil {
			v.edgeSet = make(map[Edge]struct{})
		}
		if len(v.edgeSet) == 0 {
			for _, x := range o.Edges {
				v.edgeSet[x] = struct{}{}
			}
		}
		if _, dup := v.edgeSet[e]; dup {
			return
		}
		v.edgeSet[e] = struct{}{}
	}
	o.Edges = append(o.Edges, e)
}

// refRule restricts the types an identifier may refer to.
type refRule struct {
	only []string          // allowed types; nil allows every type that deny does not refuse
	deny func(string) bool // refused types
	what string            // "an identity", for messages
}

func (r *refRule) allows(typ string) bool {
	if typ == "bundle" {
		return false
	}
	if r.only != nil {
		return slices.Contains(r.only, typ)
	}
	return r.deny == nil || !r.deny(typ)
}

func refTo(what string, types ...string) *refRule { return &refRule{only: types, what: what} }

var (
	refAny      = &refRule{what: "a STIX object"}
	refIdentity = refTo("an identity", "identity")
	refMarking  = refTo("a marking-definition", "marking-definition")
	// relationship source_ref and target_ref: an SDO or SCO (§5.1).
	refSDOorSCO = &refRule{what: "an SDO or SCO (not an SRO, bundle, language-content, marking-definition or extension-definition)",
		deny: func(t string) bool { return sroTypes[t] || metaTypes[t] }}
	// sighting_of_ref: an SDO (§5.2). Custom types are accepted.
	refSDO = &refRule{what: "an SDO", deny: func(t string) bool { return scoTypes[t] || sroTypes[t] || metaTypes[t] }}
	// observed-data object_refs: SCOs and SROs (§4.14). Custom types are accepted.
	refSCOorSRO = &refRule{what: "an SCO or SRO", deny: func(t string) bool { return sdoTypes[t] || metaTypes[t] }}
	// malware-analysis analysis_sco_refs. Custom types are accepted.
	refSCO = &refRule{what: "an SCO", deny: func(t string) bool { return sdoTypes[t] || sroTypes[t] || metaTypes[t] }}
	// language-content object_ref: any STIX object but another language-content (schema).
	refNotLangContent = &refRule{what: "a STIX object other than language-content", deny: func(t string) bool { return t == "language-content" }}
)

// isReserved reports the property names §3.8 reserves (and phone_numbers, which the OASIS schema
// also refuses).
func isReserved(name string) bool {
	switch name {
	case "severity", "username", "phone_number", "phone_numbers", "action":
		return true
	}
	return false
}

func isHexString(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isBase64 checks standard base64 with padding.
func isBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		case c == '=' && (i == len(s)-1 || i == len(s)-2 && s[len(s)-1] == '='):
		default:
			return false
		}
	}
	return true
}

// validLang checks the shape of an RFC 5646 language tag: alphanumeric subtags of 1–8
// characters separated by hyphens, the first made of letters.
func validLang(s string) bool {
	if s == "" {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// granularMarking checks one granular marking (§7.2.3).
func (v *validator) granularMarking(p *path, sp span) {
	if sp.kind(v.raw) != '{' {
		v.wrongType(p, sp, "an object")
		return
	}
	var selectors, markingRef, lang span
	var hasSel, hasRef, hasLang bool
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			break
		}
		switch name := v.unquoted(n); name {
		case "selectors":
			selectors, hasSel = val, true
		case "marking_ref":
			markingRef, hasRef = val, true
		case "lang":
			lang, hasLang = val, true
		default:
			mp := v.key(p, name)
			v.customValue(mp, name, val, true)
		}
	}
	if hasRef {
		mp := v.key(p, "marking_ref")
		v.ref(mp, "marking_ref", markingRef, refMarking, true)
	}
	if hasLang {
		lp := v.key(p, "lang")
		if s, ok := v.str(lp, lang); ok && !validLang(s) {
			v.problemf(lp, "lang", "%q is not an RFC 5646 language tag", s)
		}
	}
	switch {
	case hasRef && hasLang:
		v.problem(p, "granular-marking", "a granular marking has either marking_ref or lang, not both")
	case !hasRef && !hasLang:
		if v.v21 {
			v.problem(p, "required", "a granular marking needs marking_ref or lang")
		} else {
			rp := v.key(p, "marking_ref")
			v.problem(rp, "required", "the marking_ref property is required")
		}
	}
	sel := v.key(p, "selectors")
	if !hasSel {
		v.problem(sel, "required", "the selectors property is required")
		return
	}
	v.list(sel, selectors, func(ep *path, e span) {
		if s, ok := v.str(ep, e); ok {
			// Each selector is resolved by walking the object; past maxSelectors only their
			// syntax is checked, so that a flood of selectors cannot cost quadratic time.
			v.selectors++
			if msg := v.checkSelector(s, v.selectors <= maxSelectors); msg != "" {
				v.problem(ep, "selector", msg)
			}
		}
	})
}

// maxSelectors bounds how many granular marking selectors of one object are resolved.
const maxSelectors = 1024

// checkSelector checks the syntax of a granular marking selector and, when resolve is set, that it
// names content present in the object.
func (v *validator) checkSelector(sel string, resolve bool) string {
	cur := v.root
	for i, comp := range strings.Split(sel, ".") {
		if comp == "" {
			return fmt.Sprintf("selector %q has an empty component", sel)
		}
		if comp[0] == '[' {
			if len(comp) < 3 || comp[len(comp)-1] != ']' || strings.Trim(comp[1:len(comp)-1], "0123456789") != "" {
				return fmt.Sprintf("selector %q: %q is not a list index such as [0]", sel, comp)
			}
			if !resolve {
				continue
			}
			if cur.kind(v.raw) != '[' {
				return fmt.Sprintf("selector %q: %q indexes something that is not a list", sel, comp)
			}
			want := 0
			for _, c := range comp[1 : len(comp)-1] {
				want = want*10 + int(c-'0')
				if want > 1<<30 {
					break
				}
			}
			it := newIter(v.raw, cur)
			found := false
			for n := 0; ; n++ {
				e, ok := it.elem()
				if !ok {
					break
				}
				if n == want {
					cur, found = e, true
					break
				}
			}
			if !found {
				return fmt.Sprintf("selector %q: the list has no item %s", sel, comp)
			}
			continue
		}
		if !resolve {
			continue
		}
		if cur.kind(v.raw) != '{' {
			return fmt.Sprintf("selector %q: %q selects into something that is not an object", sel, comp)
		}
		next, ok := v.lookup(cur, comp)
		if !ok {
			if i == 0 {
				return fmt.Sprintf("selector %q: the object has no %s property", sel, comp)
			}
			return fmt.Sprintf("selector %q: there is no %q at that place", sel, comp)
		}
		cur = next
	}
	return ""
}
