// Package correlate answers "who else reported this value", from the store's observables index:
//   - for an object, or one value typed by an analyst (Query, ObjectValues, Lookup): the other
//     objects that carry the same IP address, domain, URL, e-mail address or hash, with counts and
//     first and last seen;
//   - for a report that need not be stored, a STIX bundle or a list of values (ReadInput, Check):
//     every value of it that stored objects carry, all looked up at once;
//   - for everything (All): one pass over the store that yields each value carried by two objects
//     or more, with its group.
//
// An IP address or CIDR block also finds the stored CIDR blocks that contain it. There is no
// pairwise correlation table: every question is a bulk read of the index, so nothing grows with
// the square of the data (MISP's pairwise table reached hundreds of gigabytes).
//
// The package knows nothing of viewers: the caller passes Options.Allow, which must be the sharing
// policy's read decision for the viewer (policy.CanVersion), and Options.Scope, which narrows the
// store's queries to what the viewer may read. An observable seen only in objects the viewer may not
// read is reported as not seen.
package correlate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
)

// Limits.
const (
	// MaxObservables bounds the values of one object that are correlated.
	MaxObservables = 4096
	// MaxPerValue bounds the objects listed for one value; Count says how many there were.
	MaxPerValue = 1000
)

// Options say for whom the question is asked.
type Options struct {
	// Scope narrows the store's queries to what the viewer may read; nil is the operator's view.
	Scope *store.ReadScope
	// Allow decides whether the viewer may read a form; nil allows all (the operator's view).
	Allow func(*store.Version) bool
	// PerValue bounds the objects listed for one value (0: MaxPerValue); they are counted up to
	// MaxPerValue whatever it is.
	PerValue int
}

// Object is an object that carries a value.
type Object struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	CreatedByRef string    `json:"created_by_ref,omitempty"`
	Stored       time.Time `json:"stored"`
}

// Value is one value and the objects that carry it.
type Value struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// Via is the value that was asked for when this one contains it (a CIDR block containing an
	// asked address); "" when it is the value itself.
	Via string `json:"via,omitempty"`
	// Count is how many objects the viewer may read carry the value, counted up to MaxPerValue
	// (More says there are more); Reporters is how many distinct creators they have (an object
	// without created_by_ref counts as one more), and Orgs lists those creators.
	Count     int      `json:"count"`
	More      bool     `json:"more,omitempty"`
	Reporters int      `json:"reporters"`
	Orgs      []string `json:"orgs,omitempty"`
	// FirstSeen and LastSeen are the earliest and latest times this node stored one of the
	// objects counted.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Objects lists the objects counted, by id; at most Options.PerValue of them (the first
	// stored).
	Objects []Object `json:"objects"`
}

// ErrUnknownValue: the value is not an IP address, CIDR block, domain, URL, e-mail address or hash.
var ErrUnknownValue = errors.New("not an IP address, CIDR block, domain, URL, e-mail address or hash")

// ObjectValues correlates every observable of an object's latest form: for each, the other objects
// that carry it. The object itself must be readable (else store.ErrNotFound, as for a missing one).
func ObjectValues(ctx context.Context, st store.Objects, id string, o Options) ([]Value, error) {
	vs, err := st.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	latest := &vs[len(vs)-1]
	for i := range vs {
		if vs[i].VersionKey > latest.VersionKey || vs[i].VersionKey == latest.VersionKey && vs[i].SpecVersion > latest.SpecVersion {
			latest = &vs[i]
		}
	}
	if o.Allow != nil && !o.Allow(latest) {
		return nil, fmt.Errorf("object %s: %w", id, store.ErrNotFound)
	}
	obj, err := stix.Decode(latest.Raw)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id, err)
	}
	pattern.AddObservables(obj)
	if len(obj.Observables) > MaxObservables {
		return nil, fmt.Errorf("object %s carries %d observables, more than the limit of %d", id, len(obj.Observables), MaxObservables)
	}
	answers, err := correlateValues(ctx, st, obj.Observables, func(other string) bool { return other == id }, o)
	if err != nil {
		return nil, err
	}
	var out []Value
	for _, a := range answers {
		out = append(append(out, a.direct), a.blocks...)
	}
	return out, nil
}

// Query correlates an object id (type--uuid) or, for anything else, a value (ParseValue).
func Query(ctx context.Context, st store.Objects, q string, o Options) ([]Value, error) {
	if typ, _, ok := strings.Cut(q, "--"); ok && typ != "" && !strings.ContainsAny(typ, ".:/@") {
		return ObjectValues(ctx, st, q, o)
	}
	ob, err := ParseValue(q)
	if err != nil {
		return nil, err
	}
	return Lookup(ctx, st, ob, o)
}

// ParseValue recognises a value typed by an analyst: an IP address or CIDR block, an e-mail
// address, a URL, a hash (by its length: MD5, SHA-1, SHA-256, SHA-512) or a domain name.
func ParseValue(s string) (stix.Observable, error) {
	s = strings.TrimSpace(s)
	kind := ""
	switch {
	case s == "":
	case strings.Contains(s, "://"):
		kind = stix.ObsURL
	case strings.Contains(s, "@"):
		kind = stix.ObsEmail
	default:
		if p, err := netip.ParsePrefix(s); err == nil {
			kind = ipKind(p.Addr())
		} else if a, err := netip.ParseAddr(s); err == nil {
			kind = ipKind(a)
		} else if alg := hashByLength(s); alg != "" {
			kind = stix.ObsHashKind + alg
		} else if strings.Contains(s, ".") && !strings.ContainsAny(s, " /\\") {
			kind = stix.ObsDomain
		}
	}
	if kind == "" {
		return stix.Observable{}, fmt.Errorf("%q: %w", s, ErrUnknownValue)
	}
	v, ok := stix.NormalizeObservable(kind, s)
	if !ok {
		return stix.Observable{}, fmt.Errorf("%q: %w", s, ErrUnknownValue)
	}
	return stix.Observable{Kind: kind, Value: v}, nil
}

// Lookup correlates one value: the objects that carry it, and for an IP address or block, the
// objects that carry a CIDR block containing it.
func Lookup(ctx context.Context, st store.Objects, ob stix.Observable, o Options) ([]Value, error) {
	answers, err := correlateValues(ctx, st, []stix.Observable{ob}, nil, o)
	if err != nil {
		return nil, err
	}
	return append([]Value{answers[0].direct}, answers[0].blocks...), nil
}

func ipKind(a netip.Addr) string {
	if a.Unmap().Is4() {
		return stix.ObsIPv4
	}
	return stix.ObsIPv6
}

func hashByLength(s string) string {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return ""
		}
	}
	switch len(s) {
	case 32:
		return "MD5"
	case 40:
		return "SHA-1"
	case 64:
		return "SHA-256"
	case 128:
		return "SHA-512"
	}
	return ""
}
