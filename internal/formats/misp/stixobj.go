package misp

import (
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/uuid"
)

// Namespace is the UUIDv5 namespace of the identifiers this package derives from content (the
// UUIDv5 of "https://github.com/renkei-cti/renkei/internal/formats/misp" in the URL namespace).
var Namespace = uuid.MustParse("00642ab6-d0bf-5681-a514-18a604de4766")

// stixTime is the format of every timestamp written: UTC, milliseconds.
const stixTime = "2006-01-02T15:04:05.000Z"

// fixedCreated is the created (and modified) time of identities made from MISP organisations, so
// that the same organisation gives the same bytes in every event.
const fixedCreated = "2000-01-01T00:00:00.000Z"

// fixedCreatedTime is fixedCreated as a time.
var fixedCreatedTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// sdo is every STIX domain, relationship and meta object this package writes, with its properties in
// a fixed order. Empty properties are left out.
type sdo struct {
	Type               string        `json:"type"`
	SpecVersion        string        `json:"spec_version"`
	ID                 string        `json:"id"`
	CreatedByRef       string        `json:"created_by_ref,omitempty"`
	Created            string        `json:"created"`
	Modified           string        `json:"modified"`
	Name               string        `json:"name,omitempty"`
	Description        string        `json:"description,omitempty"`
	IdentityClass      string        `json:"identity_class,omitempty"`
	ReportTypes        []string      `json:"report_types,omitempty"`
	Published          string        `json:"published,omitempty"`
	ThreatActorTypes   []string      `json:"threat_actor_types,omitempty"`
	Aliases            []string      `json:"aliases,omitempty"`
	Pattern            string        `json:"pattern,omitempty"`
	PatternType        string        `json:"pattern_type,omitempty"`
	PatternVersion     string        `json:"pattern_version,omitempty"`
	ValidFrom          string        `json:"valid_from,omitempty"`
	ValidUntil         string        `json:"valid_until,omitempty"`
	FirstObserved      string        `json:"first_observed,omitempty"`
	LastObserved       string        `json:"last_observed,omitempty"`
	NumberObserved     int           `json:"number_observed,omitzero"`
	Abstract           string        `json:"abstract,omitempty"`
	Content            string        `json:"content,omitempty"`
	RelationshipType   string        `json:"relationship_type,omitempty"`
	SourceRef          string        `json:"source_ref,omitempty"`
	TargetRef          string        `json:"target_ref,omitempty"`
	FirstSeen          string        `json:"first_seen,omitempty"`
	LastSeen           string        `json:"last_seen,omitempty"`
	Count              int           `json:"count,omitzero"`
	SightingOfRef      string        `json:"sighting_of_ref,omitempty"`
	WhereSightedRefs   []string      `json:"where_sighted_refs,omitempty"`
	ObjectRefs         []string      `json:"object_refs,omitempty"`
	Labels             []string      `json:"labels,omitempty"`
	ExternalReferences []externalRef `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string      `json:"object_marking_refs,omitempty"`
}

type externalRef struct {
	SourceName  string `json:"source_name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

// sco is every cyber-observable object this package writes.
type sco struct {
	Type              string            `json:"type"`
	SpecVersion       string            `json:"spec_version"`
	ID                string            `json:"id"`
	Value             string            `json:"value,omitempty"`
	Number            *int64            `json:"number,omitempty"`
	Name              string            `json:"name,omitempty"`
	Key               string            `json:"key,omitempty"`
	IsMultipart       *bool             `json:"is_multipart,omitempty"`
	Subject           string            `json:"subject,omitempty"`
	Size              *int64            `json:"size,omitempty"`
	Hashes            map[string]string `json:"hashes,omitempty"`
	Values            []regValue        `json:"values,omitempty"`
	ResolvesToRefs    []string          `json:"resolves_to_refs,omitempty"`
	SrcRef            string            `json:"src_ref,omitempty"`
	DstRef            string            `json:"dst_ref,omitempty"`
	SrcPort           *int64            `json:"src_port,omitempty"`
	DstPort           *int64            `json:"dst_port,omitempty"`
	Protocols         []string          `json:"protocols,omitempty"`
	ObjectMarkingRefs []string          `json:"object_marking_refs,omitempty"`
}

type regValue struct {
	Name string `json:"name,omitempty"`
	Data string `json:"data,omitempty"`
}

// marshal writes v compactly with sorted map keys.
func marshal(v any) ([]byte, error) {
	return json.Marshal(v, json.Deterministic(true))
}

// stixUUID returns the UUID a STIX id may use for a MISP uuid: the uuid in lower case when it is an
// RFC 4122 UUID of versions 1 to 8, else the UUIDv5 of it in Namespace.
func stixUUID(s string) string {
	l := strings.ToLower(s)
	if validUUID(l) && l[14] >= '1' && l[14] <= '8' && strings.IndexByte("89ab", l[19]) >= 0 {
		return l
	}
	return uuid.NewSHA1(Namespace, []byte("misp-uuid\x00"+s)).String()
}

// scoUUID returns the UUID an SCO made from a MISP uuid may use. STIX reserves UUIDv5 SCO ids for
// the deterministic id of the object's contributing properties, so a version-5 uuid (a MISP uuid
// derived from content, or one derived here) is replaced by a UUID of version 4 layout taken from
// its SHA-1 in Namespace: still the same for the same uuid.
func scoUUID(u string) string {
	if len(u) != 36 || u[14] != '5' {
		return u
	}
	h := uuid.NewSHA1(Namespace, []byte("sco\x00"+u))
	h[6] = h[6]&0x0f | 0x40
	return h.String()
}

// derivedUUID returns a UUIDv5 in Namespace of the parts.
func derivedUUID(parts ...string) string {
	return uuid.NewSHA1(Namespace, []byte(strings.Join(parts, "\x00"))).String()
}

// unixTime reads a MISP timestamp (seconds since the epoch).
func unixTime(f Flex) (time.Time, bool) {
	n, ok := f.Int()
	if !ok || n <= 0 || n > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// seenTime reads a MISP first_seen/last_seen or sighting date: RFC 3339, or seconds.
func seenTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if t, ok := unixTime(Flex(s)); ok {
		return t, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999-0700", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 1 && t.Year() <= 9999 {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func fmtTime(t time.Time) string { return t.UTC().Format(stixTime) }
