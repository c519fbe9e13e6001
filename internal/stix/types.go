package stix

import (
	"slices"
	"strings"
)

// typeSpec describes an object type the specification defines.
type typeSpec struct {
	kind    Kind
	props   map[string]prop // type-specific properties
	common  map[string]prop // the common properties its category may use
	na      []string        // common properties "not applicable" to it (refused under 2.1)
	req21   []string        // required properties under STIX 2.1, besides type and id
	req20   []string        // required properties under STIX 2.0, besides type and id
	check   func(v *validator)
	idProps []string            // SCOs: the ID contributing properties (§3.4), nil when there are none
	exts    map[string]*objSpec // SCOs: the predefined extensions
}

// The type names the specification defines, by category.
var (
	sdoTypes = setOf("attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
		"indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
		"observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability")
	scoTypes = setOf("artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
		"file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
		"user-account", "windows-registry-key", "x509-certificate")
	sroTypes  = setOf("relationship", "sighting")
	metaTypes = setOf("marking-definition", "language-content", "extension-definition")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Common properties (§3.2). created and modified are read by readHeader; they appear here so that
// they count as known.
var (
	commonCore = map[string]prop{
		"created":             pTimestamp,
		"modified":            pTimestamp,
		"created_by_ref":      pRef(refIdentity),
		"revoked":             pBool,
		"labels":              pStrings,
		"confidence":          pIntRange(0, 100),
		"lang":                {c: cLang},
		"external_references": {c: cExtRefs},
		"object_marking_refs": pRefs(refMarking),
		"granular_markings":   {c: cGranular},
		"extensions":          {c: cExtensions},
		"defanged":            pBool,
	}
	naSDO     = []string{"defanged"}
	naSCO     = []string{"labels", "confidence", "lang", "external_references"}
	naMarking = []string{"modified", "revoked", "labels", "confidence", "lang", "defanged"}
	naLang    = []string{"lang", "defanged"}
	naExtDef  = []string{"confidence", "lang", "defanged", "extensions"}
)

var killChainPhase = objSpec{
	props:    map[string]prop{"kill_chain_name": pString, "phase_name": pString},
	required: []string{"kill_chain_name", "phase_name"},
}

// validCVE checks CVE-YYYY-NNNN (four digits, or more without a leading zero).
func validCVE(s string) bool {
	rest, ok := strings.CutPrefix(s, "CVE-")
	if !ok || len(rest) < 9 || rest[4] != '-' || !allDigits(rest[:4]) {
		return false
	}
	seq := rest[5:]
	return allDigits(seq) && (len(seq) == 4 || seq[0] != '0')
}

// validCAPEC checks CAPEC-N.
func validCAPEC(s string) bool {
	rest, ok := strings.CutPrefix(s, "CAPEC-")
	return ok && rest != "" && allDigits(rest)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var externalReference = objSpec{
	props: map[string]prop{"source_name": pString, "description": pString, "url": pString,
		"hashes": pHashes, "external_id": pString},
	required: []string{"source_name"},
	check: func(v *validator, p *path, sp span) {
		if !v.memberIn(sp, "description") && !v.memberIn(sp, "url") && !v.memberIn(sp, "external_id") {
			v.problem(p, "required", "an external reference needs description, url or external_id besides source_name")
		}
		src, _ := v.lookup(sp, "source_name")
		if src.e == 0 || src.kind(v.raw) != '"' {
			return
		}
		var valid func(string) bool
		switch v.unquoted(src) {
		case "cve":
			valid = validCVE
		case "capec":
			valid = validCAPEC
		default:
			return
		}
		ep := v.key(p, "external_id")
		ext, ok := v.lookup(sp, "external_id")
		if !ok {
			v.problemf(ep, "required", "an external reference with source_name %q needs an external_id", v.unquoted(src))
		} else if ext.kind(v.raw) == '"' && !valid(v.unquoted(ext)) {
			v.problemf(ep, "external-id", "%q is not a valid %s identifier", v.unquoted(ext), v.unquoted(src))
		}
	},
}

// builtinTypes describes every type the specification defines. It is built once and only read.
var builtinTypes = buildTypes()

type typeTable map[string]*typeSpec

func (t typeTable) sdo(name string, props map[string]prop, req21, req20 []string, check func(*validator)) {
	t[name] = &typeSpec{kind: KindSDO, props: props, common: commonCore, na: naSDO,
		req21: append([]string{"spec_version", "created", "modified"}, req21...),
		req20: append([]string{"created", "modified"}, req20...), check: check}
}

func (t typeTable) sco(name string, props map[string]prop, req []string, idProps []string, exts map[string]*objSpec, check func(*validator)) {
	idProps = slices.Clone(idProps)
	slices.Sort(idProps) // canonical JSON orders members by name
	t[name] = &typeSpec{kind: KindSCO, props: props, common: commonCore, na: naSCO,
		req21: req, req20: req, idProps: idProps, exts: exts, check: check}
}

func buildTypes() typeTable {
	t := typeTable{}
	sdo := t.sdo
	strs := pStrings
	// §4 STIX Domain Objects.
	sdo("attack-pattern", map[string]prop{"name": pString, "description": pString, "aliases": strs,
		"kill_chain_phases": pKillChain}, []string{"name"}, []string{"name"}, nil)
	sdo("campaign", map[string]prop{"name": pString, "description": pString, "aliases": strs,
		"first_seen": pTimestamp, "last_seen": pTimestamp, "objective": pString},
		[]string{"name"}, []string{"name"}, order("first_seen", "last_seen", false))
	sdo("course-of-action", map[string]prop{"name": pString, "description": pString},
		[]string{"name"}, []string{"name"}, nil)
	sdo("grouping", map[string]prop{"name": pString, "description": pString, "context": pString,
		"object_refs": pAnyRefs}, []string{"context", "object_refs"}, []string{"context", "object_refs"}, nil)
	sdo("identity", map[string]prop{"name": pString, "description": pString, "roles": strs,
		"identity_class": pString, "sectors": strs, "contact_information": pString},
		[]string{"name"}, []string{"name", "identity_class"}, nil)
	sdo("incident", map[string]prop{"name": pString, "description": pString, "kill_chain_phases": pKillChain},
		[]string{"name"}, []string{"name"}, nil)
	sdo("indicator", map[string]prop{"name": pString, "description": pString, "indicator_types": strs,
		"pattern": pString, "pattern_type": pString, "pattern_version": pString, "valid_from": pTimestamp,
		"valid_until": pTimestamp, "kill_chain_phases": pKillChain},
		[]string{"pattern", "pattern_type", "valid_from"}, []string{"labels", "pattern", "valid_from"},
		order("valid_from", "valid_until", true))
	sdo("infrastructure", map[string]prop{"name": pString, "description": pString, "infrastructure_types": strs,
		"aliases": strs, "kill_chain_phases": pKillChain, "first_seen": pTimestamp, "last_seen": pTimestamp},
		[]string{"name"}, []string{"name"}, order("first_seen", "last_seen", false))
	sdo("intrusion-set", map[string]prop{"name": pString, "description": pString, "aliases": strs,
		"first_seen": pTimestamp, "last_seen": pTimestamp, "goals": strs, "resource_level": pString,
		"primary_motivation": pString, "secondary_motivations": strs},
		[]string{"name"}, []string{"name"}, order("first_seen", "last_seen", false))
	sdo("location", map[string]prop{"name": pString, "description": pString,
		"latitude": pNumRange(-90, 90), "longitude": pNumRange(-180, 180), "precision": pNumRange(0, 1e300),
		"region": pString, "country": pString, "administrative_area": pString, "city": pString,
		"street_address": pString, "postal_code": pString}, nil, nil, checkLocation)
	sdo("malware", map[string]prop{"name": pString, "description": pString, "malware_types": strs,
		"is_family": pBool, "aliases": strs, "kill_chain_phases": pKillChain, "first_seen": pTimestamp,
		"last_seen": pTimestamp, "operating_system_refs": pRefs(refTo("a software object", "software")),
		"architecture_execution_envs": strs, "implementation_languages": strs, "capabilities": strs,
		"sample_refs": pRefs(refTo("a file or artifact", "file", "artifact"))},
		[]string{"is_family"}, []string{"labels", "name"}, checkMalware)
	sdo("malware-analysis", map[string]prop{"product": pString, "version": pString,
		"host_vm_ref": pRef(refTo("a software object", "software")), "operating_system_ref": pRef(refTo("a software object", "software")),
		"installed_software_refs": pRefs(refTo("a software object", "software")), "configuration_version": pString,
		"modules": strs, "analysis_engine_version": pString, "analysis_definition_version": pString,
		"submitted": pTimestamp, "analysis_started": pTimestamp, "analysis_ended": pTimestamp,
		"result_name": pString, "result": pString, "analysis_sco_refs": pRefs(refSCO),
		"sample_ref": pRef(refTo("a file, network-traffic or artifact", "file", "network-traffic", "artifact"))},
		[]string{"product"}, []string{"product"}, checkMalwareAnalysis)
	sdo("note", map[string]prop{"abstract": pString, "content": pString, "authors": strs, "object_refs": pAnyRefs},
		[]string{"content", "object_refs"}, []string{"content", "object_refs"}, nil)
	sdo("observed-data", map[string]prop{"first_observed": pTimestamp, "last_observed": pTimestamp,
		"number_observed": pIntRange(1, 999999999), "objects": {c: cAny}, "object_refs": pRefs(refSCOorSRO)},
		[]string{"first_observed", "last_observed", "number_observed"},
		[]string{"first_observed", "last_observed", "number_observed", "objects"}, checkObservedData)
	sdo("opinion", map[string]prop{"explanation": pString, "authors": strs, "object_refs": pAnyRefs,
		"opinion": pEnum("strongly-disagree", "disagree", "neutral", "agree", "strongly-agree")},
		[]string{"opinion", "object_refs"}, []string{"opinion", "object_refs"}, nil)
	sdo("report", map[string]prop{"name": pString, "description": pString, "report_types": strs,
		"published": pTimestamp, "object_refs": pAnyRefs},
		[]string{"name", "published", "object_refs"}, []string{"labels", "name", "published", "object_refs"}, nil)
	sdo("threat-actor", map[string]prop{"name": pString, "description": pString, "threat_actor_types": strs,
		"aliases": strs, "first_seen": pTimestamp, "last_seen": pTimestamp, "roles": strs, "goals": strs,
		"sophistication": pString, "resource_level": pString, "primary_motivation": pString,
		"secondary_motivations": strs, "personal_motivations": strs},
		[]string{"name"}, []string{"labels", "name"}, order("first_seen", "last_seen", false))
	sdo("tool", map[string]prop{"name": pString, "description": pString, "tool_types": strs, "aliases": strs,
		"kill_chain_phases": pKillChain, "tool_version": pString},
		[]string{"name"}, []string{"labels", "name"}, nil)
	sdo("vulnerability", map[string]prop{"name": pString, "description": pString},
		[]string{"name"}, []string{"name"}, nil)

	// §5 STIX Relationship Objects.
	sdo("relationship", map[string]prop{"relationship_type": pString, "description": pString,
		"source_ref": {c: cRef, ref: refSDOorSCO, noEdge: true}, "target_ref": {c: cRef, ref: refSDOorSCO, noEdge: true},
		"start_time": pTimestamp, "stop_time": pTimestamp},
		[]string{"relationship_type", "source_ref", "target_ref"}, []string{"relationship_type", "source_ref", "target_ref"},
		checkRelationship)
	sdo("sighting", map[string]prop{"description": pString, "first_seen": pTimestamp, "last_seen": pTimestamp,
		"count": pIntRange(0, 999999999), "sighting_of_ref": pRef(refSDO),
		"observed_data_refs": pRefs(refTo("an observed-data object", "observed-data")),
		"where_sighted_refs": pRefs(refTo("an identity or location", "identity", "location")), "summary": pBool},
		[]string{"sighting_of_ref"}, []string{"sighting_of_ref"}, order("first_seen", "last_seen", false))
	t["relationship"].kind = KindSRO
	t["sighting"].kind = KindSRO

	// §7 STIX Meta Objects.
	t["language-content"] = &typeSpec{kind: KindMeta, common: commonCore, na: naLang,
		props: map[string]prop{"object_ref": pRef(refNotLangContent), "object_modified": pTimestamp,
			"contents": {c: cAny}},
		req21: []string{"spec_version", "created", "modified", "object_ref", "contents"},
		req20: []string{"created", "modified", "object_ref", "contents"}, check: checkLanguageContent}
	t["marking-definition"] = &typeSpec{kind: KindMeta, common: commonCore, na: naMarking,
		props: map[string]prop{"name": pString, "definition_type": pString, "definition": {c: cObject, obj: &objSpec{}}},
		req21: []string{"spec_version", "created"},
		req20: []string{"created", "definition_type", "definition"}, check: checkMarkingDefinition}
	t["extension-definition"] = &typeSpec{kind: KindMeta, common: commonCore, na: naExtDef,
		props: map[string]prop{"name": pString, "description": pString, "schema": pString, "version": pString,
			"extension_types": pEnumList(extensionTypes...), "extension_properties": strs},
		req21: []string{"spec_version", "created", "modified", "created_by_ref", "name", "schema", "version", "extension_types"},
		req20: []string{"created", "modified", "created_by_ref", "name", "schema", "version", "extension_types"},
		check: checkExtensionDefinition}

	t.registerSCOs()
	return t
}

var extensionTypes = []string{"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"}

// order requires the timestamp property last to be later than (strict) or not earlier than first.
func order(first, last string, strict bool) func(*validator) {
	return func(v *validator) {
		f, ok1 := v.quietTimestamp(first)
		l, ok2 := v.quietTimestamp(last)
		if !ok1 || !ok2 {
			return
		}
		c := l.Compare(f)
		if c < 0 || strict && c == 0 {
			p := v.top(last)
			word := "earlier than"
			if strict {
				word = "not later than"
			}
			v.problemf(p, "timestamp-order", "%s %s is %s %s %s", last, l, word, first, f)
		}
	}
}

// quietTimestamp reads a top-level timestamp without reporting problems (value() reports them).
func (v *validator) quietTimestamp(name string) (Timestamp, bool) {
	sp, ok := v.get(name)
	if !ok || sp.kind(v.raw) != '"' {
		return Timestamp{}, false
	}
	ts, err := ParseTimestamp(v.unquoted(sp))
	return ts, err == nil
}

func (v *validator) requireOneOf(names ...string) {
	for _, n := range names {
		if v.has(n) {
			return
		}
	}
	v.problem(nil, "required", "at least one of "+strings.Join(names, ", ")+" is required")
}

func (v *validator) exclusive(a, b, why string) {
	if v.has(a) && v.has(b) {
		p := v.top(b)
		v.problemf(p, "exclusive", "%s and %s must not both be present%s", a, b, why)
	}
}

func (v *validator) boolValue(name string) (value, present bool) {
	sp, ok := v.get(name)
	if !ok {
		return false, false
	}
	return v.raw[sp.s] == 't', v.raw[sp.s] == 't' || v.raw[sp.s] == 'f'
}

func checkLocation(v *validator) {
	lat, lon := v.has("latitude"), v.has("longitude")
	if !v.has("region") && !v.has("country") && !(lat && lon) {
		v.problem(nil, "required", "a location needs region, country, or latitude and longitude")
	}
	if lat != lon {
		v.problem(nil, "required", "latitude and longitude must be given together")
	}
	if v.has("precision") && !(lat && lon) {
		p := v.top("precision")
		v.problem(p, "required", "precision needs latitude and longitude")
	}
}

func checkMalware(v *validator) {
	order("first_seen", "last_seen", false)(v)
	if fam, _ := v.boolValue("is_family"); fam && v.v21 && !v.has("name") {
		p := v.top("name")
		v.problem(p, "required", "the name property is required when is_family is true")
	}
}

func checkMalwareAnalysis(v *validator) {
	if !v.has("result") && !v.has("analysis_sco_refs") {
		v.problem(nil, "required", "at least one of result, analysis_sco_refs is required")
	}
}

func checkObservedData(v *validator) {
	order("first_observed", "last_observed", false)(v)
	objs, hasObjs := v.get("objects")
	if v.v21 {
		if v.has("object_refs") == hasObjs {
			v.problem(nil, "required", "exactly one of object_refs and objects (deprecated) is required")
		}
	}
	if !hasObjs {
		return
	}
	p := v.top("objects")
	if !v.nonEmptyObject(p, objs, "an object", "objects must hold at least one cyber-observable object") {
		return
	}
	it := newIter(v.raw, objs)
	for {
		n, val, ok := it.member()
		if !ok {
			return
		}
		op := v.key(p, v.unquoted(n))
		if val.kind(v.raw) != '{' {
			v.wrongType(op, val, "an object")
			continue
		}
		tp := v.key(op, "type")
		if t, ok := v.lookup(val, "type"); !ok {
			v.problem(tp, "required", "the type property is required")
		} else if s, ok := v.str(tp, t); ok && !ValidTypeName(s) {
			v.problem(tp, "type-format", checkTypeName(s))
		}
	}
}

func validRelationshipType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkRelationship(v *validator) {
	order("start_time", "stop_time", true)(v)
	if sp, ok := v.get("relationship_type"); ok && sp.kind(v.raw) == '"' {
		if rt := v.unquoted(sp); !validRelationshipType(rt) {
			p := v.top("relationship_type")
			v.problemf(p, "relationship-type", "%q may only contain a–z, 0–9 and hyphens", rt)
		}
	}
	src, ok1 := v.get("source_ref")
	dst, ok2 := v.get("target_ref")
	rt, ok3 := v.get("relationship_type")
	if ok1 && ok2 && ok3 && src.kind(v.raw) == '"' && dst.kind(v.raw) == '"' && rt.kind(v.raw) == '"' {
		s, t := v.unquoted(src), v.unquoted(dst)
		if checkID(s, "") == "" && checkID(t, "") == "" {
			v.addEdge(Edge{Source: s, Target: t, Type: v.unquoted(rt)})
		}
	}
}

func checkLanguageContent(v *validator) {
	sp, ok := v.get("contents")
	if !ok {
		return
	}
	p := v.top("contents")
	if !v.nonEmptyObject(p, sp, "a dictionary keyed by language", "contents must have at least one language") {
		return
	}
	it := newIter(v.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			return
		}
		lang := v.unquoted(n)
		lp := v.key(p, lang)
		if !validLang(lang) {
			v.problemf(lp, "lang", "%q is not an RFC 5646 language tag", lang)
		}
		if val.kind(v.raw) != '{' {
			v.wrongType(lp, val, "an object mirroring the translated properties")
		}
	}
}

func checkExtensionDefinition(v *validator) {
	if !v.has("extension_properties") {
		return
	}
	sp, _ := v.get("extension_types")
	if sp.e != 0 && sp.kind(v.raw) == '[' {
		it := newIter(v.raw, sp)
		for {
			e, ok := it.elem()
			if !ok {
				break
			}
			if e.kind(v.raw) == '"' && v.unquoted(e) == "toplevel-property-extension" {
				return
			}
		}
	}
	p := v.top("extension_properties")
	v.problem(p, "extension-properties", "extension_properties may only be used when extension_types includes toplevel-property-extension")
}

func checkMarkingDefinition(v *validator) {
	dt, hasType := v.get("definition_type")
	def, hasDef := v.get("definition")
	if v.v21 && !v.has("extensions") {
		for _, name := range [...]string{"definition_type", "definition"} {
			if !v.has(name) {
				p := v.top(name)
				v.problemf(p, "required", "the %s property is required when there are no extensions", name)
			}
		}
	}
	id := v.obj.ID
	if hasType && dt.kind(v.raw) == '"' && hasDef && def.kind(v.raw) == '{' {
		dp := v.top("definition")
		switch v.unquoted(dt) {
		case "tlp":
			tp := v.key(dp, "tlp")
			level, ok := v.lookup(def, "tlp")
			if !ok {
				v.problem(tp, "required", "a TLP marking definition needs definition.tlp")
				break
			}
			name, _ := v.str(tp, level)
			want, known := tlp1ByID[id]
			if !known || want.name != name {
				v.problemf(tp, "tlp", "TLP marking definitions must be the ones the specification predefines (§7.2.1.4); %s is not TLP:%s", id, strings.ToUpper(name))
			}
		case "statement":
			sp := v.key(dp, "statement")
			if st, ok := v.lookup(def, "statement"); !ok {
				v.problem(sp, "required", "a statement marking definition needs definition.statement")
			} else {
				v.str(sp, st)
			}
		}
	}
	if def, ok := tlp2ByID[id]; ok || v.usesTLP2() {
		if !ok || !v.isTLP2(def) {
			p := v.top("extensions")
			v.problemf(p, "tlp", "TLP 2.0 marking definitions must be the ones OASIS publishes; %s is not one of them", id)
		}
	}
	if _, ok := tlp1ByID[id]; ok && !(hasType && dt.kind(v.raw) == '"' && v.unquoted(dt) == "tlp") {
		p := v.top("definition_type")
		v.problemf(p, "tlp", "%s is reserved for a TLP 1.0 marking definition", id)
	}
}

// usesTLP2 reports whether the object carries the TLP 2.0 marking extension.
func (v *validator) usesTLP2() bool {
	ext, ok := v.get("extensions")
	return ok && v.memberIn(ext, TLP2ExtensionID)
}

// isTLP2 checks the TLP 2.0 extension of a marking definition against its published level.
func (v *validator) isTLP2(def *builtinMarking) bool {
	ext, ok := v.get("extensions")
	if !ok {
		return false
	}
	inst, ok := v.lookup(ext, TLP2ExtensionID)
	if !ok {
		return false
	}
	lvl, ok := v.lookup(inst, "tlp_2_0")
	return ok && lvl.kind(v.raw) == '"' && v.unquoted(lvl) == def.name
}
