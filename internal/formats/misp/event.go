package misp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound what the decoders accept. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxBytes      int64 // bytes of one input (an event file, a manifest, a galaxy file)
	MaxEvents     int   // events in one input
	MaxAttributes int   // attributes in one event, object attributes included
	MaxObjects    int   // MISP objects in one event
	MaxTags       int   // tags on one event or attribute
	MaxValueBytes int   // bytes of one attribute value
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxBytes:      512 << 20,
	MaxEvents:     10000,
	MaxAttributes: 1 << 20,
	MaxObjects:    1 << 18,
	MaxTags:       1024,
	MaxValueBytes: 1 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxEvents > 0 {
		d.MaxEvents = l.MaxEvents
	}
	if l.MaxAttributes > 0 {
		d.MaxAttributes = l.MaxAttributes
	}
	if l.MaxObjects > 0 {
		d.MaxObjects = l.MaxObjects
	}
	if l.MaxTags > 0 {
		d.MaxTags = l.MaxTags
	}
	if l.MaxValueBytes > 0 {
		d.MaxValueBytes = l.MaxValueBytes
	}
	return d
}

// ErrLimit is wrapped by every error that reports an exceeded limit.
var ErrLimit = errors.New("limit exceeded")

// ErrFormat is wrapped by errors in the shape of the input (not JSON, not a MISP event).
var ErrFormat = errors.New("not a MISP event")

// Flex is a MISP scalar that may come as a JSON string, number or boolean ("3", 3, true): it keeps
// the text (strings unquoted, other literals as written). null gives "".
type Flex string

// UnmarshalJSON implements json.Unmarshaler.
func (f *Flex) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("expected a string, number or boolean, found %s", jsontext.Value(b).Kind())
	case string(b) == "null":
		*f = ""
	default:
		*f = Flex(b)
	}
	return nil
}

// Bool reads a MISP boolean: true, "1", 1, "true".
func (f Flex) Bool() bool {
	switch f {
	case "true", "1", "True":
		return true
	}
	return false
}

// Int reads a MISP integer; ok is false when absent or not an integer.
func (f Flex) Int() (int64, bool) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	return n, err == nil
}

// Event is a MISP core-format event: what renkei reads of it.
type Event struct {
	UUID             string        `json:"uuid"`
	Info             string        `json:"info"`
	Date             string        `json:"date"`
	Timestamp        Flex          `json:"timestamp,omitempty"`
	PublishTimestamp Flex          `json:"publish_timestamp,omitempty"`
	Published        Flex          `json:"published,omitempty"`
	ThreatLevelID    Flex          `json:"threat_level_id,omitempty"`
	Analysis         Flex          `json:"analysis,omitempty"`
	Distribution     Flex          `json:"distribution,omitempty"`
	SharingGroupID   Flex          `json:"sharing_group_id,omitempty"`
	Orgc             *Org          `json:"Orgc,omitempty"`
	Org              *Org          `json:"Org,omitempty"`
	Attribute        []Attribute   `json:"Attribute,omitempty"`
	Object           []Object      `json:"Object,omitempty"`
	Tag              []Tag         `json:"Tag,omitempty"`
	Galaxy           []EventGalaxy `json:"Galaxy,omitempty"`
	SharingGroup     *SharingGroup `json:"SharingGroup,omitempty"`
	EventReport      []EventReport `json:"EventReport,omitempty"`
}

// EventReport is a MISP event report: a Markdown document attached to an event. Convert writes
// each as a note on the event's report (docs/MISP.md); ExportEvent writes those notes back as event
// reports, and the STIX reports other than the event's too.
type EventReport struct {
	UUID           string `json:"uuid"`
	Name           string `json:"name"`
	Content        string `json:"content"`
	Distribution   Flex   `json:"distribution,omitempty"`
	SharingGroupID Flex   `json:"sharing_group_id,omitempty"`
	Timestamp      Flex   `json:"timestamp,omitempty"`
	Deleted        Flex   `json:"deleted,omitempty"`
}

// Org is a MISP organisation.
type Org struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
}

// Attribute is a MISP attribute.
type Attribute struct {
	UUID           string        `json:"uuid"`
	Type           string        `json:"type"`
	Category       string        `json:"category"`
	Value          string        `json:"value"`
	ToIDs          Flex          `json:"to_ids"`
	Comment        string        `json:"comment,omitempty"`
	Timestamp      Flex          `json:"timestamp,omitempty"`
	FirstSeen      string        `json:"first_seen,omitempty"`
	LastSeen       string        `json:"last_seen,omitempty"`
	Distribution   Flex          `json:"distribution,omitempty"`
	SharingGroupID Flex          `json:"sharing_group_id,omitempty"`
	ObjectRelation string        `json:"object_relation,omitempty"`
	Deleted        Flex          `json:"deleted,omitempty"`
	Tag            []Tag         `json:"Tag,omitempty"`
	Galaxy         []EventGalaxy `json:"Galaxy,omitempty"`
	Sighting       []Sighting    `json:"Sighting,omitempty"`
}

// Object is a MISP object: attributes grouped by a template.
type Object struct {
	UUID            string            `json:"uuid"`
	Name            string            `json:"name"`
	MetaCategory    string            `json:"meta-category"`
	Comment         string            `json:"comment,omitempty"`
	Timestamp       Flex              `json:"timestamp,omitempty"`
	Distribution    Flex              `json:"distribution,omitempty"`
	SharingGroupID  Flex              `json:"sharing_group_id,omitempty"`
	Deleted         Flex              `json:"deleted,omitempty"`
	Attribute       []Attribute       `json:"Attribute,omitempty"`
	ObjectReference []ObjectReference `json:"ObjectReference,omitempty"`
}

// ObjectReference links an object to another object or attribute.
type ObjectReference struct {
	UUID             string `json:"uuid"`
	ObjectUUID       string `json:"object_uuid"`
	ReferencedUUID   string `json:"referenced_uuid"`
	RelationshipType string `json:"relationship_type"`
	Comment          string `json:"comment,omitempty"`
	Timestamp        Flex   `json:"timestamp,omitempty"`
}

// Tag is a MISP tag.
type Tag struct {
	Name string `json:"name"`
}

// EventGalaxy is a MISP galaxy attached to an event or attribute, with its clusters.
type EventGalaxy struct {
	UUID          string    `json:"uuid"`
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	GalaxyCluster []Cluster `json:"GalaxyCluster,omitempty"`
}

// Sighting is a MISP sighting of an attribute.
type Sighting struct {
	UUID         string `json:"uuid"`
	Type         Flex   `json:"type"` // 0 sighting, 1 false positive, 2 expiration
	DateSighting Flex   `json:"date_sighting,omitempty"`
	Source       string `json:"source,omitempty"`
	Organisation *Org   `json:"Organisation,omitempty"`
}

// SharingGroup is the sharing group an event or attribute is distributed to.
type SharingGroup struct {
	UUID             string            `json:"uuid"`
	Name             string            `json:"name"`
	Modified         string            `json:"modified,omitempty"`
	Organisation     *Org              `json:"Organisation,omitempty"`
	SharingGroupOrg  []SharingGroupOrg `json:"SharingGroupOrg,omitempty"`
	OrganisationUUID string            `json:"organisation_uuid,omitempty"`
}

// SharingGroupOrg is one member organisation of a sharing group.
type SharingGroupOrg struct {
	Organisation *Org `json:"Organisation,omitempty"`
}

// DecodeEvents reads MISP events: one event ({"Event": {…}} or the bare event object), a JSON array
// of them, or a MISP API response ({"response": [...]}). The whole input is bounded by
// Limits.MaxBytes; events, attributes, objects and tags by the other limits.
func DecodeEvents(r io.Reader, lim Limits) ([]*Event, error) {
	lim = lim.withDefaults()
	data, err := readLimited(r, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	return decodeEventsBytes(data, lim)
}

// readLimited reads all of r, failing with ErrLimit beyond max bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("misp: read: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("misp: input is larger than %d bytes: %w", max, ErrLimit)
	}
	return data, nil
}

type wrapped struct {
	Event    *jsontext.Value  `json:"Event"`
	Response []jsontext.Value `json:"response"`
}

func decodeEventsBytes(data []byte, lim Limits) ([]*Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("misp: empty input: %w", ErrFormat)
	}
	var raws []jsontext.Value
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &raws); err != nil {
			return nil, fmt.Errorf("misp: %w: %w", ErrFormat, err)
		}
	case '{':
		raws = []jsontext.Value{data}
	default:
		return nil, fmt.Errorf("misp: input starts with %q, expected a JSON object or array: %w", data[0], ErrFormat)
	}
	var evs []*Event
	for i := 0; i < len(raws); i++ {
		var w wrapped
		if err := json.Unmarshal(raws[i], &w); err != nil {
			return nil, fmt.Errorf("misp: item %d: %w: %w", i, ErrFormat, err)
		}
		switch {
		case w.Response != nil:
			raws = append(raws, w.Response...)
			continue
		case w.Event != nil:
			raws[i] = *w.Event
		}
		if len(evs) == lim.MaxEvents {
			return nil, fmt.Errorf("misp: more than %d events: %w", lim.MaxEvents, ErrLimit)
		}
		ev := new(Event)
		if err := json.Unmarshal(raws[i], ev); err != nil {
			return nil, fmt.Errorf("misp: event %d: %w: %w", len(evs), ErrFormat, err)
		}
		if err := ev.check(lim); err != nil {
			return nil, fmt.Errorf("misp: event %d: %w", len(evs), err)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("misp: no event found: %w", ErrFormat)
	}
	return evs, nil
}

// check verifies the required fields and the limits of a decoded event.
func (ev *Event) check(lim Limits) error {
	if ev.UUID == "" {
		return fmt.Errorf("event has no uuid (is this a MISP event? expected {\"Event\": {\"uuid\": …}}): %w", ErrFormat)
	}
	if !validUUID(ev.UUID) {
		return fmt.Errorf("event uuid %q is not a UUID: %w", ev.UUID, ErrFormat)
	}
	if len(ev.Object) > lim.MaxObjects {
		return fmt.Errorf("event %s has %d objects, more than the limit of %d: %w", ev.UUID, len(ev.Object), lim.MaxObjects, ErrLimit)
	}
	if len(ev.Tag) > lim.MaxTags {
		return fmt.Errorf("event %s has %d tags, more than the limit of %d: %w", ev.UUID, len(ev.Tag), lim.MaxTags, ErrLimit)
	}
	n := len(ev.Attribute)
	for _, o := range ev.Object {
		n += len(o.Attribute)
	}
	if n > lim.MaxAttributes {
		return fmt.Errorf("event %s has %d attributes, more than the limit of %d: %w", ev.UUID, n, lim.MaxAttributes, ErrLimit)
	}
	checkAttr := func(a *Attribute) error {
		if len(a.Value) > lim.MaxValueBytes {
			return fmt.Errorf("event %s attribute %s: value of %d bytes, more than the limit of %d: %w", ev.UUID, a.UUID, len(a.Value), lim.MaxValueBytes, ErrLimit)
		}
		if len(a.Tag) > lim.MaxTags {
			return fmt.Errorf("event %s attribute %s has %d tags, more than the limit of %d: %w", ev.UUID, a.UUID, len(a.Tag), lim.MaxTags, ErrLimit)
		}
		return nil
	}
	for i := range ev.Attribute {
		if err := checkAttr(&ev.Attribute[i]); err != nil {
			return err
		}
	}
	for i := range ev.Object {
		for j := range ev.Object[i].Attribute {
			if err := checkAttr(&ev.Object[i].Attribute[j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// validUUID checks the canonical text form of a UUID (any case).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
