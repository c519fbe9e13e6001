package misp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// MarshalJSON writes true and false as JSON literals and everything else as a string.
func (f Flex) MarshalJSON() ([]byte, error) {
	if f == "true" || f == "false" {
		return []byte(f), nil
	}
	return json.Marshal(string(f))
}

// MaxSTIXObjects bounds the objects FromSTIX takes.
const MaxSTIXObjects = 1 << 20

// Exported is the MISP made from STIX objects.
type Exported struct {
	Events  []*Event
	Skipped []string // objects that gave no attribute, and why
}

// JSON returns the events as MISP JSON: {"Event": …} for one event, else {"response": [{"Event": …}, …]}.
// The same events give the same bytes.
func (x *Exported) JSON() ([]byte, error) {
	type wrap struct {
		Event *Event `json:"Event"`
	}
	if len(x.Events) == 1 {
		return marshal(wrap{x.Events[0]})
	}
	ws := make([]wrap, len(x.Events))
	for i, e := range x.Events {
		ws[i] = wrap{e}
	}
	return marshal(struct {
		Response []wrap `json:"response"`
	}{ws})
}

// stixIn is what FromSTIX reads of a STIX object.
type stixIn struct {
	Type               string            `json:"type"`
	ID                 string            `json:"id"`
	Created            string            `json:"created"`
	Modified           string            `json:"modified"`
	Published          string            `json:"published"`
	CreatedByRef       string            `json:"created_by_ref"`
	Name               string            `json:"name"`
	Description        string            `json:"description"`
	Aliases            []string          `json:"aliases"`
	Pattern            string            `json:"pattern"`
	PatternType        string            `json:"pattern_type"`
	ValidFrom          string            `json:"valid_from"`
	ValidUntil         string            `json:"valid_until"`
	FirstObserved      string            `json:"first_observed"`
	LastObserved       string            `json:"last_observed"`
	Abstract           string            `json:"abstract"`
	Content            string            `json:"content"`
	ObjectRefs         []string          `json:"object_refs"`
	Labels             []string          `json:"labels"`
	ObjectMarkingRefs  []string          `json:"object_marking_refs"`
	ExternalReferences []externalRef     `json:"external_references"`
	Value              any               `json:"value"`
	Number             *int64            `json:"number"`
	Key                string            `json:"key"`
	Subject            string            `json:"subject"`
	Size               *int64            `json:"size"`
	Hashes             map[string]string `json:"hashes"`
	Values             []regValue        `json:"values"`
	ResolvesToRefs     []string          `json:"resolves_to_refs"`
	SrcRef             string            `json:"src_ref"`
	DstRef             string            `json:"dst_ref"`
	SrcPort            *int64            `json:"src_port"`
	DstPort            *int64            `json:"dst_port"`
}

func (o *stixIn) label(key string) string {
	for _, l := range o.Labels {
		if v, ok := strings.CutPrefix(l, "misp:"+key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// otherLabels returns the labels that are not misp:… mapping labels.
func (o *stixIn) otherLabels() []string {
	var out []string
	for _, l := range o.Labels {
		if !strings.HasPrefix(l, "misp:type=") && !strings.HasPrefix(l, "misp:category=") &&
			!strings.HasPrefix(l, "misp:name=") && !strings.HasPrefix(l, "misp:meta-category=") {
			out = append(out, l)
		}
	}
	return out
}

func (o *stixIn) str(k string) string {
	switch k {
	case "value":
		if s, ok := o.Value.(string); ok {
			return s
		}
	case "name":
		return o.Name
	case "key":
		return o.Key
	case "subject":
		return o.Subject
	}
	return ""
}

type exporter struct {
	specs  map[string]typeSpec
	objs   map[string]*stixIn
	out    *Exported
	evDist Flex
	evTLP  stix.TLP
}

// FromSTIX converts STIX objects (JSON texts) to MISP events: each report or grouping becomes an
// event with the objects it refers to; without one, all objects make one event. Indicators with
// simple patterns, observed-data, notes and vulnerabilities written by ToSTIX come back as the
// attributes and objects they came from (type, category, value, to_ids, uuid); others are mapped
// by their STIX type and paths (docs/MISP.md). What gives no attribute is listed in Skipped.
func FromSTIX(raws [][]byte) (*Exported, error) {
	if len(raws) > MaxSTIXObjects {
		return nil, fmt.Errorf("misp: %d STIX objects, more than the limit of %d: %w", len(raws), MaxSTIXObjects, ErrLimit)
	}
	x := &exporter{specs: typeSpecs(), objs: map[string]*stixIn{}, out: &Exported{}}
	var containers, all []string
	for i, raw := range raws {
		o := new(stixIn)
		if err := json.Unmarshal(raw, o); err != nil {
			return nil, fmt.Errorf("misp: STIX object %d: %w", i, err)
		}
		if o.ID == "" {
			return nil, fmt.Errorf("misp: STIX object %d has no id", i)
		}
		x.objs[o.ID] = o
		all = append(all, o.ID)
		if o.Type == "report" || o.Type == "grouping" {
			containers = append(containers, o.ID)
		}
	}
	if len(containers) == 0 {
		id := "report--" + derivedUUID(append([]string{"export"}, all...)...)
		x.objs[id] = &stixIn{Type: "report", ID: id, Name: "STIX export", ObjectRefs: all}
		containers = []string{id}
	}
	for _, id := range containers {
		x.out.Events = append(x.out.Events, x.event(x.objs[id]))
	}
	return x.out, nil
}

func idUUID(id string) string {
	_, u, _ := strings.Cut(id, "--")
	return u
}

func unixText(ts string) Flex {
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		return Flex(strconv.FormatInt(t.Unix(), 10))
	}
	return ""
}

// markingsOf returns the distribution (0–4, or "" for none) and the TLP of marking refs.
func markingsOf(refs []string) (Flex, stix.TLP, string) {
	var dist Flex
	group := ""
	for _, r := range refs {
		if d, ok := policy.DistributionLevel(r); ok {
			switch d {
			case policy.DistOrganisation:
				dist = "0"
			case policy.DistCommunity:
				dist = "1"
			case policy.DistFederation:
				dist = "2"
			case policy.DistAll:
				dist = "3"
			}
		} else if _, ok := stix.TLPLevel(r); !ok && strings.HasPrefix(r, "marking-definition--") {
			dist, group = "4", r
		}
	}
	return dist, stix.MaxTLP(refs), group
}

func tlpTag(l stix.TLP) string {
	switch l {
	case stix.TLPNone:
		return ""
	case stix.TLPClear:
		return "tlp:clear"
	}
	return strings.ToLower(l.String())
}

func (x *exporter) event(rep *stixIn) *Event {
	ev := &Event{UUID: idUUID(rep.ID), Info: rep.Name, Timestamp: unixText(rep.Modified), Analysis: "2", ThreatLevelID: "4"}
	if t, err := time.Parse(time.RFC3339Nano, rep.Created); err == nil {
		ev.Date = t.UTC().Format("2006-01-02")
	}
	if rep.Published != "" {
		ev.Published, ev.PublishTimestamp = "true", unixText(rep.Published)
	} else {
		ev.Published = "false"
	}
	if idn := x.objs[rep.CreatedByRef]; idn != nil {
		ev.Orgc = &Org{UUID: idUUID(idn.ID), Name: idn.Name}
	} else if rep.CreatedByRef != "" {
		ev.Orgc = &Org{UUID: idUUID(rep.CreatedByRef)}
	}
	var group string
	ev.Distribution, x.evTLP, group = markingsOf(rep.ObjectMarkingRefs)
	if group != "" {
		ev.SharingGroup = &SharingGroup{UUID: idUUID(group)}
	}
	x.evDist = ev.Distribution
	if t := tlpTag(x.evTLP); t != "" {
		ev.Tag = append(ev.Tag, Tag{Name: t})
	}
	for _, l := range rep.Labels {
		ev.Tag = append(ev.Tag, Tag{Name: l})
	}
	for _, r := range rep.ExternalReferences {
		if r.SourceName == "misp-link" && r.URL != "" {
			ev.Attribute = append(ev.Attribute, Attribute{UUID: derivedUUID("link", ev.UUID, r.URL), Type: "link",
				Category: "External analysis", Value: r.URL, Comment: r.Description, ToIDs: "false", Timestamp: ev.Timestamp})
		}
	}
	for _, ref := range rep.ObjectRefs {
		o := x.objs[ref]
		if o == nil {
			continue
		}
		x.object(ev, o)
	}
	return ev
}

func (x *exporter) skip(o *stixIn, why string) {
	x.out.Skipped = append(x.out.Skipped, o.ID+": "+why)
}

// attr fills the common fields of an attribute made from a STIX object.
func (x *exporter) attr(o *stixIn, typ, value string, toIDs bool) Attribute {
	a := Attribute{UUID: idUUID(o.ID), Type: typ, Value: value, ToIDs: "false", Timestamp: unixText(o.Modified),
		Category: o.label("category"), Distribution: "5"}
	if toIDs {
		a.ToIDs = "true"
	}
	if a.Category == "" {
		a.Category = x.specs[typ].category
		if a.Category == "" {
			a.Category = "Other"
		}
	}
	dist, tlp, _ := markingsOf(o.ObjectMarkingRefs)
	if dist != "" && dist != x.evDist {
		a.Distribution = dist
	}
	if tlp > x.evTLP {
		a.Tag = append(a.Tag, Tag{Name: tlpTag(tlp)})
	}
	for _, l := range o.otherLabels() {
		a.Tag = append(a.Tag, Tag{Name: l})
	}
	return a
}

// object returns the MISP object a STIX object labelled misp:name belongs to (made on first use).
func (x *exporter) mispObject(ev *Event, o *stixIn) *Object {
	u := idUUID(o.ID)
	if obj := x.objectPtr(ev, u); obj != nil {
		return obj
	}
	ev.Object = append(ev.Object, Object{UUID: u, Name: o.label("name"), MetaCategory: o.label("meta-category"),
		Timestamp: unixText(o.Modified), Distribution: "5"})
	return &ev.Object[len(ev.Object)-1]
}

// objectPtr finds an object of the event by uuid (ev.Object grows, so pointers are looked up anew).
func (x *exporter) objectPtr(ev *Event, u string) *Object {
	for i := range ev.Object {
		if ev.Object[i].UUID == u {
			return &ev.Object[i]
		}
	}
	return nil
}

func (x *exporter) object(ev *Event, o *stixIn) {
	switch o.Type {
	case "indicator":
		x.indicator(ev, o)
	case "observed-data":
		x.observed(ev, o)
	case "note":
		x.note(ev, o)
	case "vulnerability":
		ev.Attribute = append(ev.Attribute, x.attr(o, "vulnerability", o.Name, false))
		ev.Attribute[len(ev.Attribute)-1].Comment = o.Description
	case "intrusion-set", "threat-actor":
		cl := Cluster{UUID: idUUID(o.ID), Value: o.Name, Description: o.Description, Type: "threat-actor"}
		if len(o.Aliases) > 0 {
			b, err := json.Marshal(map[string][]string{"synonyms": o.Aliases})
			if err == nil {
				_ = json.Unmarshal(b, &cl.Meta)
			}
		}
		if len(ev.Galaxy) == 0 || ev.Galaxy[0].Type != "threat-actor" {
			ev.Galaxy = append([]EventGalaxy{{Name: "Threat Actor", Type: "threat-actor"}}, ev.Galaxy...)
		}
		ev.Galaxy[0].GalaxyCluster = append(ev.Galaxy[0].GalaxyCluster, cl)
		ev.Tag = append(ev.Tag, Tag{Name: `misp-galaxy:threat-actor="` + o.Name + `"`})
	case "identity", "relationship", "sighting", "marking-definition":
		// Carried by the event itself (Orgc, distribution) or not mapped; see docs/MISP.md.
	default:
		if o.Type != "" && !isSCOType(o.Type) {
			x.skip(o, "no MISP equivalent for a "+o.Type)
		}
	}
}

func isSCOType(t string) bool {
	switch t {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "mac-addr", "mutex",
		"windows-registry-key", "autonomous-system", "network-traffic", "x509-certificate", "email-message",
		"artifact", "directory", "process", "software", "user-account":
		return true
	}
	return false
}

// comparisons reads the comparisons of a simple pattern (one observation, = and ISSUBSET, ANDs):
// path → value, with ipv6-addr paths written as ipv4-addr (the table's address path).
func comparisons(text string) (map[string]string, [][2]string, bool) {
	p, err := pattern.Compile(text)
	if err != nil {
		return nil, nil, false
	}
	vals := map[string]string{}
	var order [][2]string
	dup := false
	for _, c := range p.Comparisons() {
		if c.Negated || (c.Op != pattern.OpEq && c.Op != pattern.OpIsSubset) {
			return nil, nil, false
		}
		path := c.Path.String()
		if strings.HasPrefix(path, "ipv6-addr:") {
			path = "ipv4-addr:" + strings.TrimPrefix(path, "ipv6-addr:")
		}
		v := c.Value.Str
		if c.Value.Kind == pattern.KindInt {
			v = c.Value.Text
		}
		if _, ok := vals[path]; ok {
			dup = true
		}
		vals[path] = v
		order = append(order, [2]string{path, v})
	}
	if dup {
		vals = nil // a path given twice is no single attribute; order still lists the pairs
	}
	return vals, order, true
}

// typeFor returns the MISP type and value for a set of path values: the labelled type when its
// paths are all there, else the first type of inferOrder whose paths are exactly those given.
func (x *exporter) typeFor(label string, vals map[string]string) (string, string, bool) {
	join := func(typ string) (string, bool) {
		spec, ok := x.specs[typ]
		if !ok {
			return "", false
		}
		parts := make([]string, len(spec.paths))
		for i, p := range spec.paths {
			v, ok := vals[p]
			if !ok {
				return "", false
			}
			if p == pASN && typ == "AS" {
				v = "AS" + v
			}
			parts[i] = v
		}
		return strings.Join(parts, "|"), true
	}
	if label != "" {
		if v, ok := join(label); ok {
			return label, v, true
		}
	}
	for _, typ := range inferOrder {
		if len(x.specs[typ].paths) != len(vals) {
			continue
		}
		if v, ok := join(typ); ok {
			return typ, v, true
		}
	}
	return "", "", false
}

func (x *exporter) indicator(ev *Event, o *stixIn) {
	if o.PatternType != "stix" {
		typ := o.label("type")
		if typ == "" {
			typ = o.PatternType
		}
		a := x.attr(o, typ, o.Pattern, true)
		a.Comment = o.Description
		ev.Attribute = append(ev.Attribute, a)
		return
	}
	vals, order, ok := comparisons(o.Pattern)
	if !ok && o.label("name") != "" {
		vals, order, ok = objectComparisons(o.Pattern)
	}
	if !ok {
		x.skip(o, "pattern is not observations of = comparisons joined by AND")
		return
	}
	if o.label("name") != "" {
		obj := x.mispObject(ev, o)
		for i, pv := range order {
			typ, v, ok := x.typeFor("", map[string]string{pv[0]: pv[1]})
			if !ok {
				x.skip(o, "no MISP type for "+pv[0])
				continue
			}
			a := x.attr(o, typ, v, true)
			a.UUID = derivedUUID("object-attribute", o.ID, strconv.Itoa(i), pv[0], v)
			a.ObjectRelation = typ
			obj = x.objectPtr(ev, obj.UUID)
			obj.Attribute = append(obj.Attribute, a)
		}
		return
	}
	if vals == nil {
		x.skip(o, "pattern compares a path twice")
		return
	}
	typ, v, ok := x.typeFor(o.label("type"), vals)
	if !ok {
		x.skip(o, "no MISP type for the paths of "+o.Pattern)
		return
	}
	a := x.attr(o, typ, v, true)
	a.Comment = o.Description
	ev.Attribute = append(ev.Attribute, a)
}

// objectComparisons reads a pattern of several observations joined by AND, as ToSTIX writes for a
// MISP object.
func objectComparisons(text string) (map[string]string, [][2]string, bool) {
	var order [][2]string
	for _, part := range strings.Split(text, "] AND [") {
		part = "[" + strings.TrimSuffix(strings.TrimPrefix(part, "["), "]") + "]"
		_, o, ok := comparisons(part)
		if !ok {
			return nil, nil, false
		}
		order = append(order, o...)
	}
	return nil, order, true
}

// scoValues returns the path values of an SCO, following its references.
func (x *exporter) scoValues(s *stixIn) map[string]string {
	vals := map[string]string{}
	t := s.Type
	if t == "ipv6-addr" {
		t = "ipv4-addr"
	}
	for _, k := range []string{"value", "name", "key", "subject"} {
		if v := s.str(k); v != "" {
			vals[t+":"+k] = v
		}
	}
	if s.Number != nil {
		vals[t+":number"] = strconv.FormatInt(*s.Number, 10)
	}
	if s.Size != nil {
		vals[t+":size"] = strconv.FormatInt(*s.Size, 10)
	}
	for name, h := range s.Hashes {
		if plainHashName(name) {
			vals[t+":hashes."+name] = h
		} else {
			vals[t+":hashes.'"+name+"'"] = h
		}
	}
	if len(s.Values) > 0 && s.Values[0].Data != "" {
		vals[t+":values[*].data"] = s.Values[0].Data
	}
	if len(s.ResolvesToRefs) > 0 {
		if r := x.objs[s.ResolvesToRefs[0]]; r != nil {
			vals[t+":resolves_to_refs[*].value"] = r.str("value")
		}
	}
	for _, e := range []struct {
		ref, path string
		port      *int64
		portPath  string
	}{{s.DstRef, ":dst_ref.value", s.DstPort, ":dst_port"}, {s.SrcRef, ":src_ref.value", s.SrcPort, ":src_port"}} {
		if r := x.objs[e.ref]; r != nil {
			vals[t+e.path] = r.str("value")
		}
		if e.port != nil {
			vals[t+e.portPath] = strconv.FormatInt(*e.port, 10)
		}
	}
	return vals
}

func (x *exporter) observed(ev *Event, o *stixIn) {
	var roots []*stixIn
	referenced := map[string]bool{}
	for _, r := range o.ObjectRefs {
		if s := x.objs[r]; s != nil {
			roots = append(roots, s)
			for _, rr := range append([]string{s.DstRef, s.SrcRef}, s.ResolvesToRefs...) {
				referenced[rr] = true
			}
		}
	}
	roots = slices.DeleteFunc(roots, func(s *stixIn) bool { return referenced[s.ID] })
	if o.label("name") != "" {
		obj := x.mispObject(ev, o)
		for _, s := range roots {
			vals := x.scoValues(s)
			paths := make([]string, 0, len(vals))
			for p := range vals {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			for _, p := range paths {
				typ, v, ok := x.typeFor("", map[string]string{p: vals[p]})
				if !ok {
					continue
				}
				a := x.attr(o, typ, v, false)
				a.UUID = derivedUUID("object-attribute", o.ID, p, v)
				if s.Type != "file" {
					a.UUID = idUUID(s.ID)
				}
				a.ObjectRelation = typ
				obj = x.objectPtr(ev, obj.UUID)
				obj.Attribute = append(obj.Attribute, a)
			}
		}
		return
	}
	if len(roots) == 0 {
		x.skip(o, "observed-data refers to no object given")
		return
	}
	vals := x.scoValues(roots[0])
	typ, v, ok := x.typeFor(o.label("type"), vals)
	if !ok {
		x.skip(o, "no MISP type for the observed "+roots[0].Type)
		return
	}
	a := x.attr(o, typ, v, false)
	if t, err := time.Parse(time.RFC3339Nano, o.FirstObserved); err == nil && o.FirstObserved != o.Modified {
		a.FirstSeen = t.UTC().Format(time.RFC3339Nano)
	}
	ev.Attribute = append(ev.Attribute, a)
}

func (x *exporter) note(ev *Event, o *stixIn) {
	if typ := o.label("type"); typ != "" {
		a := x.attr(o, typ, o.Content, false)
		if !strings.HasPrefix(o.Abstract, "MISP ") {
			a.Comment = o.Abstract
		}
		ev.Attribute = append(ev.Attribute, a)
		return
	}
	if o.label("name") != "" {
		obj := x.mispObject(ev, o)
		for i, line := range strings.Split(o.Content, "\n") {
			rel, rest, ok := strings.Cut(line, " (")
			typ, value, ok2 := strings.Cut(rest, "): ")
			if !ok || !ok2 {
				continue
			}
			a := x.attr(o, typ, value, false)
			a.UUID = derivedUUID("object-note", o.ID, strconv.Itoa(i))
			a.ObjectRelation = rel
			obj = x.objectPtr(ev, obj.UUID)
			obj.Attribute = append(obj.Attribute, a)
		}
		return
	}
	a := x.attr(o, "comment", o.Content, false)
	a.Comment = o.Abstract
	ev.Attribute = append(ev.Attribute, a)
}
