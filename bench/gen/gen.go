// Package gen owns renkei's synthetic intelligence: a deterministic generator of realistic STIX 2.1
// bundles, shaped like the store of a national CERT (indicators with STIX patterns, observables with
// deterministic ids, relationships, threat actors and malware, reports, sightings, TLP 2.0 markings).
// The same seed always gives the same bytes. Bundles are written as a stream, one object at a time,
// so a bundle of any size (a gigabyte or more) is written in constant memory. The benchmark harness
// (package bench) and tests use it.
//
// Every generated value is harmless: IPv4 addresses come from the shared address space 100.64.0.0/10,
// domains end in names reserved for documentation and testing, and hashes are hashes of nothing.
package gen

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Category is the broad kind of a generated object, for counting the mix.
type Category uint8

const (
	CatIndicator    Category = iota + 1 // indicator with a STIX pattern
	CatObservable                       // ipv4-addr, domain-name, url, file, email-addr
	CatRelationship                     // relationship
	CatDomain                           // malware, intrusion-set, campaign, attack-pattern, threat-actor
	CatReport                           // report
	CatSighting                         // sighting
	CatIdentity                         // identity
)

// CategoryOf returns the category of a STIX type, and false for types the generator never writes.
func CategoryOf(typ string) (Category, bool) {
	switch typ {
	case "indicator":
		return CatIndicator, true
	case "ipv4-addr", "domain-name", "url", "file", "email-addr":
		return CatObservable, true
	case "relationship":
		return CatRelationship, true
	case "malware", "intrusion-set", "campaign", "attack-pattern", "threat-actor":
		return CatDomain, true
	case "report":
		return CatReport, true
	case "sighting":
		return CatSighting, true
	case "identity":
		return CatIdentity, true
	}
	return 0, false
}

// weights are the expected shares of each category, in thousandths, after the opening objects.
var weights = [...]int{
	CatIndicator:    400,
	CatObservable:   250,
	CatRelationship: 250,
	CatDomain:       50,
	CatReport:       30,
	CatSighting:     15,
	CatIdentity:     5,
}

// Share returns the expected share (0 to 1) of a category among the objects after the first few,
// which are always the same handful of identities, actors and malware that later objects refer to.
func Share(c Category) float64 {
	if int(c) >= len(weights) {
		return 0
	}
	return float64(weights[c]) / 1000
}

// Write writes a bundle of n objects generated from seed to w. It holds one object at a time.
func Write(w io.Writer, n int, seed int64) error {
	if n < 0 {
		return fmt.Errorf("gen: negative object count %d", n)
	}
	g := New(seed)
	bw := bufio.NewWriterSize(w, 256<<10)
	buf := make([]byte, 0, 4096)
	buf = append(buf, `{"type":"bundle","id":"bundle--`...)
	buf = appendUUID(buf, g.uuid())
	buf = append(buf, `","objects":[`...)
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		buf = g.Append(buf)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("gen: writing object %d: %w", i, err)
		}
		buf = buf[:0]
	}
	buf = append(buf, "\n]}\n"...)
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("gen: writing the end of the bundle: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

// poolSize bounds how many recent ids of each kind the generator remembers as reference targets.
const poolSize = 2048

// pool is a ring of recently generated ids.
type pool struct {
	ids  []string
	next int
}

func (p *pool) add(id string) {
	if len(p.ids) < poolSize {
		p.ids = append(p.ids, id)
		return
	}
	p.ids[p.next] = id
	p.next = (p.next + 1) % poolSize
}

func (p *pool) empty() bool { return len(p.ids) == 0 }

// Generator produces one object after another. It remembers a bounded number of recent ids, so its
// memory does not grow with the number of objects.
type Generator struct {
	seed     int64
	rng      *rand.Rand
	base     time.Time
	opening  []func(dst []byte) []byte // objects written first, so that references have targets
	count    int
	scoCount [scoKinds]uint64

	creators   []string // identities that write the intelligence
	victims    pool     // identities that are targeted
	indicators pool
	scos       pool
	rels       pool
	sdos       map[string]*pool // by type
	recent     pool             // any object, for report object_refs
}

// New returns a generator whose output depends only on seed.
func New(seed int64) *Generator {
	g := &Generator{
		seed: seed,
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x72656e6b6569)), // "renkei"
		base: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
		sdos: map[string]*pool{},
	}
	for _, t := range sdoTypes {
		g.sdos[t] = &pool{}
	}
	for i := range creatorNames {
		g.opening = append(g.opening, func(dst []byte) []byte { return g.identity(dst, creatorNames[i], "organization", true) })
	}
	g.opening = append(g.opening,
		func(dst []byte) []byte { return g.identity(dst, victimNames[0], "organization", false) },
		func(dst []byte) []byte { return g.sdo(dst, "threat-actor") },
		func(dst []byte) []byte { return g.sdo(dst, "intrusion-set") },
		func(dst []byte) []byte { return g.sdo(dst, "campaign") },
		func(dst []byte) []byte { return g.sdo(dst, "malware") },
		func(dst []byte) []byte { return g.sdo(dst, "attack-pattern") },
	)
	return g
}

var sdoTypes = []string{"malware", "intrusion-set", "campaign", "attack-pattern", "threat-actor"}

// Append appends the next object's JSON text to dst.
func (g *Generator) Append(dst []byte) []byte {
	i := g.count
	g.count++
	if i < len(g.opening) {
		return g.opening[i](dst)
	}
	r := g.rng.IntN(1000)
	for c, w := range weights {
		if r < w {
			return g.category(dst, Category(c))
		}
		r -= w
	}
	return g.category(dst, CatIndicator)
}

func (g *Generator) category(dst []byte, c Category) []byte {
	switch c {
	case CatObservable:
		return g.sco(dst)
	case CatRelationship:
		return g.relationship(dst)
	case CatDomain:
		// Attack patterns and malware are more numerous than actors and campaigns.
		return g.sdo(dst, pick(g.rng, []string{"malware", "malware", "attack-pattern", "attack-pattern", "intrusion-set", "campaign", "threat-actor"}))
	case CatReport:
		return g.report(dst)
	case CatSighting:
		return g.sighting(dst)
	case CatIdentity:
		return g.identity(dst, pick(g.rng, victimNames), "organization", false)
	}
	return g.indicator(dst)
}

// ---- identifiers, times and small helpers ----

func (g *Generator) uuid() [16]byte {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(u[8:], g.rng.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func (g *Generator) newID(typ string) string {
	b := make([]byte, 0, len(typ)+38)
	b = append(b, typ...)
	b = append(b, "--"...)
	return string(appendUUID(b, g.uuid()))
}

func appendUUID(dst []byte, u [16]byte) []byte {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return append(dst, s[:]...)
}

// stamps returns created and modified with millisecond precision. Objects later in the bundle tend
// to be newer (about 40 seconds per object, give or take a week, from 2023-01-01); modified equals
// created or is up to 30 days later.
func (g *Generator) stamps() (time.Time, time.Time) {
	week := int64(7 * 24 * time.Hour)
	at := int64(g.count)*int64(40*time.Second) + g.rng.Int64N(2*week) - week
	created := g.base.Add(time.Duration(max(at, 0)) / time.Millisecond * time.Millisecond)
	modified := created
	if g.rng.IntN(10) < 4 {
		modified = created.Add(time.Duration(g.rng.Int64N(int64(30*24*time.Hour))) / time.Millisecond * time.Millisecond)
	}
	return created, modified
}

const stampLayout = "2006-01-02T15:04:05.000Z"

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *Generator) creator() string {
	// The national CERT writes half of everything.
	if g.rng.IntN(2) == 0 {
		return g.creators[0]
	}
	return pick(g.rng, g.creators)
}

func (g *Generator) marking() string {
	switch r := g.rng.IntN(100); {
	case r < 20:
		return stix.TLP2Clear
	case r < 70:
		return stix.TLP2Green
	case r < 95:
		return stix.TLP2Amber
	case r < 97:
		return stix.TLP2AmberStrict
	default:
		return stix.TLP2Red
	}
}

func (g *Generator) description(min, max int) string {
	n := min + g.rng.IntN(max-min+1)
	b := make([]byte, 0, 96*n)
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, pick(g.rng, sentences)...)
	}
	return string(b)
}

func (g *Generator) killChain(o *obj) {
	first := g.rng.IntN(len(tactics))
	n := 1 + g.rng.IntN(2)
	o.key("kill_chain_phases")
	o.b = append(o.b, '[')
	for i := range n {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = append(o.b, `{"kill_chain_name":"mitre-attack","phase_name":`...)
		o.b = appendString(o.b, tactics[(first+i)%len(tactics)])
		o.b = append(o.b, '}')
	}
	o.b = append(o.b, ']')
}

// common writes the properties every SDO and SRO shares, in a fixed order.
func (g *Generator) common(o *obj, typ, id string, created, modified time.Time, marked bool) {
	o.str("type", typ)
	o.str("spec_version", "2.1")
	o.str("id", id)
	if len(g.creators) > 0 {
		o.str("created_by_ref", g.creator())
	}
	o.str("created", created.Format(stampLayout))
	o.str("modified", modified.Format(stampLayout))
	if marked {
		o.strs("object_marking_refs", g.marking())
	}
}

// ---- object writers ----

func (g *Generator) identity(dst []byte, name, class string, creator bool) []byte {
	id := g.newID("identity")
	created, modified := g.stamps()
	o := begin(dst)
	o.str("type", "identity")
	o.str("spec_version", "2.1")
	o.str("id", id)
	o.str("created", created.Format(stampLayout))
	o.str("modified", modified.Format(stampLayout))
	o.str("name", name)
	o.str("identity_class", class)
	o.strs("sectors", pick(g.rng, sectors))
	if creator {
		o.str("contact_information", "soc@"+slug(name)+".example")
		o.strs("object_marking_refs", stix.TLP2Clear)
		g.creators = append(g.creators, id)
	} else {
		o.str("description", g.description(1, 2))
		g.victims.add(id)
	}
	g.recent.add(id)
	return o.end()
}

func (g *Generator) sdo(dst []byte, typ string) []byte {
	id := g.newID(typ)
	created, modified := g.stamps()
	o := begin(dst)
	g.common(&o, typ, id, created, modified, true)
	name := pick(g.rng, adjectives) + " " + pick(g.rng, nouns)
	switch typ {
	case "malware":
		name = pick(g.rng, adjectives) + pick(g.rng, malwareStems)
		o.str("name", name)
		o.str("description", g.description(2, 4))
		o.strs("malware_types", pick(g.rng, malwareTypes))
		o.boolean("is_family", g.rng.IntN(4) != 0)
		g.killChain(&o)
	case "intrusion-set":
		o.str("name", name)
		o.str("description", g.description(2, 4))
		o.strs("aliases", pick(g.rng, adjectives)+" "+pick(g.rng, nouns), "APT-"+strconv.Itoa(10+g.rng.IntN(90)))
		o.str("resource_level", pick(g.rng, resourceLevels))
		o.str("primary_motivation", pick(g.rng, motivations))
	case "campaign":
		o.str("name", "Operation "+name)
		o.str("description", g.description(2, 4))
		o.str("first_seen", created.Format(stampLayout))
		o.str("objective", pick(g.rng, sentences))
	case "attack-pattern":
		t := pick(g.rng, techniques)
		sub := strconv.Itoa(1 + g.rng.IntN(9))
		o.str("name", t[1])
		o.str("description", g.description(2, 4))
		o.key("external_references")
		o.b = append(o.b, `[{"source_name":"mitre-attack","external_id":`...)
		o.b = appendString(o.b, t[0]+".00"+sub)
		o.b = append(o.b, `,"url":`...)
		o.b = appendString(o.b, "https://attack.mitre.org/techniques/"+t[0]+"/00"+sub+"/")
		o.b = append(o.b, "}]"...)
		g.killChain(&o)
	case "threat-actor":
		o.str("name", name)
		o.str("description", g.description(2, 4))
		o.strs("threat_actor_types", pick(g.rng, threatActorTypes))
		o.strs("aliases", pick(g.rng, adjectives)+" "+pick(g.rng, nouns))
		o.str("sophistication", pick(g.rng, sophistication))
		o.str("resource_level", pick(g.rng, resourceLevels))
		o.str("primary_motivation", pick(g.rng, motivations))
	}
	g.sdos[typ].add(id)
	g.recent.add(id)
	return o.end()
}

func (g *Generator) indicator(dst []byte) []byte {
	id := g.newID("indicator")
	created, modified := g.stamps()
	pattern, what := g.pattern()
	o := begin(dst)
	g.common(&o, "indicator", id, created, modified, true)
	o.str("name", what)
	o.str("description", g.description(1, 2))
	o.strs("indicator_types", pick(g.rng, indicatorTypes))
	o.str("pattern", pattern)
	o.str("pattern_type", "stix")
	o.str("pattern_version", "2.1")
	o.str("valid_from", created.Format(stampLayout))
	if g.rng.IntN(10) < 3 {
		o.str("valid_until", created.Add(time.Duration(30+g.rng.IntN(335))*24*time.Hour).Format(stampLayout))
	}
	g.killChain(&o)
	o.strs("labels", pick(g.rng, labels))
	o.num("confidence", int64(5*g.rng.IntN(21)))
	g.indicators.add(id)
	g.recent.add(id)
	return o.end()
}

// relationship writes one of the relationships the STIX 2.1 summary tables allow, between
// objects already generated.
func (g *Generator) relationship(dst []byte) []byte {
	actors := []string{"intrusion-set", "threat-actor", "campaign", "malware"}
	var src, rel, tgt string
	switch r := g.rng.IntN(100); {
	case r < 50 && !g.indicators.empty():
		src, rel = pick(g.rng, g.indicators.ids), "indicates"
		tgt = g.sdoRef(pick(g.rng, []string{"malware", "malware", "intrusion-set", "campaign", "threat-actor", "attack-pattern"}))
	case r < 70:
		src, rel = g.sdoRef(pick(g.rng, actors)), "uses"
		tgt = g.sdoRef(pick(g.rng, []string{"attack-pattern", "attack-pattern", "malware"}))
	case r < 85:
		src, rel, tgt = g.sdoRef(pick(g.rng, actors)), "targets", pick(g.rng, g.victims.ids)
	case r < 95:
		if g.rng.IntN(2) == 0 {
			src, tgt = g.sdoRef("campaign"), g.sdoRef(pick(g.rng, []string{"intrusion-set", "threat-actor"}))
		} else {
			src, tgt = g.sdoRef("intrusion-set"), g.sdoRef("threat-actor")
		}
		rel = "attributed-to"
	default:
		if g.indicators.empty() || g.scos.empty() {
			src, rel, tgt = g.sdoRef("malware"), "uses", g.sdoRef("attack-pattern")
		} else {
			src, rel, tgt = pick(g.rng, g.indicators.ids), "related-to", pick(g.rng, g.scos.ids)
		}
	}
	id := g.newID("relationship")
	created, modified := g.stamps()
	o := begin(dst)
	g.common(&o, "relationship", id, created, modified, true)
	o.str("relationship_type", rel)
	o.str("source_ref", src)
	o.str("target_ref", tgt)
	if g.rng.IntN(2) == 0 {
		o.str("description", pick(g.rng, sentences))
	}
	o.num("confidence", int64(5*g.rng.IntN(21)))
	g.rels.add(id)
	g.recent.add(id)
	return o.end()
}

func (g *Generator) sdoRef(typ string) string { return pick(g.rng, g.sdos[typ].ids) }

func (g *Generator) report(dst []byte) []byte {
	id := g.newID("report")
	created, modified := g.stamps()
	n := 10 + g.rng.IntN(41)
	refs := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(refs) < n && len(seen) < len(g.recent.ids) {
		ref := pick(g.rng, g.recent.ids)
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	o := begin(dst)
	g.common(&o, "report", id, created, modified, true)
	o.str("name", pick(g.rng, []string{"Weekly digest: ", "Incident report: ", "Alert: ", "Advisory: "})+pick(g.rng, adjectives)+" "+pick(g.rng, nouns)+" activity")
	o.str("description", g.description(2, 5))
	o.strs("report_types", pick(g.rng, reportTypes))
	o.str("published", modified.Format(stampLayout))
	o.strs("object_refs", refs...)
	g.recent.add(id)
	return o.end()
}

func (g *Generator) sighting(dst []byte) []byte {
	id := g.newID("sighting")
	created, modified := g.stamps()
	var of string
	if g.indicators.empty() {
		of = g.sdoRef("malware")
	} else {
		of = pick(g.rng, g.indicators.ids)
	}
	first := created.Add(-time.Duration(g.rng.Int64N(int64(7*24*time.Hour))) / time.Millisecond * time.Millisecond)
	last := first.Add(time.Duration(g.rng.Int64N(int64(48*time.Hour))) / time.Millisecond * time.Millisecond)
	o := begin(dst)
	g.common(&o, "sighting", id, created, modified, true)
	o.str("first_seen", first.Format(stampLayout))
	o.str("last_seen", last.Format(stampLayout))
	o.num("count", int64(1+g.rng.IntN(500)))
	o.str("sighting_of_ref", of)
	o.strs("where_sighted_refs", pick(g.rng, g.victims.ids))
	g.recent.add(id)
	return o.end()
}

// ---- the JSON writer ----

// obj appends the members of one JSON object in the order they are written.
type obj struct {
	b     []byte
	first bool
}

func begin(dst []byte) obj { return obj{b: append(dst, '{'), first: true} }

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *obj) strs(k string, vs ...string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, v := range vs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, v)
	}
	o.b = append(o.b, ']')
}

func (o *obj) num(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *obj) boolean(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *obj) end() []byte { return append(o.b, '}') }

// appendString appends s as a JSON string. Generated text is ASCII; quotes, backslashes and control
// characters are escaped all the same.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' && len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return string(b)
}

// digest returns a deterministic pseudo-random 32-byte value for (seed, label, k).
func (g *Generator) digest(label string, k uint64) [32]byte {
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], uint64(g.seed))
	binary.BigEndian.PutUint64(in[8:], k)
	h := sha256.New()
	h.Write([]byte(label))
	h.Write(in[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}
