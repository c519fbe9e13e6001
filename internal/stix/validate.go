package stix

import (
	"fmt"
	"regexp"
	"strings"
)

// validator collects the problems of one object while it fills in the Object.
type validator struct {
	obj      *Object
	members  []member
	problems []Problem
}

func (v *validator) problem(path, rule, msg string) {
	v.problems = append(v.problems, Problem{Path: path, Rule: rule, Message: msg})
}

func (v *validator) err() error {
	e := &ValidationError{Problems: v.problems}
	if v.obj != nil {
		e.ObjectID, e.Type = v.obj.ID, v.obj.Type
	}
	return e
}

func (v *validator) get(name string) (member, bool) {
	for _, m := range v.members {
		if m.name == name {
			return m, true
		}
	}
	return member{}, false
}

// str reads a string property; it reports a problem when the property is present but not a string.
func (v *validator) str(name string) (string, bool) {
	m, ok := v.get(name)
	if !ok {
		return "", false
	}
	if m.value.Kind() != '"' {
		v.problem("$."+name, "type", fmt.Sprintf("must be a string, found %s", kindName(m.value.Kind())))
		return "", false
	}
	var s string
	if err := unmarshal(m.value, &s); err != nil {
		v.problem("$."+name, "json", err.Error())
		return "", false
	}
	return s, true
}

var (
	typeRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// validate checks the common properties. Type-specific rules live in types.go.
func (v *validator) validate() {
	o := v.obj
	typ, ok := v.str("type")
	switch {
	case !ok:
		v.problem("$.type", "required", "the type property is required")
	case len(typ) < 3 || len(typ) > 250 || !typeRE.MatchString(typ):
		v.problem("$.type", "type-format", fmt.Sprintf("%q must be 3–250 characters of a–z, 0–9 and single hyphens", typ))
	default:
		o.Type = typ
	}
	id, ok := v.str("id")
	switch {
	case !ok:
		v.problem("$.id", "required", "the id property is required")
	default:
		if err := checkID(id, o.Type); err != "" {
			v.problem("$.id", "id-format", err)
		} else {
			o.ID = id
		}
	}
	if sv, ok := v.str("spec_version"); ok {
		if sv != SpecVersion21 && sv != SpecVersion20 {
			v.problem("$.spec_version", "spec-version", fmt.Sprintf("%q is not a supported STIX version (2.1 or 2.0)", sv))
		}
		o.SpecVersion = sv
	} else {
		o.SpecVersion = SpecVersion20
	}
	o.Created = v.timestamp("created")
	o.Modified = v.timestamp("modified")
	if !o.Created.IsZero() && !o.Modified.IsZero() && o.Modified.Compare(o.Created) < 0 {
		v.problem("$.modified", "timestamp-order", fmt.Sprintf("modified %s is earlier than created %s", o.Modified, o.Created))
	}
	if ref, ok := v.str("created_by_ref"); ok {
		if err := checkID(ref, "identity"); err != "" {
			v.problem("$.created_by_ref", "ref-type", err)
		} else {
			o.CreatedByRef = ref
			o.Edges = append(o.Edges, Edge{Source: o.ID, Target: ref, Type: "created_by_ref"})
		}
	}
	if m, ok := v.get("revoked"); ok {
		if err := unmarshal(m.value, &o.Revoked); err != nil {
			v.problem("$.revoked", "type", "must be a boolean")
		}
	}
	switch {
	case o.Type == "relationship" || o.Type == "sighting":
		o.Kind = KindSRO
	case o.Type == "marking-definition" || o.Type == "language-content" || o.Type == "extension-definition":
		o.Kind = KindMeta
	case o.Created.IsZero() && o.Modified.IsZero():
		o.Kind = KindSCO
	default:
		o.Kind = KindSDO
	}
}

func (v *validator) timestamp(name string) Timestamp {
	s, ok := v.str(name)
	if !ok {
		return Timestamp{}
	}
	ts, err := ParseTimestamp(s)
	if err != nil {
		v.problem("$."+name, "timestamp-format", err.Error())
		return Timestamp{}
	}
	return ts
}

// checkID checks that id is "<type>--<UUID>"; wantType "" accepts any valid type. It returns "" when
// the id is good, else what is wrong.
func checkID(id, wantType string) string {
	typ, u, ok := strings.Cut(id, "--")
	if !ok || !typeRE.MatchString(typ) || !uuidRE.MatchString(u) {
		return fmt.Sprintf("%q is not an identifier of the form <type>--<UUID>", id)
	}
	if wantType != "" && typ != wantType {
		return fmt.Sprintf("%q must refer to an object of type %s", id, wantType)
	}
	return ""
}
