package misp

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/formats/export"
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
	RelationshipType   string            `json:"relationship_type"`
	SourceRef          string            `json:"source_ref"`
	TargetRef          string            `json:"target_ref"`
	SightingOfRef      string            `json:"sighting_of_ref"`
	WhereSightedRefs   []string          `json:"where_sighted_refs"`
	FirstSeen          string            `json:"first_seen"`
	LastSeen           string            `json:"last_seen"`

	raw []byte   // as given
	tlp stix.TLP // the level it is shared under, when the caller says (ExportEvent)
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
			!strings.HasPrefix(l, "misp:name=") && !strings.HasPrefix(l, "misp:meta-category=") &&
			!strings.HasPrefix(l, "misp:sighting-type=") && l != labelEventReport && l != labelUnpublished {
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

// where is the MISP attribute or object a STIX object became.
type where struct {
	uuid   string
	object bool // a MISP object, else an attribute
}

type exporter struct {
	specs   map[string]typeSpec
	objs    map[string]*stixIn
	groups  map[string]*policy.SharingGroup // sharing-group marking id → group, from the marking definitions given
	out     *Exported
	evDist  Flex
	evGroup string // the event's sharing-group marking id, with evDist 4
	evTLP   stix.TLP

	// Per event:
	objIndex map[string]int   // MISP object uuid → index in ev.Object
	became   map[string]where // STIX id → what it became
	consumed map[string]bool  // SCO ids an observed-data or another SCO of the event carries
}

// parseObjects reads the STIX objects given to FromSTIX or ExportEvent, in the order given.
func parseObjects(raws [][]byte) (*exporter, []*stixIn, error) {
	if len(raws) > MaxSTIXObjects {
		return nil, nil, fmt.Errorf("misp: %d STIX objects, more than the limit of %d: %w", len(raws), MaxSTIXObjects, ErrLimit)
	}
	x := &exporter{specs: typeSpecs(), objs: make(map[string]*stixIn, len(raws)), groups: map[string]*policy.SharingGroup{}, out: &Exported{}}
	list := make([]*stixIn, 0, len(raws))
	for i, raw := range raws {
		o := &stixIn{raw: raw}
		if err := json.Unmarshal(raw, o); err != nil {
			return nil, nil, fmt.Errorf("misp: STIX object %d: %w", i, err)
		}
		if o.ID == "" {
			return nil, nil, fmt.Errorf("misp: STIX object %d has no id", i)
		}
		if _, dup := x.objs[o.ID]; dup {
			return nil, nil, fmt.Errorf("misp: STIX object %d: %s is given twice (give one version of each object)", i, o.ID)
		}
		x.objs[o.ID] = o
		list = append(list, o)
		if o.Type == "marking-definition" {
			if obj, err := stix.Decode(raw); err == nil {
				if g, err := policy.ParseSharingGroupMarking(obj); err == nil {
					x.groups[o.ID] = &g
				}
			}
		}
	}
	return x, list, nil
}

// FromSTIX converts STIX objects (JSON texts, one version of each) to MISP events: each report or
// grouping becomes an event with the objects it refers to; without one, all objects make one event.
// Indicators with simple patterns, observed-data, notes and vulnerabilities written by ToSTIX come
// back as the attributes and objects they came from (type, category, value, to_ids, uuid); others
// are mapped by their STIX type and paths (docs/MISP.md). What gives no attribute is listed in
// Skipped.
func FromSTIX(raws [][]byte) (*Exported, error) {
	x, list, err := parseObjects(raws)
	if err != nil {
		return nil, err
	}
	var containers []*stixIn
	all := make([]string, 0, len(list))
	for _, o := range list {
		all = append(all, o.ID)
		if o.Type == "report" || o.Type == "grouping" {
			containers = append(containers, o)
		}
	}
	if len(containers) == 0 {
		id := "report--" + derivedUUID(append([]string{"export"}, all...)...)
		containers = []*stixIn{{Type: "report", ID: id, Name: "STIX export", ObjectRefs: all}}
	}
	for _, c := range containers {
		x.setEventMarkings(c.ObjectMarkingRefs, c.tlp)
		x.out.Events = append(x.out.Events, x.event(c))
	}
	return x.out, nil
}

// ExportObject is one STIX object for ExportEvent: its JSON text and the TLP it is shared under
// (stix.TLPNone: what its markings say).
type ExportObject struct {
	Raw []byte
	TLP stix.TLP
}

// EventOptions control ExportEvent.
type EventOptions struct {
	// UUID is the uuid of the event; "" derives one (see ExportEvent). A fixed uuid lets a MISP
	// instance that imports every export update one event rather than add a new one each time.
	UUID string
	// Info is the event's info when it is not a report's (default "renkei export").
	Info string
}

// ExportTypes are the STIX types ExportEvent makes something of: the objects an export should read.
func ExportTypes() []string {
	return []string{"report", "grouping", "indicator", "observed-data", "note", "vulnerability", "intrusion-set",
		"threat-actor", "identity", "relationship", "sighting", "marking-definition",
		"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "email-message", "file", "mac-addr", "mutex",
		"windows-registry-key", "autonomous-system", "network-traffic", "x509-certificate"}
}

// ExportEvent writes STIX objects (one version of each) as one MISP event, for `renkei export
// --format misp`. Every object given goes into the event, by the mapping of FromSTIX, and:
//
//   - When the objects hold exactly one report or grouping and no UUID is set, the event is that
//     report's (uuid, info, date, timestamp, published, creator, tags, distribution), so that a
//     MISP event imported into renkei comes back as itself. Otherwise the event's uuid is
//     EventOptions.UUID, else the UUIDv5 of the ids and modified times of the objects (the same
//     objects give the same event); its info is EventOptions.Info; its timestamp and date are those
//     of the latest modified object; it is not published and has no creator (MISP gives it the
//     importing organisation).
//   - The other reports and groupings become event reports (name, description).
//   - The event's TLP tag is the lowest TLP of the objects; an attribute with a higher TLP (by its
//     markings or by ExportObject.TLP) carries its own tlp: tag. The event's distribution is the
//     widest of the objects'; each attribute keeps its own, and one without a distribution marking
//     is "your organisation only" (renkei's policy reads no marking as the organisation).
//   - Relationships from a MISP object to an object or attribute of the event become object
//     references; sightings of an attribute become its sightings; SCOs that no observed-data
//     carries become attributes without to_ids.
//
// What gives no attribute, reference or sighting is listed in Skipped with the reason. The same
// objects, in any order, give the same bytes.
func ExportEvent(objs []ExportObject, o EventOptions) (*Exported, error) {
	if o.UUID != "" && !validUUID(o.UUID) {
		return nil, fmt.Errorf("misp: event uuid %q is not a UUID", o.UUID)
	}
	raws := make([][]byte, len(objs))
	for i, eo := range objs {
		raws[i] = eo.Raw
	}
	x, list, err := parseObjects(raws)
	if err != nil {
		return nil, err
	}
	for i, eo := range objs {
		list[i].tlp = eo.TLP
	}
	slices.SortFunc(list, func(a, b *stixIn) int { return strings.Compare(a.ID, b.ID) })
	var reports []*stixIn
	for _, obj := range list {
		if obj.Type == "report" || obj.Type == "grouping" {
			reports = append(reports, obj)
		}
	}
	var container *stixIn
	if o.UUID == "" && len(reports) == 1 {
		c := *reports[0]
		in := make(map[string]bool, len(c.ObjectRefs))
		refs := make([]string, 0, len(list))
		for _, r := range c.ObjectRefs {
			if x.objs[r] != nil && !in[r] {
				in[r] = true
				refs = append(refs, r)
			}
		}
		for _, obj := range list {
			if !in[obj.ID] && obj.ID != c.ID {
				refs = append(refs, obj.ID)
			}
		}
		c.ObjectRefs = refs
		container = &c
		x.setEventMarkings(c.ObjectMarkingRefs, c.tlp)
	} else {
		container = x.syntheticEvent(list, o)
	}
	ev := x.event(container)
	for _, r := range reports {
		if r.ID == container.ID {
			continue
		}
		dist, _, _ := x.markingsOf(r.ObjectMarkingRefs)
		content := r.Description
		if content == "" {
			content = r.Name
		}
		ev.EventReport = append(ev.EventReport, EventReport{UUID: idUUID(r.ID), Name: cmp.Or(r.Name, r.ID),
			Content: content + "\n\n(STIX " + r.ID + ")", Distribution: x.attrDist(dist), Timestamp: unixText(r.Modified)})
	}
	x.out.Events = []*Event{ev}
	return x.out, nil
}

// syntheticEvent is the container of an export that is not one report's: every object, in id order.
func (x *exporter) syntheticEvent(list []*stixIn, o EventOptions) *stixIn {
	parts := make([]string, 0, 2*len(list)+1)
	parts = append(parts, "export-event")
	latest := ""
	refs := make([]string, 0, len(list))
	minTLP, wide, group := stix.TLPNone, Flex(""), ""
	for _, obj := range list {
		parts = append(parts, obj.ID, obj.Modified)
		refs = append(refs, obj.ID)
		if obj.Modified > latest && unixText(obj.Modified) != "" {
			latest = obj.Modified
		}
		switch obj.Type {
		case "identity", "marking-definition", "relationship", "sighting", "report", "grouping":
			continue // they make no attribute of their own
		}
		dist, tlp, g := x.markingsOf(obj.ObjectMarkingRefs)
		if tlp = max(tlp, obj.tlp); tlp != stix.TLPNone && (minTLP == stix.TLPNone || tlp < minTLP) {
			minTLP = tlp
		}
		if dist == "" {
			dist = "0"
		}
		if distOpenness(dist) > distOpenness(wide) {
			wide, group = dist, g
		}
	}
	id := o.UUID
	if id == "" {
		id = derivedUUID(parts...)
	}
	x.evDist, x.evGroup, x.evTLP = wide, group, minTLP
	if latest == "" {
		latest = "1970-01-01T00:00:00Z"
	}
	return &stixIn{Type: "report", ID: "report--" + strings.ToLower(id), Name: cmp.Or(o.Info, "renkei export"),
		Created: latest, Modified: latest, ObjectRefs: refs, tlp: stix.TLPNone}
}

// distOpenness orders MISP distributions from the narrowest: none given, organisation (0), sharing
// group (4), community (1), connected communities (2), all (3).
func distOpenness(d Flex) int {
	switch d {
	case "0":
		return 1
	case "4":
		return 2
	case "1":
		return 3
	case "2":
		return 4
	case "3":
		return 5
	}
	return 0
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

// markingsOf returns the distribution (0–4, or "" for none), the TLP and the sharing-group marking
// id of marking refs: the narrowest distribution when there are several. A marking definition given
// among the objects that is neither TLP, a renkei distribution nor a sharing group (a statement)
// says nothing of the distribution; one not given could be a sharing group the objects do not
// describe, and counts as the narrowest, the organisation (0).
func (x *exporter) markingsOf(refs []string) (Flex, stix.TLP, string) {
	var dist Flex
	group := ""
	narrow := func(d Flex, g string) {
		if dist == "" || distOpenness(d) < distOpenness(dist) {
			dist, group = d, g
		}
	}
	for _, r := range refs {
		if d, ok := policy.DistributionLevel(r); ok {
			switch d {
			case policy.DistOrganisation:
				narrow("0", "")
			case policy.DistCommunity:
				narrow("1", "")
			case policy.DistFederation:
				narrow("2", "")
			case policy.DistAll:
				narrow("3", "")
			}
		} else if x.groups[r] != nil {
			narrow("4", r)
		} else if _, tlp := stix.TLPLevel(r); !tlp && x.objs[r] == nil {
			narrow("0", "")
		}
	}
	return dist, stix.MaxTLP(refs), group
}

// setEventMarkings sets the distribution and TLP of the event being written from its container.
func (x *exporter) setEventMarkings(refs []string, tlp stix.TLP) {
	x.evDist, x.evTLP, x.evGroup = x.markingsOf(refs)
	x.evTLP = max(x.evTLP, tlp)
}

// attrDist is what an attribute (or event report) with distribution dist says: "5" (inherit) when it
// is the event's, its own when narrower, "0" when it has none but the event has one.
func (x *exporter) attrDist(dist Flex) Flex {
	switch {
	case dist == "" && x.evDist == "":
		return "5"
	case dist == "":
		return "0"
	case dist == x.evDist:
		return "5"
	}
	return dist
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
	x.objIndex, x.became, x.consumed = map[string]int{}, map[string]where{}, map[string]bool{}
	if t, err := time.Parse(time.RFC3339Nano, rep.Created); err == nil {
		ev.Date = t.UTC().Format("2006-01-02")
	}
	if rep.Published != "" && !slices.Contains(rep.Labels, labelUnpublished) {
		ev.Published, ev.PublishTimestamp = "true", unixText(rep.Published)
	} else {
		ev.Published = "false"
	}
	if idn := x.objs[rep.CreatedByRef]; idn != nil {
		ev.Orgc = &Org{UUID: idUUID(idn.ID), Name: idn.Name}
	} else if rep.CreatedByRef != "" {
		ev.Orgc = &Org{UUID: idUUID(rep.CreatedByRef)}
	}
	if x.evDist == "4" && x.groups[x.evGroup] == nil {
		x.evDist, x.evGroup = "0", "" // a group the objects given do not describe: the narrowest
	}
	ev.Distribution = x.evDist
	if x.evDist == "4" {
		ev.SharingGroup = sharingGroupOut(x.groups[x.evGroup], x.objs)
	}
	if t := tlpTag(x.evTLP); t != "" {
		ev.Tag = append(ev.Tag, Tag{Name: t})
	}
	for _, l := range rep.Labels {
		if l != labelUnpublished {
			ev.Tag = append(ev.Tag, Tag{Name: l})
		}
	}
	for _, r := range rep.ExternalReferences {
		if r.SourceName == "misp-link" && r.URL != "" {
			ev.Attribute = append(ev.Attribute, Attribute{UUID: derivedUUID("link", ev.UUID, r.URL), Type: "link",
				Category: "External analysis", Value: r.URL, Comment: r.Description, ToIDs: "false", Timestamp: ev.Timestamp})
		}
	}
	var objs []*stixIn
	for _, ref := range rep.ObjectRefs {
		if o := x.objs[ref]; o != nil {
			objs = append(objs, o)
		}
	}
	for _, o := range objs {
		x.consume(o)
	}
	var later []*stixIn
	for _, o := range objs {
		switch {
		case o.Type == "relationship" || o.Type == "sighting":
			later = append(later, o)
		case isSCOType(o.Type):
			if !x.consumed[o.ID] {
				x.standaloneSCO(ev, o)
			}
		default:
			x.object(ev, o)
		}
	}
	attrs := map[string]*Attribute{}
	for i := range ev.Attribute {
		attrs[ev.Attribute[i].UUID] = &ev.Attribute[i]
	}
	for _, o := range later {
		if o.Type == "relationship" {
			x.relationship(ev, o, attrs)
		} else {
			x.sighting(o, attrs)
		}
	}
	return ev
}

// sharingGroupOut describes a sharing group for MISP: its uuid, name, owner and members, with the
// names of the organisations the objects given name.
func sharingGroupOut(g *policy.SharingGroup, objs map[string]*stixIn) *SharingGroup {
	org := func(id string) *Org {
		o := &Org{UUID: idUUID(id)}
		if idn := objs[id]; idn != nil {
			o.Name = idn.Name
		}
		return o
	}
	sg := &SharingGroup{UUID: g.ID, Name: g.Name, Organisation: org(g.Owner)}
	for _, m := range g.Members {
		sg.SharingGroupOrg = append(sg.SharingGroupOrg, SharingGroupOrg{Organisation: org(m)})
	}
	return sg
}

// consume records the SCOs an observed-data, or another SCO, carries: they are not attributes of
// their own.
func (x *exporter) consume(o *stixIn) {
	switch {
	case o.Type == "observed-data":
		for _, r := range o.ObjectRefs {
			x.consumed[r] = true
		}
	case isSCOType(o.Type):
		for _, r := range append([]string{o.DstRef, o.SrcRef}, o.ResolvesToRefs...) {
			if r != "" {
				x.consumed[r] = true
			}
		}
	}
}

func (x *exporter) skip(o *stixIn, why string) {
	x.out.Skipped = append(x.out.Skipped, o.ID+": "+why)
}

// attr fills the common fields of an attribute made from a STIX object.
func (x *exporter) attr(o *stixIn, typ, value string, toIDs bool) Attribute {
	a := Attribute{UUID: idUUID(o.ID), Type: typ, Value: value, ToIDs: "false", Timestamp: unixText(o.Modified),
		Category: o.label("category")}
	if toIDs {
		a.ToIDs = "true"
	}
	if a.Category == "" {
		a.Category = x.specs[typ].category
		if a.Category == "" {
			a.Category = "Other"
		}
	}
	dist, tlp, group := x.markingsOf(o.ObjectMarkingRefs)
	if dist == "4" && group != x.evGroup {
		dist = "0" // another sharing group than the event's: an attribute here names no group of its own
	}
	a.Distribution = x.attrDist(dist)
	if tlp = max(tlp, o.tlp); tlp > x.evTLP {
		a.Tag = append(a.Tag, Tag{Name: tlpTag(tlp)})
	}
	for _, l := range o.otherLabels() {
		a.Tag = append(a.Tag, Tag{Name: l})
	}
	return a
}

// mispObject returns the MISP object a STIX object labelled misp:name belongs to (made on first use).
func (x *exporter) mispObject(ev *Event, o *stixIn) *Object {
	u := idUUID(o.ID)
	if obj := x.objectPtr(ev, u); obj != nil {
		return obj
	}
	dist, _, group := x.markingsOf(o.ObjectMarkingRefs)
	if dist == "4" && group != x.evGroup {
		dist = "0"
	}
	x.objIndex[u] = len(ev.Object)
	ev.Object = append(ev.Object, Object{UUID: u, Name: o.label("name"), MetaCategory: o.label("meta-category"),
		Timestamp: unixText(o.Modified), Distribution: x.attrDist(dist)})
	return &ev.Object[len(ev.Object)-1]
}

// objectPtr finds an object of the event by uuid (ev.Object grows, so pointers are looked up anew).
func (x *exporter) objectPtr(ev *Event, u string) *Object {
	if i, ok := x.objIndex[u]; ok {
		return &ev.Object[i]
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
		a := x.attr(o, "vulnerability", o.Name, false)
		a.Comment = o.Description
		x.addAttribute(ev, o, a)
	case "intrusion-set", "threat-actor":
		cl := Cluster{UUID: idUUID(o.ID), Value: o.Name, Description: o.Description, Type: "threat-actor"}
		if len(o.Aliases) > 0 {
			syn, err := json.Marshal(o.Aliases)
			if err != nil {
				x.skip(o, "aliases: "+err.Error())
				return
			}
			cl.Meta = map[string]jsontext.Value{"synonyms": syn}
		}
		if len(ev.Galaxy) == 0 || ev.Galaxy[0].Type != "threat-actor" {
			ev.Galaxy = append([]EventGalaxy{{Name: "Threat Actor", Type: "threat-actor"}}, ev.Galaxy...)
		}
		ev.Galaxy[0].GalaxyCluster = append(ev.Galaxy[0].GalaxyCluster, cl)
		ev.Tag = append(ev.Tag, Tag{Name: `misp-galaxy:threat-actor="` + o.Name + `"`})
	case "identity", "marking-definition", "report", "grouping":
		// Carried by the event itself (Orgc, distribution, event reports); see docs/MISP.md.
	default:
		if o.Type != "" && !isSCOType(o.Type) {
			x.skip(o, "no MISP equivalent for a "+o.Type)
		}
	}
}

// addAttribute adds an attribute to the event and records what the STIX object became.
func (x *exporter) addAttribute(ev *Event, o *stixIn, a Attribute) {
	ev.Attribute = append(ev.Attribute, a)
	if _, ok := x.became[o.ID]; !ok {
		x.became[o.ID] = where{uuid: a.UUID}
	}
}

// addObjectAttribute adds an attribute to a MISP object and records what the STIX object became.
func (x *exporter) addObjectAttribute(ev *Event, o *stixIn, obj *Object, a Attribute) {
	obj = x.objectPtr(ev, obj.UUID)
	obj.Attribute = append(obj.Attribute, a)
	x.became[o.ID] = where{uuid: obj.UUID, object: true}
}

// relationship writes a relationship from a MISP object to an object or attribute of the event as
// an object reference; a threat-actor cluster it points to becomes a tag of the attribute.
func (x *exporter) relationship(ev *Event, r *stixIn, attrs map[string]*Attribute) {
	src, okS := x.became[r.SourceRef]
	dst, okD := x.became[r.TargetRef]
	if t := x.objs[r.TargetRef]; okS && !src.object && t != nil && (t.Type == "intrusion-set" || t.Type == "threat-actor") {
		if a := attrs[src.uuid]; a != nil {
			tag := Tag{Name: `misp-galaxy:threat-actor="` + t.Name + `"`}
			if !slices.Contains(a.Tag, tag) {
				a.Tag = append(a.Tag, tag)
			}
			return
		}
	}
	switch {
	case !okS || !okD:
		x.skip(r, "an end ("+r.SourceRef+" or "+r.TargetRef+") is not an attribute or object of the event")
	case src.uuid == dst.uuid:
		// Inside one MISP object (its indicator based-on its observed-data): nothing to say.
	case !src.object:
		x.skip(r, "its source is an attribute: MISP references start at objects")
	default:
		obj := x.objectPtr(ev, src.uuid)
		obj.ObjectReference = append(obj.ObjectReference, ObjectReference{UUID: idUUID(r.ID), ObjectUUID: src.uuid,
			ReferencedUUID: dst.uuid, RelationshipType: r.RelationshipType, Comment: r.Description, Timestamp: unixText(r.Modified)})
	}
}

// sighting writes a STIX sighting of an attribute as a sighting of it.
func (x *exporter) sighting(s *stixIn, attrs map[string]*Attribute) {
	w, ok := x.became[s.SightingOfRef]
	if !ok || w.object {
		x.skip(s, "what it sights ("+s.SightingOfRef+") is not an attribute of the event")
		return
	}
	a := attrs[w.uuid]
	if a == nil {
		x.skip(s, "what it sights ("+s.SightingOfRef+") is not an attribute of the event")
		return
	}
	ms := Sighting{UUID: idUUID(s.ID), Type: "0", DateSighting: unixText(cmp.Or(s.LastSeen, s.FirstSeen, s.Created))}
	if s.label("sighting-type") == "false-positive" {
		ms.Type = "1"
	}
	if len(s.WhereSightedRefs) > 0 {
		ms.Organisation = &Org{UUID: idUUID(s.WhereSightedRefs[0])}
		if idn := x.objs[s.WhereSightedRefs[0]]; idn != nil {
			ms.Organisation.Name = idn.Name
		}
	}
	a.Sighting = append(a.Sighting, ms)
}

// standaloneSCO writes an SCO that no observed-data carries as an attribute without to_ids.
func (x *exporter) standaloneSCO(ev *Event, s *stixIn) {
	typ, v, ok := x.typeFor("", x.scoValues(s))
	if !ok {
		x.skip(s, "no MISP type for a "+s.Type+" with these properties")
		return
	}
	x.addAttribute(ev, s, x.attr(s, typ, v, false))
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
	if o.PatternType != "stix" && o.PatternType != "" {
		typ := o.label("type")
		if typ == "" {
			typ = o.PatternType
		}
		if patternTypes[typ] == "" {
			x.skip(o, "pattern_type "+o.PatternType+" has no MISP attribute type")
			return
		}
		a := x.attr(o, typ, o.Pattern, true)
		a.Comment = o.Description
		x.addAttribute(ev, o, a)
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
			x.addObjectAttribute(ev, o, obj, a)
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
	if !sameInstant(o.ValidFrom, o.Modified) {
		a.FirstSeen = seenText(o.ValidFrom)
	}
	if a.LastSeen = seenText(o.ValidUntil); a.LastSeen != "" && a.FirstSeen == "" {
		a.FirstSeen = seenText(o.ValidFrom)
	}
	x.addAttribute(ev, o, a)
}

// sameInstant reports whether two STIX timestamps are the same instant (however written).
func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return ta.Equal(tb)
}

// seenText writes a STIX timestamp as a MISP first_seen/last_seen, or "" when there is none.
func seenText(ts string) string {
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return ""
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
				x.addObjectAttribute(ev, o, obj, a)
			}
		}
		return
	}
	if len(roots) == 0 {
		x.skip(o, "observed-data refers to no object given")
		return
	}
	// One attribute per observed object: the first keeps the observed-data's uuid (ToSTIX writes one
	// object per attribute), the others get one derived from it.
	for i, root := range roots {
		label := ""
		if i == 0 {
			label = o.label("type")
		}
		typ, v, ok := x.typeFor(label, x.scoValues(root))
		if !ok {
			x.skip(o, "no MISP type for the observed "+root.Type)
			continue
		}
		a := x.attr(o, typ, v, false)
		if i > 0 {
			a.UUID = derivedUUID("observed", o.ID, root.ID)
		}
		if !sameInstant(o.FirstObserved, o.Modified) {
			a.FirstSeen = seenText(o.FirstObserved)
		}
		if !sameInstant(o.LastObserved, o.FirstObserved) {
			a.FirstSeen, a.LastSeen = seenText(o.FirstObserved), seenText(o.LastObserved)
		}
		x.addAttribute(ev, o, a)
	}
}

func (x *exporter) note(ev *Event, o *stixIn) {
	if slices.Contains(o.Labels, labelEventReport) {
		dist, _, _ := x.markingsOf(o.ObjectMarkingRefs)
		ev.EventReport = append(ev.EventReport, EventReport{UUID: idUUID(o.ID), Name: cmp.Or(o.Abstract, o.ID),
			Content: o.Content, Distribution: x.attrDist(dist), Timestamp: unixText(o.Modified)})
		return
	}
	if typ := o.label("type"); typ != "" {
		a := x.attr(o, typ, o.Content, false)
		if !strings.HasPrefix(o.Abstract, "MISP ") {
			a.Comment = o.Abstract
		}
		x.addAttribute(ev, o, a)
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
			x.addObjectAttribute(ev, o, obj, a)
		}
		return
	}
	a := x.attr(o, "comment", o.Content, false)
	a.Comment = o.Abstract
	x.addAttribute(ev, o, a)
}

// WriteExport writes the objects export.CollectObjects chose as one MISP event (ExportEvent), as
// JSON ({"Event": …}) ending in a newline. The report is the set's (Exported: the STIX objects
// exported, marking definitions not counted), with Values the attributes written (those of MISP objects included) and the objects that
// gave nothing in MISP added under export.ReasonNotInFormat.
func WriteExport(set *export.ObjectSet, o EventOptions) ([]byte, export.Report, error) {
	rep := set.Report
	objs := make([]ExportObject, len(set.Objects))
	for i, obj := range set.Objects {
		objs[i] = ExportObject{Raw: obj.Raw, TLP: obj.TLP}
	}
	out, err := ExportEvent(objs, o)
	if err != nil {
		return nil, rep, err
	}
	for _, s := range out.Skipped {
		id, why, _ := strings.Cut(s, ": ")
		rep.Skip(id, export.ReasonNotInFormat, why)
	}
	for _, obj := range set.Objects {
		if obj.Type == "marking-definition" {
			rep.Exported-- // read for the sharing groups they describe, not exported
		}
	}
	ev := out.Events[0]
	rep.Values = len(ev.Attribute)
	for _, obj := range ev.Object {
		rep.Values += len(obj.Attribute)
	}
	b, err := out.JSON()
	if err != nil {
		return nil, rep, fmt.Errorf("misp: %w", err)
	}
	return append(b, '\n'), rep, nil
}
