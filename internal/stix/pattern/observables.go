package pattern

import (
	"slices"

	"github.com/renkei-cti/renkei/internal/stix"
)

// AddObservables adds to an indicator's observables the values its STIX pattern compares for
// equality (= and IN) on ipv4-addr, ipv6-addr, domain-name, url and email-addr values and on file
// hashes, normalised like the values of SCOs (stix.NormalizeObservable). The store indexes them with
// the others, so correlation answers "who else reported this value" for indicators as for observed
// data. Other objects, and a pattern that does not compile, add nothing.
func AddObservables(obj *stix.Object) {
	if obj.Type != "indicator" || obj.Pattern == "" || obj.PatternType != "" && obj.PatternType != "stix" {
		return
	}
	p, err := Compile(obj.Pattern)
	if err != nil {
		return
	}
	for _, k := range p.IndexKeys() {
		kind := observableKind(k)
		if kind == "" {
			continue
		}
		v, ok := stix.NormalizeObservable(kind, k.Value)
		if !ok {
			continue
		}
		o := stix.Observable{Kind: kind, Value: v}
		if !slices.Contains(obj.Observables, o) {
			obj.Observables = append(obj.Observables, o)
		}
	}
}

// observableKind maps an index key's object path to an observable kind, or "".
func observableKind(k IndexKey) string {
	if k.Kind != KindString {
		return ""
	}
	switch k.ObjectType {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr":
		if len(k.Steps) == 1 && k.Steps[0].Key == "value" {
			return k.ObjectType
		}
	case "file":
		if len(k.Steps) == 2 && k.Steps[0].Key == "hashes" {
			return stix.ObsHashKind + stix.HashAlgorithm(k.Steps[1].Key)
		}
	}
	return ""
}
