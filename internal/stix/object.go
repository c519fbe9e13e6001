// Package stix owns STIX 2.1 (and 2.0) objects as renkei sees them: the bytes exactly as received,
// the common properties read from them, validation against the specification's rules, deterministic
// identifiers for cyber-observable objects, the built-in TLP marking definitions, and the observables
// and references an object carries. It knows nothing of storage, policy or HTTP.
package stix

// Kind is the category of a STIX object.
type Kind uint8

const (
	KindSDO  Kind = iota + 1 // a domain object (and SDO-like custom objects)
	KindSCO                  // a cyber-observable object (and SCO-like custom objects)
	KindSRO                  // relationship or sighting
	KindMeta                 // marking-definition, language-content, extension-definition
)

func (k Kind) String() string {
	switch k {
	case KindSDO:
		return "sdo"
	case KindSCO:
		return "sco"
	case KindSRO:
		return "sro"
	case KindMeta:
		return "meta"
	}
	return "unknown"
}

// Spec versions recorded for objects.
const (
	SpecVersion21 = "2.1"
	SpecVersion20 = "2.0" // recorded for objects that carry no spec_version
)

// Object is one decoded and validated STIX object. Raw holds its bytes exactly as received; every
// other field is read from them and never written back.
type Object struct {
	Raw               []byte
	Type              string
	ID                string
	SpecVersion       string // "2.1", or "2.0" when the object has no spec_version
	Kind              Kind
	Created           Timestamp // zero when absent (SCOs)
	Modified          Timestamp // zero when absent (SCOs, marking definitions)
	CreatedByRef      string
	Revoked           bool
	Confidence        int // -1 when absent
	ObjectMarkingRefs []string
	// Edges are the references this object makes, for graph walks (see Edge).
	Edges []Edge
	// Observables are the normalised values this object carries, for correlation and matching.
	Observables []Observable
	// Pattern and PatternType are an indicator's pattern and pattern_type, as strings ("" for
	// other objects, and PatternType "" for a STIX 2.0 indicator, whose patterns are STIX).
	Pattern, PatternType string
}

// Version returns the timestamp that identifies this version of the object: modified, else created
// (objects that cannot be versioned), else the zero Timestamp (SCOs have a single version).
func (o *Object) Version() Timestamp {
	if !o.Modified.IsZero() {
		return o.Modified
	}
	return o.Created
}

// Edge is one directed reference. For a relationship object it is source_ref → target_ref with the
// relationship_type as Type. For every other reference property it is the object's own id → the
// referenced id, with the property name (such as "created_by_ref" or "object_refs") as Type. That
// includes references nested in the object, named by their own member name: "marking_ref" (granular
// markings), "body_raw_ref" (MIME parts), "contains_refs" (archive-ext), "object_ref" (ATT&CK's
// x_mitre_contents)... and "extensions" for the extension-definitions an object uses. References in
// the deprecated observed-data "objects" container are local to it and make no Edge. Edges are
// listed once each.
type Edge struct {
	Source string
	Target string
	Type   string
}

// Observable is a normalised value carried by an object, such as ("ipv4-addr", "198.51.100.7") or
// ("hash:SHA-256", "<lower-case hex>"). Kind names are listed in observables.go.
type Observable struct {
	Kind  string
	Value string
}
