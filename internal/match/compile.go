package match

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
)

// CompileStats counts what Compile did with the indicators it read.
type CompileStats struct {
	Read         int // latest versions of indicators read
	Active       int // compiled into the index
	Revoked      int
	Expired      int // valid_until at or before the compile time
	NotYetValid  int // valid_from after the compile time
	NotSTIX      int // pattern_type other than stix
	Invalid      int // unreadable object or pattern
	NotIndexable int // no comparison the index can serve, or not every match would hit one
	Entries      int // index entries (values) added
}

// Compiled is the index of the active STIX indicators of a store at one time, with the table from
// Ref to indicator. It is immutable and safe for concurrent use. One loaded from a file
// (OpenFile) maps the file: Close it when no lookup can use it any more.
type Compiled struct {
	Index      *Index
	Indicators IndicatorTable // by Ref
	At         time.Time      // the time activity was judged at
	// NextChange is the earliest valid_from or valid_until after At: from then on the set of active
	// indicators differs. Zero when no indicator has such a time.
	NextChange time.Time
	// LastStored is the latest Stored time among the versions read: a version stored later is not
	// in the index.
	LastStored time.Time
	// State is the rest of what the store held that the index depends on (see Stale); Load sets
	// it, Compile leaves it zero.
	State StoreState
	Stats CompileStats

	patterns  sync.Map     // Ref → *pattern.Pattern (nil: does not compile), for Verify
	npatterns atomic.Int64 // entries in patterns
	closeOnce sync.Once
	unmap     func() error // releases the file mapping; nil when the index is not mapped
	closeErr  error
}

// maxCachedPatterns bounds the patterns Verify keeps compiled; past it, a pattern is compiled for
// each hit that needs it.
const maxCachedPatterns = 1 << 17

// CompileOptions control Compile.
type CompileOptions struct {
	At     time.Time    // activity is judged at this time (zero: now)
	Logger *slog.Logger // warnings for indicators left out; nil: none
	// MaxIndicators bounds the active indicators compiled (0: MaxRef).
	MaxIndicators int
}

// indicatorDoc is the part of an indicator Compile reads.
type indicatorDoc struct {
	Pattern     string `json:"pattern"`
	PatternType string `json:"pattern_type"`
	ValidFrom   string `json:"valid_from"`
	ValidUntil  string `json:"valid_until"`
	Revoked     bool   `json:"revoked"`
}

// Compile reads the latest version of every indicator in objs (the operator's unscoped view) and
// compiles the active ones: not revoked, valid_from ≤ at < valid_until, pattern_type "stix" (a
// missing pattern_type, as in STIX 2.0, counts as stix). Each indexable comparison of a pattern
// (see pattern.IndexKeys) on ipv4-addr, ipv6-addr, domain-name, url, email-addr values and file
// hashes, and each ISSUBSET of an address value, becomes an index entry; a pattern enters the index
// only when every match of it on a log observation must satisfy one of its entries. A hit is a
// candidate: Verify evaluates the whole pattern.
func Compile(ctx context.Context, objs store.Objects, o CompileOptions) (*Compiled, error) {
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	limit := o.MaxIndicators
	if limit <= 0 || limit > MaxRef {
		limit = MaxRef
	}
	c := &Compiled{At: at}
	b := NewBuilder(0)
	var tb IndicatorTable
	var entries []Entry
	warn := func(v *store.Version, msg string, err error) {
		if o.Logger != nil {
			o.Logger.Warn("match: indicator left out", "id", v.ID, "modified", v.Modified, "reason", msg, "err", err)
		}
	}
	for v, err := range objs.Scan(ctx, store.Filter{Types: []string{"indicator"}}) {
		if err != nil {
			return nil, fmt.Errorf("compile indicators: %w", err)
		}
		c.Stats.Read++
		if v.Stored.After(c.LastStored) {
			c.LastStored = v.Stored
		}
		var doc indicatorDoc
		if err := json.Unmarshal(v.Raw, &doc); err != nil {
			c.Stats.Invalid++
			warn(&v, "not a JSON object", err)
			continue
		}
		if v.Revoked || doc.Revoked {
			c.Stats.Revoked++
			continue
		}
		if doc.PatternType != "" && doc.PatternType != "stix" {
			c.Stats.NotSTIX++
			continue
		}
		from, err1 := optTime(doc.ValidFrom)
		until, err2 := optTime(doc.ValidUntil)
		if err1 != nil || err2 != nil {
			c.Stats.Invalid++
			warn(&v, "bad valid_from or valid_until", errors.Join(err1, err2))
			continue
		}
		if !from.IsZero() && from.After(at) {
			c.Stats.NotYetValid++
			c.noteChange(from)
			continue
		}
		if !until.IsZero() && !until.After(at) {
			c.Stats.Expired++
			continue
		}
		p, err := pattern.Compile(doc.Pattern)
		if err != nil {
			c.Stats.Invalid++
			warn(&v, "bad pattern", err)
			continue
		}
		ref := uint32(tb.Len())
		entries = indexEntries(entries[:0], p, ref)
		if len(entries) == 0 || !covered(p) {
			c.Stats.NotIndexable++
			continue
		}
		if tb.Len() >= limit {
			return nil, fmt.Errorf("compile indicators: more than %d active indicators", limit)
		}
		added := 0
		for _, e := range entries {
			if err := b.Add(e); err != nil {
				warn(&v, "value not indexable", err)
				continue
			}
			added++
		}
		if added == 0 {
			c.Stats.NotIndexable++
			continue
		}
		if _, err := tb.Add(v.ID, &v, doc.Pattern); err != nil {
			return nil, fmt.Errorf("compile indicators: %w", err)
		}
		if !until.IsZero() {
			c.noteChange(until)
		}
		c.Stats.Active++
		c.Stats.Entries += added
	}
	c.Index = b.Build()
	tb.labelIx = nil
	c.Indicators = tb
	return c, nil
}

func (c *Compiled) noteChange(t time.Time) {
	if t.After(c.At) && (c.NextChange.IsZero() || t.Before(c.NextChange)) {
		c.NextChange = t
	}
}

func optTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	ts, err := stix.ParseTimestamp(s)
	if err != nil {
		return time.Time{}, err
	}
	return ts.Time(), nil
}

// hashKinds maps the hash names of file:hashes to kinds (the STIX vocabulary and common spellings).
var hashKinds = map[string]Kind{
	"md5": KindMD5, "sha-1": KindSHA1, "sha1": KindSHA1, "sha-256": KindSHA256, "sha256": KindSHA256,
	"sha-512": KindSHA512, "sha512": KindSHA512,
}

// pathKind returns the kind of the values at object type typ and path steps, as a log observation
// holds them, or KindInvalid for a path no log observation has.
func pathKind(typ string, steps []pattern.Step) Kind {
	if len(steps) == 1 && steps[0].Key == "value" {
		switch typ {
		case "ipv4-addr":
			return KindIPv4
		case "ipv6-addr":
			return KindIPv6
		case "domain-name":
			return KindDomain
		case "url":
			return KindURL
		case "email-addr":
			return KindEmail
		}
		return KindInvalid
	}
	if typ == "file" && len(steps) == 2 && steps[0].Key == "hashes" {
		if k, ok := hashKinds[strings.ToLower(steps[1].Key)]; ok {
			return k
		}
	}
	return KindInvalid
}

// indexEntries appends the index entries of p, all with ref.
func indexEntries(dst []Entry, p *pattern.Pattern, ref uint32) []Entry {
	for _, k := range p.IndexKeys() {
		if k.Kind != pattern.KindString {
			continue
		}
		kind := pathKind(k.ObjectType, k.Steps)
		if kind == KindInvalid {
			continue
		}
		dst = append(dst, Entry{Kind: kind, Value: k.Value, Ref: ref})
	}
	for _, c := range p.Comparisons() {
		if subsetKey(c) {
			dst = append(dst, Entry{Kind: pathKind(c.Path.ObjectType, c.Path.Steps), Value: c.Value.Str, Ref: ref})
		}
	}
	return dst
}

// subsetKey reports whether c is "address value ISSUBSET 'cidr'", served by the CIDR table.
func subsetKey(c *pattern.Comparison) bool {
	if c.Negated || c.Op != pattern.OpIsSubset || c.Value.Kind != pattern.KindString {
		return false
	}
	k := pathKind(c.Path.ObjectType, c.Path.Steps)
	if k != KindIPv4 && k != KindIPv6 {
		return false
	}
	_, err := netip.ParsePrefix(c.Value.Str)
	return err == nil
}

// keyed reports whether c gives index entries.
func keyed(c *pattern.Comparison) bool {
	if subsetKey(c) {
		return true
	}
	if c.Negated || pathKind(c.Path.ObjectType, c.Path.Steps) == KindInvalid {
		return false
	}
	switch c.Op {
	case pattern.OpEq:
		return c.Value.Kind == pattern.KindString
	case pattern.OpIn:
		if len(c.Set) == 0 {
			return false
		}
		for i := range c.Set {
			if c.Set[i].Kind != pattern.KindString {
				return false
			}
		}
		return true
	}
	return false
}

// covered reports whether every match of p on a log observation (whose objects are only the
// address, domain, URL, email and file-hash objects Verify builds) satisfies a keyed comparison. A
// comparison that is not negated and whose path no log observation has can never hold, so it
// counts as covered too.
func covered(p *pattern.Pattern) bool {
	var cmp func(x pattern.CmpExpr) bool
	cmp = func(x pattern.CmpExpr) bool {
		switch x := x.(type) {
		case *pattern.Comparison:
			return keyed(x) || !x.Negated && pathKind(x.Path.ObjectType, x.Path.Steps) == KindInvalid && !knownPath(x.Path.ObjectType, x.Path.Steps)
		case *pattern.CmpAnd:
			for _, y := range x.Xs {
				if cmp(y) {
					return true
				}
			}
			return false
		case *pattern.CmpOr:
			for _, y := range x.Xs {
				if !cmp(y) {
					return false
				}
			}
			return true
		}
		return false
	}
	var obs func(x pattern.ObsExpr) bool
	obs = func(x pattern.ObsExpr) bool {
		switch x := x.(type) {
		case *pattern.ObsLeaf:
			return cmp(x.Cmp)
		case *pattern.ObsAnd:
			for _, y := range x.Xs {
				if obs(y) {
					return true
				}
			}
			return false
		case *pattern.ObsFollowedBy:
			for _, y := range x.Xs {
				if obs(y) {
					return true
				}
			}
			return false
		case *pattern.ObsOr:
			for _, y := range x.Xs {
				if !obs(y) {
					return false
				}
			}
			return true
		case *pattern.ObsQualified:
			return obs(x.X)
		}
		return false
	}
	return obs(p.Root())
}

// knownPath reports whether a log observation may hold a property at typ:steps even though it is
// not a keyed one: the "type" of its objects, and file:hashes with any algorithm name.
func knownPath(typ string, steps []pattern.Step) bool {
	switch typ {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr":
		return len(steps) == 1 && (steps[0].Key == "value" || steps[0].Key == "type")
	case "file":
		return len(steps) >= 1 && (steps[0].Key == "hashes" || steps[0].Key == "type")
	}
	return false
}

// Verify returns the refs of refs whose patterns match the observation made of line (all the
// values of the log line a hit was found in) at time t; it reuses refs' memory. A ref without a
// pattern is kept when a value of line is one of its values. It is safe for concurrent use.
//
// The patterns compare the values themselves, so the Matcher, when given Verify, looks the values
// up by their fingerprints alone (Searcher.Unverified).
func (c *Compiled) Verify(refs []uint32, line []Candidate, t time.Time) []uint32 {
	var obs *pattern.Observation
	out := refs[:0]
	for _, r := range refs {
		p, ok := c.pattern(r)
		if !ok {
			continue
		}
		if p == nil {
			if c.Index.hasRef(line, r) {
				out = append(out, r)
			}
			continue
		}
		if obs == nil {
			obs = Observation(line, t)
		}
		if p.MatchOne(obs) {
			out = append(out, r)
		}
	}
	return out
}

// pattern returns the compiled pattern of ref: nil and true when the indicator has none (an index
// hit is a match), false when ref is not in the table or its pattern does not compile.
func (c *Compiled) pattern(ref uint32) (*pattern.Pattern, bool) {
	if v, ok := c.patterns.Load(ref); ok {
		p := v.(*pattern.Pattern)
		return p, p != nil
	}
	text, has, ok := c.Indicators.patternText(ref)
	switch {
	case !ok:
		return nil, false
	case !has:
		return nil, true
	}
	p, err := pattern.Compile(string(text))
	if err != nil {
		p = nil // compiled when the index was: the table is damaged
	}
	if c.npatterns.Load() < maxCachedPatterns {
		if _, loaded := c.patterns.LoadOrStore(ref, p); !loaded {
			c.npatterns.Add(1)
		}
	}
	return p, p != nil
}

// Observation builds the observation a pattern is evaluated against from the values of one log
// line: an ipv4-addr, ipv6-addr, domain-name, url or email-addr object for each address, name, URL
// or email address (its normalised value), and for each hash two file objects with hashes (the
// algorithm's STIX name; lower-case hex in one, upper-case in the other, as patterns use both). Values that do not normalise are left out.
func Observation(line []Candidate, t time.Time) *pattern.Observation {
	obs := &pattern.Observation{First: t, Last: t, Count: 1, Objects: make([]pattern.Object, 0, len(line))}
	seen := make(map[string]bool, len(line))
	for _, cand := range line {
		k, v, err := Normalize(cand.Kind, string(cand.Value))
		if err != nil {
			continue
		}
		var props map[string]any
		switch k {
		case KindIPv4:
			props = map[string]any{"type": "ipv4-addr", "value": v}
		case KindIPv6:
			props = map[string]any{"type": "ipv6-addr", "value": v}
		case KindDomain:
			props = map[string]any{"type": "domain-name", "value": v}
		case KindURL:
			props = map[string]any{"type": "url", "value": v}
		case KindEmail:
			props = map[string]any{"type": "email-addr", "value": v}
		case KindMD5, KindSHA1, KindSHA256, KindSHA512:
			props = map[string]any{"type": "file", "hashes": map[string]any{hashNames[k]: v}}
		default:
			continue
		}
		key := k.String() + "\x00" + v
		if seen[key] {
			continue
		}
		seen[key] = true
		obs.Objects = append(obs.Objects, pattern.Object{Ref: fmt.Sprint(len(obs.Objects)), Props: props})
		if props["type"] == "file" {
			// The evaluator compares strings exactly: an upper-case twin lets patterns written
			// in upper-case hex match too.
			up := map[string]any{"type": "file", "hashes": map[string]any{hashNames[k]: strings.ToUpper(v)}}
			obs.Objects = append(obs.Objects, pattern.Object{Ref: fmt.Sprint(len(obs.Objects)), Props: up})
		}
	}
	return obs
}

var hashNames = map[Kind]string{KindMD5: "MD5", KindSHA1: "SHA-1", KindSHA256: "SHA-256", KindSHA512: "SHA-512"}

// ViewFilter keeps the refs of a Compiled index a viewer may see, deciding once per ref with allow
// (given the parts of the indicator's stored form the policy reads, IndicatorTable.Version). It is
// not safe for concurrent use.
type ViewFilter struct {
	c       *Compiled
	allow   func(*store.Version) bool
	decided map[uint32]bool // per ref met so far: allowed
}

// NewViewFilter returns a filter; allow nil allows every indicator (the operator's view).
func (c *Compiled) NewViewFilter(allow func(*store.Version) bool) *ViewFilter {
	return &ViewFilter{c: c, allow: allow, decided: map[uint32]bool{}}
}

// Filter returns the refs the viewer may see, reusing refs' memory.
func (f *ViewFilter) Filter(refs []uint32) []uint32 {
	out := refs[:0]
	n := int64(f.c.Indicators.Len())
	for _, r := range refs {
		if int64(r) >= n {
			continue
		}
		if f.allow == nil {
			out = append(out, r)
			continue
		}
		ok, seen := f.decided[r]
		if !seen {
			v := f.c.Indicators.Version(r)
			ok = f.allow(&v)
			f.decided[r] = ok
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}
