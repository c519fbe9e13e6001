package stix

import (
	"slices"
	"strings"
)

// validateBuiltin checks an object of a type the specification defines.
func (v *validator) validateBuiltin() {
	spec := v.spec
	for i := range v.members {
		m := &v.members[i]
		switch m.name {
		case "type", "id", "spec_version":
			continue
		}
		p := v.top(m.name)
		if pr, ok := spec.props[m.name]; ok {
			v.value(p, m.name, &pr, m.val)
			if v.obj.Type == "indicator" {
				switch m.name {
				case "pattern":
					v.obj.Pattern = v.unquoted(m.val)
				case "pattern_type":
					v.obj.PatternType = v.unquoted(m.val)
				}
			}
			continue
		}
		if v.v21 && slices.Contains(spec.na, m.name) {
			v.problemf(p, "not-applicable", "%s does not apply to %s objects", m.name, v.obj.Type)
			continue
		}
		if pr, ok := spec.common[m.name]; ok {
			v.common(p, m.name, &pr, m.val)
			continue
		}
		v.customValue(p, m.name, m.val, true)
	}
	req := spec.req21
	if !v.v21 {
		req = spec.req20
	}
	if v.obj.Kind == KindSCO {
		req = spec.req21 // spec_version is optional on SCOs in either case
	}
	v.require(req)
	if spec.check != nil {
		spec.check(v)
	}
}

// validateCustom checks an object of a type the specification does not define (§11.2): the common
// properties, the naming rules for its other properties, and the references they hold.
func (v *validator) validateCustom() {
	for i := range v.members {
		m := &v.members[i]
		switch m.name {
		case "type", "id", "spec_version":
			continue
		}
		p := v.top(m.name)
		if pr, ok := commonCore[m.name]; ok {
			v.common(p, m.name, &pr, m.val)
			continue
		}
		v.customValue(p, m.name, m.val, true)
	}
	if v.obj.Kind == KindSDO {
		// SDO-like: versioned, so both timestamps are required. (Without spec_version it is a
		// STIX 2.0 object, so spec_version itself cannot be missing from a 2.1 one.)
		v.require([]string{"created", "modified"})
	}
}

func (v *validator) require(names []string) {
	for _, name := range names {
		if !v.has(name) {
			p := v.top(name)
			v.problemf(p, "required", "the %s property is required", name)
		}
	}
}

// common checks a common property and copies the ones Object carries.
func (v *validator) common(p *path, name string, pr *prop, sp span) {
	o := v.obj
	switch name {
	case "created", "modified":
		return // read by readHeader
	case "created_by_ref":
		if id, ok := v.ref(p, name, sp, refIdentity, true); ok {
			o.CreatedByRef = id
		}
		return
	case "revoked":
		v.value(p, name, pr, sp)
		o.Revoked = v.raw[sp.s] == 't'
		return
	case "confidence":
		if n, ok := v.integer(p, sp, pr); ok {
			o.Confidence = int(n)
		}
		return
	case "object_marking_refs":
		v.list(p, sp, func(ep *path, e span) {
			if id, ok := v.ref(ep, name, e, refMarking, true); ok {
				if id == o.ID {
					v.problem(ep, "ref-cycle", "a marking definition must not mark itself")
				}
				if !slices.Contains(o.ObjectMarkingRefs, id) {
					o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, id)
				}
			}
		})
		return
	}
	v.value(p, name, pr, sp)
}

// extensions checks the extensions dictionary (§3.2, §7.3, §11.3).
func (v *validator) extensions(p *path, sp span) {
	if !v.nonEmptyObject(p, sp, "a dictionary (JSON object)", "extensions must have at least one entry") {
		return
	}
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			return
		}
		key := v.unquoted(n)
		kp := v.key(p, key)
		switch {
		case strings.HasPrefix(key, "extension-definition--"):
			if msg := checkID(key, "extension-definition"); msg != "" {
				v.problem(kp, "extension-key", msg)
				continue
			}
			v.edge(key, "extensions")
			v.extensionInstance(kp, val, true)
		case strings.HasSuffix(key, "-ext") && ValidTypeName(key):
			if v.spec != nil && v.spec.exts[key] != nil {
				if val.kind(v.raw) == '{' && isEmpty(v.raw, val) {
					v.problem(kp, "empty", "an extension must have at least one property")
					continue
				}
				v.object(kp, val, v.spec.exts[key])
				continue
			}
			v.extensionInstance(kp, val, false)
		default:
			v.problem(kp, "extension-key", "extension keys must be the id of an extension-definition or the name of a predefined extension ending in -ext")
		}
	}
}

// extensionInstance checks an extension that is not predefined: one defined by an
// extension-definition (viaDefinition), or a custom object extension (§11.3, deprecated).
func (v *validator) extensionInstance(p *path, sp span, viaDefinition bool) {
	if !v.nonEmptyObject(p, sp, "an object", "an extension must have at least one property") {
		return
	}
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			break
		}
		name := v.unquoted(n)
		mp := v.key(p, name)
		if name == "extension_type" {
			v.enum(mp, val, extensionTypes)
			continue
		}
		v.customValue(mp, name, val, true)
	}
	if viaDefinition && v.v21 && !v.memberIn(sp, "extension_type") {
		ep := v.key(p, "extension_type")
		v.problem(ep, "required", "an extension defined by an extension-definition needs extension_type")
	}
}

// hashLengths are the hex lengths of the hash algorithms whose format §10.7 fixes.
var hashLengths = map[string]int{"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128, "SHA3-256": 64, "SHA3-512": 128}

// hashes checks a hashes dictionary (§2.7).
func (v *validator) hashes(p *path, sp span) {
	if !v.nonEmptyObject(p, sp, "a hashes dictionary (JSON object)", "hashes must have at least one entry") {
		return
	}
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			return
		}
		alg := v.unquoted(n)
		hp := v.key(p, alg)
		if !validHashKey(alg) {
			v.problemf(hp, "hash-key", "hash algorithm name %q must be 3–250 characters of a–z, A–Z, 0–9, hyphen and underscore", alg)
			continue
		}
		h, ok := v.str(hp, val)
		if !ok {
			continue
		}
		if want, known := hashLengths[alg]; known {
			if len(h) != want || !isHexString(h) {
				v.problemf(hp, "hash-format", "a %s hash is %d hexadecimal digits, not %q", alg, want, h)
			}
		} else if alg == "TLSH" && !validTLSH(h) {
			v.problemf(hp, "hash-format", "%q is not a TLSH digest", h)
		} else if h == "" {
			v.problem(hp, "hash-format", "a hash value must not be empty")
		}
	}
}

func validHashKey(k string) bool {
	if len(k) < 3 || len(k) > 250 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validTLSH accepts the 70-digit TLSH digest and its 72-character "T1" form.
func validTLSH(h string) bool {
	if len(h) == 72 && (h[:2] == "T1" || h[:2] == "t1") {
		h = h[2:]
	}
	return len(h) == 70 && isHexString(h)
}
