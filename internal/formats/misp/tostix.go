package misp

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// Options control ToSTIX. The zero value is usable.
type Options struct {
	// Galaxy, when set, resolves threat-actor tags that come without their cluster
	// (misp-galaxy:threat-actor="Sofacy") to the catalogue's cluster, by name or synonym.
	Galaxy *Galaxy
}

// Outcome is what became of one MISP attribute.
type Outcome uint8

// Outcomes, in the order Counts lists them.
const (
	OutcomeIndicator     Outcome = iota + 1 // an indicator (to_ids), alone or in its object's indicator
	OutcomeObservable                       // an SCO in an observed-data
	OutcomeNote                             // a note (no STIX observable for its type), or a line of its object's note
	OutcomeReference                        // an external reference of the report (link)
	OutcomeVulnerability                    // a vulnerability
	OutcomeSkipped                          // nothing: see Result.Skipped for why
)

// Counts sum up a conversion. Attributes = Indicators + Observables + Notes + References +
// Vulnerabilities + Skipped.
type Counts struct {
	Attributes      int
	Indicators      int
	Observables     int
	Notes           int
	References      int
	Vulnerabilities int
	Skipped         int

	Objects       int // MISP objects read
	Sightings     int // sighting objects written
	Relationships int // relationship objects written
	IntrusionSets int // intrusion-set objects written (threat-actor clusters)
	EventReports  int // event reports written (as notes; those not written are in Result.Warnings)
}

func (c *Counts) add(o Outcome) {
	switch o {
	case OutcomeIndicator:
		c.Indicators++
	case OutcomeObservable:
		c.Observables++
	case OutcomeNote:
		c.Notes++
	case OutcomeReference:
		c.References++
	case OutcomeVulnerability:
		c.Vulnerabilities++
	case OutcomeSkipped:
		c.Skipped++
	}
}

// Skip is an attribute that became nothing, and why.
type Skip struct {
	Event     string // event uuid
	Object    string // object uuid, for an object's attribute
	Attribute string // attribute uuid
	Type      string // MISP attribute type
	Reason    string
}

func (s Skip) String() string {
	where := "event " + s.Event
	if s.Object != "" {
		where += " object " + s.Object
	}
	return fmt.Sprintf("%s attribute %s (%s): %s", where, s.Attribute, s.Type, s.Reason)
}

// Result is the STIX made from one MISP event.
type Result struct {
	EventUUID string
	ReportID  string
	// Objects are the JSON texts, each valid for stix.Decode, in the order Convert emits them (the
	// report last). Convert leaves it empty: it hands the objects to its emit function instead.
	Objects  [][]byte
	Counts   Counts
	Skipped  []Skip
	Warnings []string // what was kept but changed or dropped in part (to_ids on a note, a dangling reference…)
}

// Bundle returns a bundle of the objects, with an id derived from the report id and the objects.
func (r *Result) Bundle() []byte {
	return bundle(derivedUUID("bundle", r.ReportID, strconv.Itoa(len(r.Objects))), r.Objects)
}

func bundle(id string, objs [][]byte) []byte {
	n := 64
	for _, o := range objs {
		n += len(o) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"bundle","id":"bundle--`+id+`","objects":[`...)
	for i, o := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return append(b, "]}"...)
}

// Emit receives each object of a conversion as it is made: its JSON text and the object decoded
// from it by the validation (obj.Raw is raw). An error stops the conversion.
type Emit func(raw []byte, obj *stix.Object) error

// conv is the state of one conversion.
type conv struct {
	ev       *Event
	opt      Options
	specs    map[string]typeSpec
	res      *Result
	creator  string
	modified string // the event's timestamp, as STIX text
	evTLP    stix.TLP
	evDist   int // 0–4, or -1 when the event has none
	sgMark   string

	emitFn  Emit
	emitErr error // the first error of emitFn: the conversion stops
	// held are the identities and marking definitions made before the first other object: they are
	// emitted with it, so that an event that fails as a whole emits nothing.
	held     []heldObject
	started  bool // an object other than an identity or marking definition was emitted
	refs     []string
	seen     map[string]uint8 // ids written (idWritten) and listed in refs (idListed)
	attrSDO  map[string]string
	objSDO   map[string]string
	extRefs  []externalRef
	clusters map[string]string // cluster uuid → intrusion-set id, for clusters written
}

type heldObject struct {
	raw []byte
	obj *stix.Object
}

// ToSTIX converts one MISP event to STIX 2.1 and returns the objects in Result.Objects (see
// Convert).
func ToSTIX(ev *Event, opt Options) (*Result, error) {
	var objs [][]byte
	res, err := Convert(ev, opt, func(raw []byte, _ *stix.Object) error {
		objs = append(objs, raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Objects = objs
	return res, nil
}

// Convert converts one MISP event to STIX 2.1, handing each object to emit as soon as it is made
// rather than holding them all: the event's organisation and sharing group first, then the objects
// of the attributes and MISP objects in the order of the event (an identity for a sighting's
// organisation just before its first sighting), and the report last, since it lists them all.
// Every object emitted is valid for stix.Decode.
//
// It fails only on an event it cannot convert at all (no uuid, no timestamp or date, an
// organisation that makes no valid identity, nothing to report), and then emits nothing; a bad
// attribute is skipped and listed in Result.Skipped. An error from emit stops the conversion and is
// returned, wrapped.
func Convert(ev *Event, opt Options, emit Emit) (*Result, error) {
	n := len(ev.Attribute)
	for i := range ev.Object {
		n += len(ev.Object[i].Attribute)
	}
	c := &conv{ev: ev, opt: opt, specs: typeSpecs(), res: &Result{EventUUID: ev.UUID}, emitFn: emit,
		refs: make([]string, 0, n+n/2), seen: make(map[string]uint8, 2*n), attrSDO: make(map[string]string, n),
		objSDO: map[string]string{}, clusters: map[string]string{}}
	if err := c.event(); err != nil {
		return nil, fmt.Errorf("misp: event %s: %w", ev.UUID, err)
	}
	return c.res, nil
}

// put emits an object. Identities and marking definitions (hold) wait for the first other object,
// and go out just before it.
func (c *conv) put(raw []byte, obj *stix.Object, hold bool) {
	if c.emitErr != nil {
		return
	}
	if hold && !c.started {
		c.held = append(c.held, heldObject{raw, obj})
		return
	}
	c.started = true
	for _, h := range c.held {
		if c.emitErr = c.emitFn(h.raw, h.obj); c.emitErr != nil {
			return
		}
	}
	c.held = nil
	c.emitErr = c.emitFn(raw, obj)
}

// The bits of conv.seen.
const (
	idWritten uint8 = 1 << iota
	idListed
)

// addRef lists an id in the report.
func (c *conv) addRef(id string) {
	if c.seen[id]&idListed == 0 {
		c.seen[id] |= idListed
		c.refs = append(c.refs, id)
	}
}

func (c *conv) event() error {
	ev := c.ev
	if !validUUID(ev.UUID) {
		return fmt.Errorf("event uuid %q is not a UUID: %w", ev.UUID, ErrFormat)
	}
	c.res.ReportID = "report--" + stixUUID(ev.UUID)
	mod, ok := unixTime(ev.Timestamp)
	if !ok {
		d, err := time.Parse("2006-01-02", ev.Date)
		if err != nil {
			return fmt.Errorf("event has neither a timestamp nor a date: %w", ErrFormat)
		}
		mod = d
	}
	c.modified = fmtTime(mod)
	created := c.modified
	if d, err := time.Parse("2006-01-02", ev.Date); err == nil && !d.After(mod) {
		created = fmtTime(d)
	}
	if ev.Orgc != nil && ev.Orgc.UUID != "" {
		id, err := c.identity(ev.Orgc)
		if err != nil {
			return err
		}
		c.creator = id
	}
	c.evTLP = tagTLP(ev.Tag)
	c.evDist = distValue(ev.Distribution, -1)
	if c.evDist == 4 {
		c.sgMark = c.sharingGroup(ev.SharingGroup)
	}
	for _, cl := range c.eventClusters() {
		if id := c.cluster(cl); id != "" {
			c.addRef(id)
		}
	}
	for i := 0; i < len(ev.Attribute) && c.emitErr == nil; i++ {
		c.attribute(&ev.Attribute[i])
	}
	for i := 0; i < len(ev.Object) && c.emitErr == nil; i++ {
		c.object(&ev.Object[i])
	}
	for i := 0; i < len(ev.Object) && c.emitErr == nil; i++ {
		c.references(&ev.Object[i])
	}
	for i := 0; i < len(ev.EventReport) && c.emitErr == nil; i++ {
		c.eventReport(&ev.EventReport[i])
	}
	if c.emitErr != nil {
		return c.emitErr
	}
	rep := &sdo{Type: "report", SpecVersion: "2.1", ID: c.res.ReportID, CreatedByRef: c.creator,
		Created: created, Modified: c.modified, Name: ev.Info, ReportTypes: []string{"threat-report"},
		Labels: c.tagLabels(ev.Tag), ExternalReferences: c.extRefs,
		ObjectMarkingRefs: c.markingRefs(nil, "", "")}
	if rep.Name == "" {
		rep.Name = "MISP event " + ev.UUID
	}
	// STIX requires published; an event MISP has not published says so in a label, which the way
	// back reads (docs/MISP.md).
	rep.Published = c.modified
	if ev.Published.Bool() {
		if t, ok := unixTime(ev.PublishTimestamp); ok {
			rep.Published = fmtTime(t)
		}
	} else {
		rep.Labels = append(rep.Labels, labelUnpublished)
	}
	rep.ExternalReferences = append(rep.ExternalReferences, externalRef{SourceName: "misp", ExternalID: ev.UUID,
		Description: "MISP event uuid"})
	rep.ObjectRefs = c.refs
	if len(rep.ObjectRefs) > maxReportSCORefs {
		// A very large event: the report lists the SDOs and SROs only (SCOs stay reachable through
		// their observed-data), so that it keeps within stix.Decode's object size limit.
		rep.ObjectRefs = slices.DeleteFunc(slices.Clone(c.refs), isSCORef)
	}
	if len(rep.ObjectRefs) == 0 {
		if c.creator == "" {
			return fmt.Errorf("event has no attribute, object or organisation to report: %w", ErrFormat)
		}
		rep.ObjectRefs = []string{c.creator}
	}
	b, obj, err := c.check(rep)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	c.put(b, obj, false)
	return c.emitErr
}

// labelUnpublished marks the report of an event MISP has not published.
const labelUnpublished = `misp:published="false"`

// labelEventReport marks the note made from a MISP event report.
const labelEventReport = `misp:event-report="true"`

// mention is a reference to an attribute or object in an event report's Markdown.
var mention = regexp.MustCompile(`@\[(attribute|object)\]\(([0-9A-Fa-f-]{36})\)`)

// eventReport writes a MISP event report as a note about the event's report: abstract = its name,
// content = its Markdown, object_refs = the report, then the attributes and objects the Markdown
// mentions (@[attribute](uuid), @[object](uuid)) that were written. A deleted or empty event
// report, or one that makes no valid note, is left out with a warning.
func (c *conv) eventReport(r *EventReport) {
	what := fmt.Sprintf("event report %s (%s)", r.UUID, clip(r.Name))
	content := cmp.Or(r.Content, r.Name)
	switch {
	case r.Deleted.Bool():
		c.warn(what + ": deleted in MISP: not imported")
		return
	case strings.TrimSpace(content) == "":
		c.warn(what + ": empty: not imported")
		return
	}
	uid := derivedUUID("event-report", c.ev.UUID, r.Name, r.Content)
	if validUUID(r.UUID) {
		uid = stixUUID(r.UUID)
	}
	id := "note--" + uid
	refs := []string{c.res.ReportID}
	listed := map[string]bool{}
	for _, m := range mention.FindAllStringSubmatch(content, maxMentions) {
		ref := c.attrSDO[m[2]]
		if m[1] == "object" {
			ref = c.objSDO[m[2]]
		}
		if ref != "" && !listed[ref] {
			listed[ref] = true
			refs = append(refs, ref)
		}
	}
	ts := c.attrTime(r.Timestamp)
	n := &sdo{Type: "note", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
		Abstract: r.Name, Content: content, ObjectRefs: refs, Labels: []string{labelEventReport},
		ObjectMarkingRefs: c.markingRefs(nil, r.Distribution, r.SharingGroupID)}
	if err := c.emit(n, id, true); err != nil {
		c.warn(what + ": not imported: " + err.Error())
		return
	}
	c.res.Counts.EventReports++
}

// maxMentions bounds the mentions of attributes and objects read from one event report.
const maxMentions = 10000

// maxReportSCORefs is the number of report refs above which SCOs are left out of them.
const maxReportSCORefs = 50000

func isSCORef(id string) bool {
	t, _, _ := strings.Cut(id, "--")
	switch t {
	case "indicator", "observed-data", "note", "vulnerability", "relationship", "sighting", "intrusion-set",
		"threat-actor", "identity", "report", "grouping":
		return false
	}
	return true
}

// check marshals an object and validates it with stix.Decode.
func (c *conv) check(v any) ([]byte, *stix.Object, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, nil, err
	}
	obj, err := stix.Decode(b)
	if err != nil {
		return nil, nil, err
	}
	return b, obj, nil
}

// emit checks an object and emits it (once), listing it in the report; the error says why it
// failed validation.
func (c *conv) emit(v any, id string, inReport bool) error {
	if c.seen[id]&idWritten != 0 {
		return nil
	}
	b, obj, err := c.check(v)
	if err != nil {
		return err
	}
	c.seen[id] |= idWritten
	c.put(b, obj, false)
	if inReport {
		c.addRef(id)
	}
	return nil
}

// identity writes (once) the identity of a MISP organisation and returns its id.
func (c *conv) identity(o *Org) (string, error) {
	id := "identity--" + stixUUID(o.UUID)
	if c.seen[id]&idWritten != 0 {
		return id, nil
	}
	name := o.Name
	if name == "" {
		name = "MISP organisation " + o.UUID
	}
	b, obj, err := c.check(&sdo{Type: "identity", SpecVersion: "2.1", ID: id, Created: fixedCreated, Modified: fixedCreated,
		Name: name, IdentityClass: "organization"})
	if err != nil {
		return "", fmt.Errorf("organisation %s: %w", o.UUID, err)
	}
	c.seen[id] |= idWritten
	c.put(b, obj, true)
	return id, nil
}

// sharingGroup writes the marking definition of the event's sharing group and returns its id, or ""
// (with a warning) when the event does not describe the group.
func (c *conv) sharingGroup(sg *SharingGroup) string {
	if sg == nil || !validUUID(sg.UUID) {
		c.warn("distribution is a sharing group the event does not describe: marked for the organisation only")
		return ""
	}
	g := policy.SharingGroup{ID: strings.ToLower(sg.UUID), Name: sg.Name, Revision: 1}
	if g.Name == "" {
		g.Name = "MISP sharing group " + g.ID
	}
	g.Created = fixedCreatedTime
	if t, ok := seenTime(sg.Modified); ok {
		g.Created = t.Truncate(time.Millisecond)
		g.Revision = int(max(t.Unix(), 1))
	}
	switch {
	case sg.Organisation != nil && sg.Organisation.UUID != "":
		g.Owner = "identity--" + stixUUID(sg.Organisation.UUID)
	case sg.OrganisationUUID != "":
		g.Owner = "identity--" + stixUUID(sg.OrganisationUUID)
	default:
		g.Owner = c.creator
	}
	for _, m := range sg.SharingGroupOrg {
		if m.Organisation == nil || m.Organisation.UUID == "" {
			continue
		}
		id := "identity--" + stixUUID(m.Organisation.UUID)
		if !slices.Contains(g.Members, id) {
			g.Members = append(g.Members, id)
		}
	}
	b, err := policy.SharingGroupMarking(g)
	if err != nil {
		c.warn(fmt.Sprintf("sharing group %s: %v: marked for the organisation only", sg.UUID, err))
		return ""
	}
	obj, err := stix.Decode(b)
	if err != nil {
		c.warn(fmt.Sprintf("sharing group %s: %v: marked for the organisation only", sg.UUID, err))
		return ""
	}
	id := g.MarkingID()
	if c.seen[id]&idWritten == 0 {
		c.seen[id] |= idWritten
		c.put(b, obj, true)
	}
	return id
}

func (c *conv) warn(s string) { c.res.Warnings = append(c.res.Warnings, s) }

func (c *conv) skip(objUUID string, a *Attribute, reason string) {
	c.res.Counts.add(OutcomeSkipped)
	c.res.Skipped = append(c.res.Skipped, Skip{Event: c.ev.UUID, Object: objUUID, Attribute: a.UUID, Type: a.Type, Reason: reason})
}

// tagTLP returns the most restrictive TLP of MISP tags.
func tagTLP(tags []Tag) stix.TLP {
	l := stix.TLPNone
	for _, t := range tags {
		if v := tlpOf(t.Name); v > l {
			l = v
		}
	}
	return l
}

func tlpOf(tag string) stix.TLP {
	switch strings.ToLower(strings.TrimSpace(tag)) {
	case "tlp:white", "tlp:clear":
		return stix.TLPClear
	case "tlp:green":
		return stix.TLPGreen
	case "tlp:amber":
		return stix.TLPAmber
	case "tlp:amber+strict":
		return stix.TLPAmberStrict
	case "tlp:red":
		return stix.TLPRed
	}
	return stix.TLPNone
}

var tlp2Marking = map[stix.TLP]string{
	stix.TLPClear: stix.TLP2Clear, stix.TLPGreen: stix.TLP2Green, stix.TLPAmber: stix.TLP2Amber,
	stix.TLPAmberStrict: stix.TLP2AmberStrict, stix.TLPRed: stix.TLP2Red,
}

// distValue reads a MISP distribution (0–4); 5 (inherit) and anything else give def.
func distValue(f Flex, def int) int {
	if n, ok := f.Int(); ok && n >= 0 && n <= 4 {
		return int(n)
	}
	return def
}

// distRank orders distributions from the most restrictive: organisation, sharing group,
// community, connected communities, all.
var distRank = [5]int{0: 0, 4: 1, 1: 2, 2: 3, 3: 4}

// markingRefs returns the marking refs of an object: the TLP of the event and its own tags (the
// most restrictive), and the distribution (the more restrictive of the event's and its own).
func (c *conv) markingRefs(tags []Tag, dist Flex, sgid Flex) []string {
	var refs []string
	l := c.evTLP
	if t := tagTLP(tags); t > l {
		l = t
	}
	if l != stix.TLPNone {
		refs = append(refs, tlp2Marking[l])
	}
	d := c.evDist
	if own := distValue(dist, -1); own >= 0 {
		if d < 0 || distRank[own] < distRank[d] {
			d = own
		}
		if own == 4 && c.evDist == 4 && string(sgid) != "" && string(sgid) != string(c.ev.SharingGroupID) {
			d = 0 // another sharing group, which the event does not describe
		}
	}
	switch d {
	case 0:
		refs = append(refs, policy.MarkingOrganisation)
	case 1:
		refs = append(refs, policy.MarkingCommunity)
	case 2:
		refs = append(refs, policy.MarkingFederation)
	case 3:
		refs = append(refs, policy.MarkingAll)
	case 4:
		if c.sgMark != "" && c.evDist == 4 {
			refs = append(refs, c.sgMark)
		} else {
			refs = append(refs, policy.MarkingOrganisation)
		}
	}
	return refs
}

// tagLabels returns the tags that are not TLP tags, as labels (PAP tags included: see docs/MISP.md).
func (c *conv) tagLabels(tags []Tag) []string {
	var out []string
	for _, t := range tags {
		if t.Name == "" || tlpOf(t.Name) != stix.TLPNone || slices.Contains(out, t.Name) {
			continue
		}
		out = append(out, t.Name)
	}
	return out
}

func attrLabels(a *Attribute, extra []string) []string {
	l := []string{`misp:type="` + a.Type + `"`}
	if a.Category != "" {
		l = append(l, `misp:category="`+a.Category+`"`)
	}
	return append(l, extra...)
}

// attrTime returns an attribute's timestamp, else the event's.
func (c *conv) attrTime(f Flex) string {
	if t, ok := unixTime(f); ok {
		return fmtTime(t)
	}
	return c.modified
}

// attrUUID returns the uuid of an attribute's objects.
func (c *conv) attrUUID(a *Attribute, objUUID string, i int) string {
	if a.UUID != "" {
		return stixUUID(a.UUID)
	}
	return derivedUUID("attribute", c.ev.UUID, objUUID, strconv.Itoa(i), a.Type, a.Value)
}

// attribute converts one attribute outside objects.
func (c *conv) attribute(a *Attribute) {
	c.res.Counts.Attributes++
	if a.Deleted.Bool() {
		c.skip("", a, "deleted in MISP")
		return
	}
	if a.Value == "" {
		c.skip("", a, "empty value")
		return
	}
	uid := c.attrUUID(a, "", len(c.attrSDO))
	marks := c.markingRefs(a.Tag, a.Distribution, a.SharingGroupID)
	ts := c.attrTime(a.Timestamp)
	labels := attrLabels(a, c.tagLabels(a.Tag))
	toIDs := a.ToIDs.Bool()
	var primary string
	var outcome Outcome
	var err error
	spec, mapped := c.specs[a.Type]
	switch {
	case a.Type == "link":
		c.extRefs = append(c.extRefs, externalRef{SourceName: "misp-link", URL: a.Value, Description: a.Comment})
		c.res.Counts.add(OutcomeReference)
		return
	case a.Type == "vulnerability":
		primary = "vulnerability--" + uid
		v := &sdo{Type: "vulnerability", SpecVersion: "2.1", ID: primary, CreatedByRef: c.creator, Created: ts, Modified: ts,
			Name: a.Value, Description: a.Comment, Labels: labels, ObjectMarkingRefs: marks}
		if strings.HasPrefix(strings.ToUpper(a.Value), "CVE-") {
			v.ExternalReferences = []externalRef{{SourceName: "cve", ExternalID: a.Value}}
		}
		err, outcome = c.emit(v, primary, true), OutcomeVulnerability
	case toIDs && patternTypes[a.Type] != "":
		primary = "indicator--" + uid
		err, outcome = c.emit(c.indicator(primary, ts, a, a.Value, patternTypes[a.Type], labels, marks), primary, true), OutcomeIndicator
	case mapped:
		parts, ok := splitValue(a.Value, len(spec.paths))
		if !ok {
			c.skip("", a, fmt.Sprintf("value %q does not have the %d parts separated by '|' that type %s needs", clip(a.Value), len(spec.paths), a.Type))
			return
		}
		if toIDs {
			var pat string
			pat, err = patternOf(spec.paths, parts)
			if err == nil {
				primary = "indicator--" + uid
				err = c.emit(c.indicator(primary, ts, a, pat, "stix", labels, marks), primary, true)
			}
			outcome = OutcomeIndicator
			break
		}
		var scos []*sco
		scos, err = buildSCOs(spec.paths, parts, uid, marks, nil)
		if err == nil {
			primary = "observed-data--" + uid
			err = c.observed(primary, ts, a.FirstSeen, a.LastSeen, scos, labels, marks)
		}
		outcome = OutcomeObservable
	default:
		primary = "note--" + uid
		abstract := "MISP " + a.Type + " attribute"
		if a.Comment != "" {
			abstract = a.Comment
		}
		err, outcome = c.emit(&sdo{Type: "note", SpecVersion: "2.1", ID: primary, CreatedByRef: c.creator, Created: ts, Modified: ts,
			Abstract: abstract, Content: a.Value, ObjectRefs: []string{c.res.ReportID}, Labels: labels, ObjectMarkingRefs: marks}, primary, true), OutcomeNote
		if toIDs {
			c.warn(fmt.Sprintf("attribute %s (%s): to_ids dropped: STIX has no pattern for this type; kept as a note", a.UUID, a.Type))
		}
	}
	if err != nil {
		c.skip("", a, err.Error())
		return
	}
	c.res.Counts.add(outcome)
	c.attrSDO[a.UUID] = primary
	c.sightings(a, primary)
	c.attrClusters(a, primary)
}

func (c *conv) indicator(id, ts string, a *Attribute, pat, patType string, labels, marks []string) *sdo {
	in := &sdo{Type: "indicator", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
		Description: a.Comment, Pattern: pat, PatternType: patType, ValidFrom: ts, Labels: labels, ObjectMarkingRefs: marks}
	if patType == "stix" {
		in.PatternVersion = "2.1"
	}
	if t, ok := seenTime(a.FirstSeen); ok {
		in.ValidFrom = fmtTime(t)
	}
	if t, ok := seenTime(a.LastSeen); ok && fmtTime(t) > in.ValidFrom {
		in.ValidUntil = fmtTime(t)
	}
	return in
}

// observed writes an observed-data and its SCOs.
func (c *conv) observed(id, ts, first, last string, scos []*sco, labels, marks []string) error {
	od := &sdo{Type: "observed-data", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
		FirstObserved: ts, LastObserved: ts, NumberObserved: 1, Labels: labels, ObjectMarkingRefs: marks}
	if t, ok := seenTime(first); ok {
		od.FirstObserved = fmtTime(t)
		od.LastObserved = od.FirstObserved
	}
	if t, ok := seenTime(last); ok && fmtTime(t) >= od.FirstObserved {
		od.LastObserved = fmtTime(t)
	}
	bodies := make([]heldObject, 0, len(scos))
	for _, s := range scos {
		b, obj, err := c.check(s)
		if err != nil {
			return err
		}
		bodies = append(bodies, heldObject{b, obj})
		od.ObjectRefs = append(od.ObjectRefs, s.ID)
	}
	b, obj, err := c.check(od)
	if err != nil {
		return err
	}
	c.put(b, obj, false)
	c.seen[id] |= idWritten
	c.addRef(id)
	for i, s := range scos {
		if c.seen[s.ID]&idWritten == 0 {
			c.seen[s.ID] |= idWritten
			c.put(bodies[i].raw, bodies[i].obj, false)
			c.addRef(s.ID)
		}
	}
	return nil
}

// sightings writes the sightings of an attribute.
func (c *conv) sightings(a *Attribute, of string) {
	for i, s := range a.Sighting {
		t, ok := seenTime(string(s.DateSighting))
		if !ok {
			c.warn(fmt.Sprintf("attribute %s sighting %d: no usable date_sighting %q: dropped", a.UUID, i, s.DateSighting))
			continue
		}
		var labels []string
		switch s.Type {
		case "", "0":
		case "1":
			labels = []string{`misp:sighting-type="false-positive"`}
		default:
			c.warn(fmt.Sprintf("attribute %s sighting %d: type %s (expiration) has no STIX equivalent: dropped", a.UUID, i, s.Type))
			continue
		}
		id := "sighting--" + derivedUUID("sighting", a.UUID, strconv.Itoa(i), string(s.DateSighting))
		if s.UUID != "" {
			id = "sighting--" + stixUUID(s.UUID)
		}
		ts := fmtTime(t)
		sg := &sdo{Type: "sighting", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
			FirstSeen: ts, LastSeen: ts, Count: 1, SightingOfRef: of, Labels: labels,
			ObjectMarkingRefs: c.markingRefs(a.Tag, a.Distribution, a.SharingGroupID)}
		if s.Source != "" {
			sg.Description = "source: " + s.Source
		}
		if s.Organisation != nil && s.Organisation.UUID != "" {
			org, err := c.identity(s.Organisation)
			if err != nil {
				c.warn(fmt.Sprintf("attribute %s sighting %d: %v: dropped", a.UUID, i, err))
				continue
			}
			sg.CreatedByRef, sg.WhereSightedRefs = org, []string{org}
		}
		if err := c.emit(sg, id, true); err != nil {
			c.warn(fmt.Sprintf("attribute %s sighting %d: %v: dropped", a.UUID, i, err))
			continue
		}
		c.res.Counts.Sightings++
	}
}

// object converts a MISP object: its attributes with a STIX equivalent become SCOs in one
// observed-data (file attributes merged into one file), those with to_ids one indicator, and the
// others one note.
func (c *conv) object(o *Object) {
	c.res.Counts.Objects++
	uid := stixUUID(o.UUID)
	if o.UUID == "" {
		uid = derivedUUID("object", c.ev.UUID, strconv.Itoa(c.res.Counts.Objects), o.Name)
	}
	marks := c.markingRefs(nil, o.Distribution, o.SharingGroupID)
	ts := c.attrTime(o.Timestamp)
	labels := []string{`misp:name="` + o.Name + `"`}
	if o.MetaCategory != "" {
		labels = append(labels, `misp:meta-category="`+o.MetaCategory+`"`)
	}
	var (
		scos    []*sco
		file    *sco
		cmps    = map[string][]string{}
		order   []string
		notes   []string
		pending []*Attribute
		outs    []Outcome
		inFile  []int // indexes in pending of the attributes merged into file
	)
	if o.Deleted.Bool() {
		for i := range o.Attribute {
			c.res.Counts.Attributes++
			c.skip(o.UUID, &o.Attribute[i], "its object is deleted in MISP")
		}
		return
	}
	for i := range o.Attribute {
		a := &o.Attribute[i]
		c.res.Counts.Attributes++
		if a.Deleted.Bool() {
			c.skip(o.UUID, a, "deleted in MISP")
			continue
		}
		spec, mapped := c.specs[a.Type]
		if !mapped {
			rel := a.ObjectRelation
			if rel == "" {
				rel = a.Type
			}
			notes = append(notes, rel+" ("+a.Type+"): "+a.Value)
			pending, outs = append(pending, a), append(outs, OutcomeNote)
			continue
		}
		parts, ok := splitValue(a.Value, len(spec.paths))
		if !ok || a.Value == "" {
			c.skip(o.UUID, a, fmt.Sprintf("value %q does not have the %d parts separated by '|' that type %s needs", clip(a.Value), len(spec.paths), a.Type))
			continue
		}
		if a.ToIDs.Bool() {
			pat, err := patternOf(spec.paths, parts)
			if err != nil {
				c.skip(o.UUID, a, err.Error())
				continue
			}
			root := pat[1:strings.IndexByte(pat, ':')]
			if _, ok := cmps[root]; !ok {
				order = append(order, root)
			}
			cmps[root] = append(cmps[root], pat[1:len(pat)-1])
			pending, outs = append(pending, a), append(outs, OutcomeIndicator)
			continue
		}
		var merge *sco
		if rootType(spec.paths[0]) == "file" {
			if file == nil {
				file = &sco{Type: "file", SpecVersion: "2.1", ID: "file--" + scoUUID(uid), ObjectMarkingRefs: marks}
				scos = append(scos, file)
			}
			merge = file
		}
		// Check the attribute's SCOs on their own first (a size alone is no valid file), then merge.
		uidA := c.attrUUID(a, o.UUID, i)
		alone, err := buildSCOs(spec.paths, parts, uidA, marks, nil)
		for _, s := range alone {
			if err == nil && !(s.Type == "file" && spec.paths[0] == pFileSize) {
				_, _, err = c.check(s)
			}
		}
		if err != nil {
			c.skip(o.UUID, a, err.Error())
			continue
		}
		got, err := buildSCOs(spec.paths, parts, uidA, marks, merge)
		if err != nil {
			c.skip(o.UUID, a, err.Error())
			continue
		}
		for _, s := range got {
			if s != merge {
				scos = append(scos, s)
			}
		}
		if merge != nil {
			inFile = append(inFile, len(pending))
		}
		pending, outs = append(pending, a), append(outs, OutcomeObservable)
	}
	if file != nil && file.Name == "" && len(file.Hashes) == 0 {
		// A file with only a size is no valid SCO: its attributes go to the note.
		scos = slices.DeleteFunc(scos, func(s *sco) bool { return s == file })
		for _, k := range inFile {
			a := pending[k]
			notes = append(notes, a.ObjectRelation+" ("+a.Type+"): "+a.Value)
			outs[k] = OutcomeNote
		}
	}
	var primary string
	fail := func(kind Outcome, err error) {
		for i, a := range pending {
			if outs[i] == kind {
				outs[i] = OutcomeSkipped
				c.skip(o.UUID, a, err.Error())
			}
		}
	}
	if len(scos) > 0 {
		id := "observed-data--" + uid
		if err := c.observed(id, ts, "", "", scos, labels, marks); err != nil {
			fail(OutcomeObservable, err)
		} else {
			primary = id
		}
	}
	if len(order) > 0 {
		var groups []string
		for _, root := range order {
			groups = append(groups, "["+strings.Join(cmps[root], " AND ")+"]")
		}
		pat := strings.Join(groups, " AND ")
		id := "indicator--" + uid
		in := &sdo{Type: "indicator", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
			Description: o.Comment, Pattern: pat, PatternType: "stix", PatternVersion: "2.1", ValidFrom: ts, Labels: labels, ObjectMarkingRefs: marks}
		_, perr := pattern.Compile(pat)
		if perr == nil {
			perr = c.emit(in, id, true)
		}
		if perr != nil {
			fail(OutcomeIndicator, perr)
		} else {
			if primary != "" {
				c.relationship(id, "based-on", primary, ts, marks, "")
			}
			primary = id
		}
	}
	if len(notes) > 0 {
		id := "note--" + uid
		ref := primary
		if ref == "" {
			ref = c.res.ReportID
		}
		abstract := "MISP object " + o.Name
		if o.Comment != "" {
			abstract += ": " + o.Comment
		}
		n := &sdo{Type: "note", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
			Abstract: abstract, Content: strings.Join(notes, "\n"), ObjectRefs: []string{ref}, Labels: labels, ObjectMarkingRefs: marks}
		if err := c.emit(n, id, true); err != nil {
			fail(OutcomeNote, err)
		} else if primary == "" {
			primary = id
		}
	}
	for i, a := range pending {
		if outs[i] != OutcomeSkipped {
			c.res.Counts.add(outs[i])
			if a.UUID != "" && primary != "" {
				c.attrSDO[a.UUID] = primary
			}
		}
	}
	if primary != "" {
		c.objSDO[o.UUID] = primary
		for i := range o.Attribute {
			a := &o.Attribute[i]
			if c.attrSDO[a.UUID] == primary {
				c.sightings(a, primary)
				c.attrClusters(a, primary)
			}
		}
	}
}

// references writes the relationships of an object's references.
func (c *conv) references(o *Object) {
	src := c.objSDO[o.UUID]
	for i, r := range o.ObjectReference {
		dst := c.objSDO[r.ReferencedUUID]
		if dst == "" {
			dst = c.attrSDO[r.ReferencedUUID]
		}
		if src == "" || dst == "" {
			c.warn(fmt.Sprintf("object %s reference %d (%s → %s): one end is not in this event or was skipped: dropped", o.UUID, i, r.RelationshipType, r.ReferencedUUID))
			continue
		}
		ts := c.attrTime(r.Timestamp)
		id := ""
		if r.UUID != "" {
			id = "relationship--" + stixUUID(r.UUID)
		}
		c.relationship(src, relType(r.RelationshipType), dst, ts, c.markingRefs(nil, o.Distribution, o.SharingGroupID), id)
	}
}

// relType makes a MISP relationship type a STIX one: lower case, hyphens for anything else.
func relType(s string) string {
	b := []byte(strings.ToLower(strings.TrimSpace(s)))
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "related-to"
	}
	return string(b)
}

func (c *conv) relationship(src, typ, dst, ts string, marks []string, id string) {
	if id == "" {
		id = "relationship--" + derivedUUID("relationship", src, typ, dst)
	}
	r := &sdo{Type: "relationship", SpecVersion: "2.1", ID: id, CreatedByRef: c.creator, Created: ts, Modified: ts,
		RelationshipType: typ, SourceRef: src, TargetRef: dst, ObjectMarkingRefs: marks}
	if err := c.emit(r, id, true); err != nil {
		c.warn(fmt.Sprintf("relationship %s %s %s: %v: dropped", src, typ, dst, err))
		return
	}
	c.res.Counts.Relationships++
}

// clip shortens a value for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// patternOf returns the STIX pattern of a typed value: one observation of the root type with an
// AND of one comparison per part. Values are quoted with ' and \ escaped; CIDR blocks use ISSUBSET.
// The pattern is compiled before it is returned.
func patternOf(paths, parts []string) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range paths {
		v := parts[i]
		if i > 0 {
			b.WriteString(" AND ")
		}
		op := " = "
		switch p {
		case pIPValue, pDomainIP:
			t := ipType(v)
			if t == "" {
				return "", fmt.Errorf("%q is not an IP address or CIDR block", clip(v))
			}
			if p == pIPValue {
				p = t + ":value"
			}
			if strings.Contains(v, "/") {
				op = " ISSUBSET "
			}
		case pNetDstValue, pNetSrcValue:
			if ipType(v) == "" {
				return "", fmt.Errorf("%q is not an IP address", clip(v))
			}
		}
		if p == pRegKey {
			v = expandHive(v)
		}
		b.WriteString(p)
		b.WriteString(op)
		switch p {
		case pASN, pFileSize, pNetDstPort, pNetSrcPort:
			n, err := intValue(p, v)
			if err != nil {
				return "", err
			}
			b.WriteString(strconv.FormatInt(n, 10))
		default:
			b.WriteString(quote(v))
		}
	}
	b.WriteByte(']')
	pat := b.String()
	if _, err := pattern.Compile(pat); err != nil {
		return "", fmt.Errorf("pattern %s: %w", clip(pat), err)
	}
	return pat, nil
}

// quote writes a STIX pattern string literal: s between ' with ' and \ escaped.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// intValue reads the integer of a numeric path: an AS number ("AS174" or "174"), a size, a port.
func intValue(path, v string) (int64, error) {
	s := strings.TrimSpace(v)
	if path == pASN {
		s = strings.TrimPrefix(strings.ToUpper(s), "AS")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || n < 0:
		return 0, fmt.Errorf("%q is not a non-negative integer, as %s needs", clip(v), path)
	case (path == pNetDstPort || path == pNetSrcPort) && n > 65535:
		return 0, fmt.Errorf("port %d is out of range", n)
	case path == pASN && n > 1<<32-1:
		return 0, fmt.Errorf("AS number %d is out of range", n)
	}
	return n, nil
}

// buildSCOs makes the SCOs of a typed value. The root SCO is merge when given (a MISP object's
// file), else a new one with id <type>--uid; the others (resolved addresses, traffic ends) get
// <type>--uid too (their types differ from the root's).
func buildSCOs(paths, parts []string, uid string, marks []string, merge *sco) ([]*sco, error) {
	uid = scoUUID(uid)
	root := merge
	rt := rootType(paths[0])
	if paths[0] == pIPValue {
		if rt = ipType(parts[0]); rt == "" {
			return nil, fmt.Errorf("%q is not an IP address or CIDR block", clip(parts[0]))
		}
	}
	if root == nil {
		root = &sco{Type: rt, SpecVersion: "2.1", ID: rt + "--" + uid, ObjectMarkingRefs: marks}
	}
	out := []*sco{root}
	addr := func(v string, ipOnly bool) (*sco, error) {
		t := ipType(v)
		if t == "" {
			if ipOnly {
				return nil, fmt.Errorf("%q is not an IP address", clip(v))
			}
			t = "domain-name"
		}
		s := &sco{Type: t, SpecVersion: "2.1", ID: t + "--" + uid, Value: v, ObjectMarkingRefs: marks}
		out = append(out, s)
		return s, nil
	}
	for i, p := range paths {
		v := parts[i]
		switch {
		case p == pIPValue, p == pDomain, p == pURL, p == pEmail:
			root.Value = v
		case p == pMAC:
			root.Value = strings.ToLower(v)
		case p == pMutex, p == pFileName:
			root.Name = v
		case p == pRegKey:
			root.Key = expandHive(v)
		case p == pRegData:
			root.Values = []regValue{{Data: v}}
		case p == pSubject:
			root.Subject = v
			f := false
			root.IsMultipart = &f
		case p == pASN, p == pFileSize, p == pNetDstPort, p == pNetSrcPort:
			n, err := intValue(p, v)
			if err != nil {
				return nil, err
			}
			switch p {
			case pASN:
				root.Number = &n
			case pFileSize:
				root.Size = &n
			case pNetDstPort:
				root.DstPort = &n
			default:
				root.SrcPort = &n
			}
		case p == pDomainIP:
			s, err := addr(v, true)
			if err != nil {
				return nil, err
			}
			root.ResolvesToRefs = append(root.ResolvesToRefs, s.ID)
		case p == pNetDstValue, p == pNetSrcValue:
			s, err := addr(v, true)
			if err != nil {
				return nil, err
			}
			if p == pNetDstValue {
				root.DstRef = s.ID
			} else {
				root.SrcRef = s.ID
			}
			root.Protocols = []string{strings.TrimSuffix(s.Type, "-addr")}
		case strings.Contains(p, ":hashes."):
			name := strings.Trim(p[strings.Index(p, ":hashes.")+len(":hashes."):], "'")
			if root.Hashes == nil {
				root.Hashes = map[string]string{}
			}
			root.Hashes[name] = v
		default:
			return nil, fmt.Errorf("no SCO builder for %s", p)
		}
	}
	return out, nil
}

// hives are the abbreviations of registry hives that STIX wants written out.
var hives = []struct{ short, long string }{
	{"HKLM", "HKEY_LOCAL_MACHINE"}, {"HKCU", "HKEY_CURRENT_USER"}, {"HKCR", "HKEY_CLASSES_ROOT"},
	{"HKU", "HKEY_USERS"}, {"HKCC", "HKEY_CURRENT_CONFIG"},
}

// expandHive writes out an abbreviated hive at the start of a registry key (HKCU\… → HKEY_CURRENT_USER\…).
func expandHive(k string) string {
	for _, h := range hives {
		if len(k) > len(h.short) && strings.EqualFold(k[:len(h.short)], h.short) && k[len(h.short)] == '\\' {
			return h.long + k[len(h.short):]
		}
	}
	return k
}
