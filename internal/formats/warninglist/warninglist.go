// Package warninglist owns MISP warninglists: lists of values that are known to be benign or too common
// to be useful indicators (public DNS resolvers, private address ranges, the most visited sites, the
// hashes of empty files...). It loads them from their JSON form and answers, fast, "is this value on a
// warninglist, and which one?". It never drops anything: callers flag the indicator with the list's name.
//
// # API
//
//	set, err := warninglist.Load(ctx, os.DirFS(dir), warninglist.Options{Logger: log})
//	hits := set.Check(stix.ObsIPv4, "8.8.8.8") // []Hit{{ListName: "List of known IPv4 public DNS resolvers", ...}}
//
// Load reads every file named list.json under the root of an fs.FS (the layout of the MISP
// misp-warninglists repository: lists/<slug>/list.json); LoadDir does the same for a directory.
// Parse reads one list; NewSet indexes lists built by hand. A Set is immutable and safe for concurrent
// use.
//
// # Kinds
//
// Check takes the kind of the value as an observable kind of package stix ("ipv4-addr", "ipv6-addr",
// "domain-name", "url", "email-addr", "hash:MD5", "hash:SHA-1", "hash:SHA-256", ...) or as a MISP
// attribute type ("ip-dst", "domain", "md5", ...). A list applies to a value when its
// matching_attributes name one of the MISP attribute types of the kind (see misptypes in kinds.go),
// or when it has no matching_attributes (MISP applies such lists to every attribute).
//
// # Matching, by list type
//
//   - cidr: the entries are addresses or CIDR blocks (IPv4 and IPv6). An address matches when a block
//     contains it; a CIDR block value matches when a list block contains all of it. A url whose host
//     is an IP literal is checked by its host. Index: one hash map per prefix length in use, so a
//     lookup costs one map probe per distinct prefix length (real lists use a handful: /32, /8, /12,
//     /16, /24, /128...). This needs no dependency; github.com/gaissmai/bart would only pay off with
//     many distinct lengths, and the brief bounded the dependencies we add.
//   - hostname: the entries are host names. A host matches an entry equal to it or to one of its
//     parent domains, on label boundaries ("www.google.com" matches "google.com"; "notgoogle.com"
//     does not). A url is checked by its host, an e-mail address by its domain. Entries are lower-cased,
//     with a leading "*." or "." and a trailing "." removed.
//   - string: exact match of the whole value. For kinds whose values are case-insensitive (hashes,
//     domains, e-mail addresses) both sides are lower-cased.
//   - substring: the value contains the entry, ignoring ASCII case. The check is linear in the number
//     of substring entries (real substring lists hold at most a few hundred).
//   - regex: entries are Go (RE2) regular expressions; the MISP form "/.../flags" is accepted, with the
//     "i" flag. Entries RE2 cannot compile (PCRE look-arounds, back-references) are skipped and listed
//     in List.Skipped, and logged. Each regex is tried in turn.
//
// Entries a list's type cannot use (an invalid CIDR block, an empty string) are skipped the same way;
// they never make Load fail. A file that is not a valid warninglist (bad JSON, an unknown member, a
// missing required member, an unknown type, over a limit) does, with an error naming the file.
package warninglist

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json"
)

// Type is the matching type of a warninglist.
type Type string

// The warninglist types of the MISP schema.
const (
	TypeString    Type = "string"
	TypeSubstring Type = "substring"
	TypeHostname  Type = "hostname"
	TypeCIDR      Type = "cidr"
	TypeRegex     Type = "regex"
)

// List is one warninglist.
type List struct {
	Name               string
	Description        string
	Version            int64
	Type               Type
	MatchingAttributes []string // MISP attribute types; empty means every type
	Entries            []string // as in the file
	// Source is where the list was read from: the path of its file inside the fs.FS, or the name given
	// to Parse. Its folder is the list's short name in MISP ("public-dns-v4").
	Source string
	// Skipped lists the entries that could not be used, with the reason, at most MaxSkippedListed of
	// them; SkippedCount counts them all.
	Skipped      []string
	SkippedCount int
}

// MaxSkippedListed bounds List.Skipped.
const MaxSkippedListed = 20

// Hit says that a value is on a warninglist.
type Hit struct {
	ListName string // the list's name, such as "List of known IPv4 public DNS resolvers"
	Source   string // List.Source of the list
	Type     Type
	Entry    string // the entry that matched, as written in the list
}

// Limits bound what Parse and Load accept.
type Limits struct {
	MaxFileBytes int64 // size of one list file
	MaxEntries   int   // entries of one list
	MaxLists     int   // lists in one Load
	MaxTotal     int   // entries over all the lists of one Load
}

// DefaultLimits are generous for the misp-warninglists repository (its lists hold up to a few
// hundred thousand entries) and bound what a bad file can make us load.
var DefaultLimits = Limits{MaxFileBytes: 128 << 20, MaxEntries: 4 << 20, MaxLists: 1024, MaxTotal: 16 << 20}

// ErrInvalid is wrapped by every error about a list file that is not a valid warninglist.
var ErrInvalid = errors.New("invalid warninglist")

// ErrLimit is wrapped by every error about a list or a set over one of its Limits.
var ErrLimit = errors.New("warninglist over a limit")

// fileList is a list file's JSON, as the MISP schema defines it.
type fileList struct {
	Name               *string  `json:"name"`
	Version            *int64   `json:"version"`
	Description        *string  `json:"description"`
	Type               *string  `json:"type"`
	List               []string `json:"list"`
	MatchingAttributes []string `json:"matching_attributes"`
}

// Parse reads one warninglist. source names it in errors and in Hit.Source. Zero limits mean
// DefaultLimits' values.
func Parse(r io.Reader, source string, lim Limits) (*List, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("warninglist %s: read: %w", source, err)
	}
	if int64(len(data)) > lim.MaxFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrLimit, source, lim.MaxFileBytes)
	}
	var f fileList
	if err := json.Unmarshal(data, &f, json.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, source, err)
	}
	var missing []string
	for _, m := range []struct {
		name string
		ok   bool
	}{{"name", f.Name != nil}, {"version", f.Version != nil}, {"description", f.Description != nil},
		{"type", f.Type != nil}, {"list", f.List != nil}} {
		if !m.ok {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s: missing required member(s) %s", ErrInvalid, source, strings.Join(missing, ", "))
	}
	t := Type(*f.Type)
	switch t {
	case TypeString, TypeSubstring, TypeHostname, TypeCIDR, TypeRegex:
	default:
		return nil, fmt.Errorf("%w: %s: type %q is not one of string, substring, hostname, cidr, regex", ErrInvalid, source, *f.Type)
	}
	if len(f.List) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %s holds %d entries, more than the limit of %d", ErrLimit, source, len(f.List), lim.MaxEntries)
	}
	return &List{
		Name:               *f.Name,
		Description:        *f.Description,
		Version:            *f.Version,
		Type:               t,
		MatchingAttributes: f.MatchingAttributes,
		Entries:            f.List,
		Source:             source,
	}, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxLists <= 0 {
		l.MaxLists = DefaultLimits.MaxLists
	}
	if l.MaxTotal <= 0 {
		l.MaxTotal = DefaultLimits.MaxTotal
	}
	return l
}

func (l *List) skip(entry, reason string) {
	l.SkippedCount++
	if len(l.Skipped) < MaxSkippedListed {
		l.Skipped = append(l.Skipped, fmt.Sprintf("%q: %s", entry, reason))
	}
}
