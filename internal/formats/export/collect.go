package export

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
)

// Kind is the kind of a value a device matches.
type Kind uint8

// The kinds, in the order the writers list them.
const (
	KindIPv4 Kind = iota + 1
	KindIPv6
	KindCIDR
	KindDomain
	KindURL
	KindEmail
	KindMD5
	KindSHA1
	KindSHA256
)

var kindNames = [...]string{"", "ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// IsHash reports whether k is a file hash.
func (k Kind) IsHash() bool { return k == KindMD5 || k == KindSHA1 || k == KindSHA256 }

// Value is one value of an indicator, normalised: addresses and prefixes as net/netip prints them
// (a prefix masked), domains in lower case without a final dot, hashes in lower-case hex, URLs and
// e-mail addresses as written.
type Value struct {
	Kind  Kind
	Value string
}

// Indicator is one active indicator and the values of its pattern.
type Indicator struct {
	ID           string
	Modified     string // as written; "" when absent
	Name         string // "" when absent
	CreatedByRef string
	ValidFrom    string
	ValidUntil   string
	TLP          stix.TLP
	Values       []Value // sorted by kind then value, without duplicates
}

// Reason says why an indicator was left out.
type Reason string

// The reasons.
const (
	ReasonNotIndicator Reason = "not an indicator"
	ReasonInvalid      Reason = "not a valid indicator"
	ReasonRevoked      Reason = "revoked"
	ReasonNotYetValid  Reason = "not yet valid"
	ReasonExpired      Reason = "expired"
	ReasonNotSTIX      Reason = "pattern_type is not stix"
	ReasonBadPattern   Reason = "pattern does not compile"
	ReasonComplex      Reason = "pattern cannot be expressed as a list of values"
	ReasonBadValue     Reason = "a value of the pattern is not valid for its kind"
	ReasonTLP          Reason = "TLP does not allow this destination"
	ReasonPersonal     Reason = "blocked by the personal-data guard"
	ReasonPersonalPat  Reason = "personal data in the pattern"
	ReasonSuperseded   Reason = "an older version of an exported indicator"
	ReasonNotInFormat  Reason = "no value the format can express"
)

// Skip is one indicator left out, with why.
type Skip struct {
	ID     string
	Reason Reason
	Detail string // e.g. the comparison that cannot be expressed; never a personal value
}

// MaxSkips bounds the skips a Report lists one by one; Counts counts them all.
const MaxSkips = 1000

// Report says what Collect (and a writer) did.
type Report struct {
	Read     int            // versions read
	Exported int            // indicators exported
	Values   int            // values exported
	Counts   map[Reason]int // indicators left out, by reason
	Skips    []Skip         // the first MaxSkips of them, in the order read
	Redacted int            // indicators whose copy the personal-data guard rewrote
}

// Skip records one indicator or object left out, for the writers outside this package (MISP).
func (r *Report) Skip(id string, reason Reason, detail string) { r.skip(id, reason, detail) }

func (r *Report) skip(id string, reason Reason, detail string) {
	if r.Counts == nil {
		r.Counts = map[Reason]int{}
	}
	r.Counts[reason]++
	if len(r.Skips) < MaxSkips {
		r.Skips = append(r.Skips, Skip{ID: id, Reason: reason, Detail: detail})
	}
}

// Skipped is the number of indicators left out.
func (r *Report) Skipped() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

// Options control Collect.
type Options struct {
	// Now is the time validity is judged at. Required: nothing here reads the clock.
	Now time.Time
	// Internal says the export stays inside the viewer's organisation (its own sensors). Without it
	// the export is treated as leaving the organisation, and TLP:AMBER+STRICT and TLP:RED objects
	// are left out (docs/EXPORT.md, "TLP").
	Internal bool
	// DefaultTLP is the level of an object the store did not label and that has no TLP marking
	// (policy.DefaultTLP; TLPNone means TLP:AMBER).
	DefaultTLP stix.TLP
	// PII, when set, is the node's personal-data policy, applied to every indicator before anything
	// of it is used.
	PII *pii.Policy
	// MaxIndicators bounds the indicators held (0: DefaultMaxIndicators).
	MaxIndicators int
	// MaxObjects bounds the objects CollectObjects holds (0: DefaultMaxObjects).
	MaxObjects int
}

// DefaultMaxIndicators is the default bound of Options.MaxIndicators.
const DefaultMaxIndicators = 2_000_000

// Set is the indicators to export, sorted by id, with the report of how they were chosen.
type Set struct {
	Indicators []Indicator
	Report     Report
}

// indicatorDoc is the part of an indicator Collect reads.
type indicatorDoc struct {
	Type              string            `json:"type"`
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Pattern           string            `json:"pattern"`
	PatternType       string            `json:"pattern_type"`
	ValidFrom         string            `json:"valid_from"`
	ValidUntil        string            `json:"valid_until"`
	Revoked           bool              `json:"revoked"`
	ObjectMarkingRefs []string          `json:"object_marking_refs"`
	GranularMarkings  []granularMarking `json:"granular_markings"`
}

type granularMarking struct {
	MarkingRef string `json:"marking_ref"`
}

// ErrTooMany is returned when more indicators are active than Options.MaxIndicators (Collect), or
// more objects may leave than Options.MaxObjects (CollectObjects).
var ErrTooMany = errors.New("too many to export")

// Collect reads versions (already filtered by the policy for the viewer) and returns the active
// indicators to export. Several versions of one id keep the latest. An error of the sequence ends
// Collect with that error.
func Collect(ctx context.Context, versions iter.Seq2[store.Version, error], o Options) (*Set, error) {
	if o.Now.IsZero() {
		return nil, errors.New("export: Options.Now is not set")
	}
	limit := o.MaxIndicators
	if limit <= 0 {
		limit = DefaultMaxIndicators
	}
	set := &Set{}
	var err error
	set.Indicators, err = latest(ctx, versions, &set.Report, limit, "active indicators", o.indicator,
		func(ind *Indicator) (string, string) { return ind.ID, ind.Modified })
	if err != nil {
		return nil, err
	}
	rep := &set.Report
	for _, ind := range set.Indicators {
		rep.Values += len(ind.Values)
	}
	rep.Exported = len(set.Indicators)
	return set, nil
}

// latest reads versions and keeps, of each id, the latest version that decide lets leave, sorted
// by id; the others are counted in rep by reason. key gives a kept item's id and modified time. At
// most limit items are kept (else ErrTooMany, naming what).
func latest[T any](ctx context.Context, versions iter.Seq2[store.Version, error], rep *Report, limit int, what string,
	decide func(*store.Version) (T, Reason, string, bool), key func(*T) (id, modified string)) ([]T, error) {
	var out []T
	byID := map[string]int{} // index in out
	keys := map[string]string{}
	for v, err := range versions {
		if err != nil {
			return nil, fmt.Errorf("export: reading %s: %w", what, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		rep.Read++
		item, reason, detail, redacted := decide(&v)
		if reason != "" {
			rep.skip(v.ID, reason, detail)
			continue
		}
		if redacted {
			rep.Redacted++
		}
		if i, ok := byID[v.ID]; ok {
			if keys[v.ID] >= v.VersionKey {
				rep.skip(v.ID, ReasonSuperseded, v.Modified)
				continue
			}
			_, modified := key(&out[i])
			rep.skip(v.ID, ReasonSuperseded, modified)
			out[i] = item
			keys[v.ID] = v.VersionKey
			continue
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("export: %w: more than %d %s", ErrTooMany, limit, what)
		}
		byID[v.ID] = len(out)
		keys[v.ID] = v.VersionKey
		out = append(out, item)
	}
	slices.SortFunc(out, func(a, b T) int {
		ida, _ := key(&a)
		idb, _ := key(&b)
		return strings.Compare(ida, idb)
	})
	return out, nil
}

// indicator turns one version into an Indicator, or says why not.
func (o *Options) indicator(v *store.Version) (ind Indicator, reason Reason, detail string, redacted bool) {
	if v.Type != "indicator" {
		return ind, ReasonNotIndicator, v.Type, false
	}
	if v.Revoked {
		return ind, ReasonRevoked, "", false
	}
	raw := v.Raw
	var doc indicatorDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ind, ReasonInvalid, "not a JSON object", false
	}
	if doc.Revoked {
		return ind, ReasonRevoked, "", false
	}
	if doc.PatternType != "" && doc.PatternType != "stix" {
		return ind, ReasonNotSTIX, doc.PatternType, false
	}
	from, err1 := optTime(doc.ValidFrom)
	until, err2 := optTime(doc.ValidUntil)
	if err1 != nil || err2 != nil {
		return ind, ReasonInvalid, "bad valid_from or valid_until", false
	}
	if !from.IsZero() && from.After(o.Now) {
		return ind, ReasonNotYetValid, doc.ValidFrom, false
	}
	if !until.IsZero() && !until.After(o.Now) {
		return ind, ReasonExpired, doc.ValidUntil, false
	}
	tlp := tlpOf(v, doc.ObjectMarkingRefs, doc.GranularMarkings, o.DefaultTLP)
	if !o.Internal && tlp >= stix.TLPAmberStrict {
		return ind, ReasonTLP, tlp.String(), false
	}
	if o.PII != nil {
		out, findings, err := pii.Apply(raw, *o.PII)
		if err != nil {
			return ind, ReasonPersonal, findingsDetail(findings), false
		}
		for _, f := range findings {
			if f.Path == "/pattern" {
				return ind, ReasonPersonalPat, string(f.Rule), false
			}
		}
		if len(findings) > 0 {
			redacted = true
			doc = indicatorDoc{}
			if err := json.Unmarshal(out, &doc); err != nil {
				return ind, ReasonInvalid, "the guarded copy is not a JSON object", false
			}
		}
	}
	p, err := pattern.Compile(doc.Pattern)
	if err != nil {
		return ind, ReasonBadPattern, err.Error(), false
	}
	values, reason, detail := valuesOf(p)
	if reason != "" {
		return ind, reason, detail, false
	}
	return Indicator{ID: v.ID, Modified: v.Modified, Name: doc.Name, CreatedByRef: v.CreatedByRef,
		ValidFrom: doc.ValidFrom, ValidUntil: doc.ValidUntil, TLP: tlp, Values: values}, "", "", redacted
}

func findingsDetail(fs []pii.Finding) string {
	if len(fs) == 0 {
		return "unreadable"
	}
	return fmt.Sprintf("%d findings, first %s", len(fs), fs[0])
}

// tlpOf is the TLP the store labelled the version with, else its most restrictive TLP marking,
// else the default.
func tlpOf(v *store.Version, objectMarkings []string, granular []granularMarking, def stix.TLP) stix.TLP {
	if v.Label.Cell != store.NoLabelCell {
		if t := stix.TLP(v.Label.Cell & 7); t >= stix.TLPClear && t <= stix.TLPRed {
			return t
		}
	}
	refs := slices.Clone(objectMarkings)
	for _, g := range granular {
		refs = append(refs, g.MarkingRef)
	}
	if t := stix.MaxTLP(refs); t != stix.TLPNone {
		return t
	}
	if def == stix.TLPNone || def > stix.TLPRed {
		return stix.TLPAmber
	}
	return def
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

// valuesOf takes the values of a pattern that is only "any of these values": observation
// expressions joined by OR, each a comparison or comparisons joined by OR, each an = or IN (or an
// ISSUBSET of an address value) on a supported path. Anything else gives ReasonComplex.
func valuesOf(p *pattern.Pattern) ([]Value, Reason, string) {
	if why := simple(p.Root()); why != "" {
		return nil, ReasonComplex, why
	}
	var vals []Value
	for _, k := range p.IndexKeys() {
		kind, ok := kindOf(k.ObjectType, k.Steps)
		if !ok || k.Kind != pattern.KindString {
			return nil, ReasonComplex, k.Comparison.String()
		}
		v, ok := normalise(kind, k.Value)
		if !ok {
			return nil, ReasonBadValue, kind.String()
		}
		vals = append(vals, v)
	}
	for _, c := range p.Comparisons() {
		if c.Op != pattern.OpIsSubset {
			continue
		}
		v, ok := normalise(KindCIDR, c.Value.Str)
		if !ok {
			return nil, ReasonBadValue, "cidr"
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return nil, ReasonComplex, "no value"
	}
	slices.SortFunc(vals, compareValues)
	return slices.Compact(vals), "", ""
}

func compareValues(a, b Value) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	return strings.Compare(a.Value, b.Value)
}

// simple returns "" when x is only ORs of supported comparisons, else the first thing that is not.
func simple(x pattern.ObsExpr) string {
	switch x := x.(type) {
	case *pattern.ObsLeaf:
		return simpleCmp(x.Cmp)
	case *pattern.ObsOr:
		for _, y := range x.Xs {
			if why := simple(y); why != "" {
				return why
			}
		}
		return ""
	case *pattern.ObsAnd:
		return "observations joined by AND"
	case *pattern.ObsFollowedBy:
		return "FOLLOWEDBY"
	case *pattern.ObsQualified:
		return "a qualifier (WITHIN, REPEATS, START/STOP)"
	}
	return "unknown expression"
}

func simpleCmp(x pattern.CmpExpr) string {
	switch x := x.(type) {
	case *pattern.Comparison:
		if x.Negated {
			return x.String()
		}
		kind, ok := kindOf(x.Path.ObjectType, x.Path.Steps)
		if !ok {
			return x.String()
		}
		switch x.Op {
		case pattern.OpEq, pattern.OpIn:
			return ""
		case pattern.OpIsSubset:
			if kind == KindIPv4 || kind == KindIPv6 {
				return ""
			}
		}
		return x.String()
	case *pattern.CmpOr:
		for _, y := range x.Xs {
			if why := simpleCmp(y); why != "" {
				return why
			}
		}
		return ""
	case *pattern.CmpAnd:
		return "comparisons joined by AND"
	}
	return "unknown comparison"
}

// kindOf maps an object path to the kind of its values.
func kindOf(typ string, steps []pattern.Step) (Kind, bool) {
	if len(steps) == 1 && !steps[0].IsIndex && steps[0].Key == "value" {
		switch typ {
		case "ipv4-addr":
			return KindIPv4, true
		case "ipv6-addr":
			return KindIPv6, true
		case "domain-name":
			return KindDomain, true
		case "url":
			return KindURL, true
		case "email-addr":
			return KindEmail, true
		}
	}
	if typ == "file" && len(steps) == 2 && !steps[0].IsIndex && steps[0].Key == "hashes" && !steps[1].IsIndex {
		switch strings.ToUpper(strings.ReplaceAll(steps[1].Key, "-", "")) {
		case "MD5":
			return KindMD5, true
		case "SHA1":
			return KindSHA1, true
		case "SHA256":
			return KindSHA256, true
		}
	}
	return 0, false
}

// normalise checks a value of a kind and returns it in its normal form. An address value with a
// prefix length is a CIDR (STIX allows them in ipv4-addr and ipv6-addr values); a full-length prefix
// is the address.
func normalise(kind Kind, s string) (Value, bool) {
	switch kind {
	case KindIPv4, KindIPv6, KindCIDR:
		if strings.Contains(s, "/") {
			pfx, err := netip.ParsePrefix(s)
			if err != nil || (kind == KindIPv4 && !pfx.Addr().Is4()) || (kind == KindIPv6 && !pfx.Addr().Is6()) {
				return Value{}, false
			}
			pfx = pfx.Masked()
			if pfx.IsSingleIP() {
				return addrValue(pfx.Addr())
			}
			return Value{KindCIDR, pfx.String()}, true
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || (kind == KindIPv4 && !a.Is4()) || (kind == KindIPv6 && !a.Is6()) {
			return Value{}, false
		}
		return addrValue(a)
	case KindDomain:
		d := strings.ToLower(strings.TrimSuffix(s, "."))
		return Value{kind, d}, validDomain(d)
	case KindURL:
		return Value{kind, s}, validURL(s)
	case KindEmail:
		local, domain, ok := strings.Cut(s, "@")
		return Value{kind, s}, ok && local != "" && len(s) <= 320 && printableASCII(local) && validDomain(strings.ToLower(domain))
	case KindMD5, KindSHA1, KindSHA256:
		h := strings.ToLower(s)
		n := map[Kind]int{KindMD5: 32, KindSHA1: 40, KindSHA256: 64}[kind]
		return Value{kind, h}, len(h) == n && isHex(h)
	}
	return Value{}, false
}

func addrValue(a netip.Addr) (Value, bool) {
	if a.Is4() {
		return Value{KindIPv4, a.String()}, true
	}
	if a.Is4In6() {
		return Value{KindIPv4, a.Unmap().String()}, true
	}
	return Value{KindIPv6, a.String()}, true
}

// validDomain accepts host names of LDH labels (and punycode), 1 to 63 characters each, 253 in all,
// at least two labels. Internationalised names must be given in their A-label form.
func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validURL accepts an absolute URL of printable ASCII with a scheme and a host, at most 8 KiB.
func validURL(s string) bool {
	if len(s) > 8<<10 || !printableASCII(s) {
		return false
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || rest == "" {
		return false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'))) {
			return false
		}
	}
	host, _, _ := urlHostPath(s)
	return host != ""
}

// urlHostPath splits an absolute URL into its host (without user info or port) and the rest from
// the first '/', '?' or '#' after the authority ("" when none).
func urlHostPath(s string) (host, port, path string) {
	_, rest, _ := strings.Cut(s, "://")
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	host = authority
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i >= 0 {
			host, port = host[:i+1], strings.TrimPrefix(host[i+1:], ":")
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = host[:i], host[i+1:]
	}
	return strings.ToLower(host), port, path
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
