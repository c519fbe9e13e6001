package misp

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Cluster is one MISP galaxy cluster (as in a galaxy clusters file, or attached to an event).
type Cluster struct {
	UUID        string                    `json:"uuid"`
	Value       string                    `json:"value"`
	Description string                    `json:"description,omitempty"`
	Type        string                    `json:"type,omitempty"`
	Version     Flex                      `json:"version,omitempty"`
	Meta        map[string]jsontext.Value `json:"meta,omitempty"`
}

// Galaxy is a MISP galaxy clusters file (misp-galaxy's clusters/<type>.json).
type Galaxy struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	UUID    string    `json:"uuid"`
	Version Flex      `json:"version"`
	Values  []Cluster `json:"values"`

	byName map[string]*Cluster
}

// MaxClusters bounds the clusters of one galaxy file.
const MaxClusters = 100000

// DecodeGalaxy reads a galaxy clusters file, bounded by Limits.MaxBytes and MaxClusters.
func DecodeGalaxy(r io.Reader, lim Limits) (*Galaxy, error) {
	lim = lim.withDefaults()
	data, err := readLimited(r, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	g := new(Galaxy)
	if err := json.Unmarshal(data, g); err != nil {
		return nil, fmt.Errorf("misp: galaxy: %w: %w", ErrFormat, err)
	}
	if g.Type == "" || len(g.Values) == 0 {
		return nil, fmt.Errorf("misp: galaxy: no type or no values (is this a galaxy clusters file?): %w", ErrFormat)
	}
	if len(g.Values) > MaxClusters {
		return nil, fmt.Errorf("misp: galaxy %s: %d clusters, more than the limit of %d: %w", g.Type, len(g.Values), MaxClusters, ErrLimit)
	}
	for i, cl := range g.Values {
		if !validUUID(cl.UUID) || cl.Value == "" {
			return nil, fmt.Errorf("misp: galaxy %s: cluster %d (%q): no uuid or no value: %w", g.Type, i, cl.Value, ErrFormat)
		}
	}
	g.index()
	return g, nil
}

func (g *Galaxy) index() {
	g.byName = make(map[string]*Cluster, len(g.Values)*2)
	for i := range g.Values {
		cl := &g.Values[i]
		if cl.Type == "" {
			cl.Type = g.Type
		}
		if _, ok := g.byName[strings.ToLower(cl.Value)]; !ok {
			g.byName[strings.ToLower(cl.Value)] = cl
		}
	}
	for i := range g.Values {
		cl := &g.Values[i]
		for _, s := range cl.strings("synonyms") {
			if _, ok := g.byName[strings.ToLower(s)]; !ok {
				g.byName[strings.ToLower(s)] = cl
			}
		}
	}
}

// Find returns the cluster named name (its value, else one of its synonyms), case-insensitively.
func (g *Galaxy) Find(name string) (*Cluster, bool) {
	if g == nil || g.byName == nil {
		return nil, false
	}
	cl, ok := g.byName[strings.ToLower(name)]
	return cl, ok
}

// strings reads a meta entry that is a string or a list of strings.
func (cl *Cluster) strings(key string) []string {
	v, ok := cl.Meta[key]
	if !ok {
		return nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err == nil {
		return list
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil && s != "" {
		return []string{s}
	}
	return nil
}

// GalaxyObjects are the STIX objects made from a galaxy.
type GalaxyObjects struct {
	Objects  [][]byte
	Clusters int // clusters converted
	Skipped  []string
}

// Bundle returns a bundle of the objects.
func (g *GalaxyObjects) Bundle() []byte {
	return bundle(derivedUUID("galaxy-bundle", strconv.Itoa(len(g.Objects))), g.Objects)
}

// ToSTIX converts the clusters of a threat-actor galaxy: each cluster becomes an intrusion-set
// (id from the cluster uuid), and a suspected state sponsor a threat-actor it is attributed-to.
// A cluster that does not convert is listed in Skipped with the reason.
func (g *Galaxy) ToSTIX() (*GalaxyObjects, error) {
	if g.Type != "threat-actor" {
		return nil, fmt.Errorf("misp: galaxy type %q: only threat-actor galaxies are converted", g.Type)
	}
	out := &GalaxyObjects{}
	seen := map[string]bool{}
	version, _ := g.Version.Int()
	for i := range g.Values {
		objs, err := clusterObjects(&g.Values[i], version)
		if err != nil {
			out.Skipped = append(out.Skipped, fmt.Sprintf("cluster %s (%s): %v", g.Values[i].UUID, g.Values[i].Value, err))
			continue
		}
		out.Clusters++
		for _, o := range objs {
			if !seen[o.id] {
				seen[o.id] = true
				out.Objects = append(out.Objects, o.raw)
			}
		}
	}
	return out, nil
}

type idRaw struct {
	id  string
	raw []byte
	obj *stix.Object
}

// galaxyTime is the created time of objects made from galaxy clusters; modified is it plus the
// cluster's (or galaxy's) version in seconds, so a newer release of the galaxy gives newer versions.
var galaxyTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// clusterObjects builds the intrusion-set of a threat-actor cluster, and the threat-actor of its
// suspected state sponsor with the attributed-to relationship, each validated.
func clusterObjects(cl *Cluster, version int64) ([]idRaw, error) {
	if v, ok := cl.Version.Int(); ok && v > 0 {
		version = v
	}
	created := fmtTime(galaxyTime)
	modified := fmtTime(galaxyTime.Add(time.Duration(max(version, 0)) * time.Second))
	id := "intrusion-set--" + stixUUID(cl.UUID)
	is := &sdo{Type: "intrusion-set", SpecVersion: "2.1", ID: id, Created: created, Modified: modified,
		Name: cl.Value, Description: cl.Description}
	for _, s := range cl.strings("synonyms") {
		if s != "" && s != cl.Value && !slices.Contains(is.Aliases, s) {
			is.Aliases = append(is.Aliases, s)
		}
	}
	is.ExternalReferences = []externalRef{{SourceName: "misp-galaxy:threat-actor", ExternalID: cl.UUID}}
	for _, r := range cl.strings("refs") {
		if u, err := url.Parse(r); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			is.ExternalReferences = append(is.ExternalReferences, externalRef{SourceName: "misp-galaxy:threat-actor", URL: r})
		}
	}
	if cc := cl.strings("country"); len(cc) > 0 {
		is.Labels = append(is.Labels, `misp:country="`+cc[0]+`"`)
	}
	var out []idRaw
	b, err := marshal(is)
	var obj *stix.Object
	if err == nil {
		obj, err = stix.Decode(b)
	}
	if err != nil {
		return nil, err
	}
	out = append(out, idRaw{id, b, obj})
	for _, sponsor := range cl.strings("cfr-suspected-state-sponsor") {
		taID := "threat-actor--" + derivedUUID("state-sponsor", sponsor)
		ta := &sdo{Type: "threat-actor", SpecVersion: "2.1", ID: taID, Created: created, Modified: created,
			Name: sponsor, ThreatActorTypes: []string{"nation-state"},
			Description: "Suspected state sponsor (CFR, via the MISP threat-actor galaxy)."}
		rel := &sdo{Type: "relationship", SpecVersion: "2.1", ID: "relationship--" + derivedUUID("relationship", id, "attributed-to", taID),
			Created: created, Modified: modified, RelationshipType: "attributed-to", SourceRef: id, TargetRef: taID}
		for _, v := range []*sdo{ta, rel} {
			b, err := marshal(v)
			var obj *stix.Object
			if err == nil {
				obj, err = stix.Decode(b)
			}
			if err != nil {
				return nil, fmt.Errorf("state sponsor %q: %w", sponsor, err)
			}
			out = append(out, idRaw{v.ID, b, obj})
		}
	}
	return out, nil
}

// eventClusters returns the event's threat-actor clusters: those of its galaxies, then those its
// tags name that Options.Galaxy knows.
func (c *conv) eventClusters() []*Cluster {
	var out []*Cluster
	have := map[string]bool{}
	for i := range c.ev.Galaxy {
		g := &c.ev.Galaxy[i]
		if g.Type != "threat-actor" {
			continue
		}
		for j := range g.GalaxyCluster {
			cl := &g.GalaxyCluster[j]
			if !have[strings.ToLower(cl.Value)] {
				have[strings.ToLower(cl.Value)] = true
				out = append(out, cl)
			}
		}
	}
	for _, name := range threatActorTags(c.ev.Tag) {
		if have[strings.ToLower(name)] {
			continue
		}
		if cl, ok := c.opt.Galaxy.Find(name); ok {
			have[strings.ToLower(name)] = true
			out = append(out, cl)
		} else {
			c.warn(fmt.Sprintf("tag misp-galaxy:threat-actor=%q: cluster not in the event nor in the galaxy given: kept as a label", name))
		}
	}
	return out
}

// threatActorTags returns the names in misp-galaxy:threat-actor="…" tags.
func threatActorTags(tags []Tag) []string {
	var out []string
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t.Name, "misp-galaxy:threat-actor="); ok {
			out = append(out, strings.Trim(v, `"`))
		}
	}
	return out
}

// cluster writes a threat-actor cluster's objects (once) and returns the intrusion-set id.
func (c *conv) cluster(cl *Cluster) string {
	if id, ok := c.clusters[cl.UUID]; ok {
		return id
	}
	objs, err := clusterObjects(cl, 0)
	if err != nil {
		c.warn(fmt.Sprintf("threat-actor cluster %s (%s): %v: dropped", cl.UUID, cl.Value, err))
		c.clusters[cl.UUID] = ""
		return ""
	}
	for _, o := range objs {
		if c.seen[o.id]&idWritten == 0 {
			c.seen[o.id] |= idWritten
			c.put(o.raw, o.obj, false)
			if strings.HasPrefix(o.id, "relationship--") {
				c.res.Counts.Relationships++
			} else if strings.HasPrefix(o.id, "intrusion-set--") {
				c.res.Counts.IntrusionSets++
			}
		}
	}
	c.clusters[cl.UUID] = objs[0].id
	return objs[0].id
}

// attrClusters links an attribute's object to the threat-actor clusters of its galaxies and tags:
// an indicator "indicates" the intrusion set; anything else is "related-to" it.
func (c *conv) attrClusters(a *Attribute, primary string) {
	var cls []*Cluster
	for i := range a.Galaxy {
		if a.Galaxy[i].Type == "threat-actor" {
			for j := range a.Galaxy[i].GalaxyCluster {
				cls = append(cls, &a.Galaxy[i].GalaxyCluster[j])
			}
		}
	}
	for _, name := range threatActorTags(a.Tag) {
		if cl, ok := c.opt.Galaxy.Find(name); ok && !slices.ContainsFunc(cls, func(x *Cluster) bool { return x.UUID == cl.UUID }) {
			cls = append(cls, cl)
		}
	}
	for _, cl := range cls {
		id := c.cluster(cl)
		if id == "" {
			continue
		}
		c.addRef(id)
		typ := "related-to"
		if strings.HasPrefix(primary, "indicator--") {
			typ = "indicates"
		}
		c.relationship(primary, typ, id, c.attrTime(a.Timestamp), c.markingRefs(a.Tag, a.Distribution, a.SharingGroupID), "")
	}
}
