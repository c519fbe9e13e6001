package match

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// HitRecord is one hit as renkei writes it, one JSON object per line.
type HitRecord struct {
	Line       int64    `json:"line"`
	Offset     int64    `json:"offset"`
	Time       string   `json:"time,omitempty"` // RFC 3339, UTC; absent when the line has no time
	Kind       string   `json:"kind"`
	Value      string   `json:"value"`
	Indicators []string `json:"indicators"` // ids, ascending
}

// Record returns the record of a hit for refs (a subset of h.Refs, e.g. those one viewer may see).
func (c *Compiled) Record(h *Hit, refs []uint32) HitRecord {
	r := HitRecord{Line: h.Line, Offset: h.Offset, Kind: h.Kind.String(), Value: h.Value, Indicators: make([]string, 0, len(refs))}
	if !h.Time.IsZero() {
		r.Time = h.Time.UTC().Format(time.RFC3339Nano)
	}
	for _, ref := range refs {
		if id := c.Indicators.ID(ref); id != "" {
			r.Indicators = append(r.Indicators, id)
		}
	}
	slices.Sort(r.Indicators)
	r.Indicators = slices.Compact(r.Indicators)
	return r
}

// AppendJSON appends the record as one line of JSON, with its newline.
func (r *HitRecord) AppendJSON(dst []byte) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return dst, fmt.Errorf("hit on line %d: %w", r.Line, err)
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

// Sightings sums up hits per indicator, for STIX sighting objects.
type Sightings struct {
	by    map[string]*sighting
	order []string
}

type sighting struct {
	count       int64
	first, last time.Time
}

// maxSightingCount is the largest count STIX 2.1 allows (§4.14).
const maxSightingCount = 999_999_999

// Add counts one hit for each indicator of r, at time t (the hit's, or the time of the run when
// the line has none).
func (s *Sightings) Add(r *HitRecord, t time.Time) {
	if s.by == nil {
		s.by = map[string]*sighting{}
	}
	for _, id := range r.Indicators {
		g, ok := s.by[id]
		if !ok {
			g = &sighting{first: t, last: t}
			s.by[id] = g
			s.order = append(s.order, id)
		}
		g.count++
		if t.Before(g.first) {
			g.first = t
		}
		if t.After(g.last) {
			g.last = t
		}
	}
}

// Len returns the number of indicators sighted.
func (s *Sightings) Len() int { return len(s.order) }

// Objects returns one STIX 2.1 sighting per indicator sighted, in the order first sighted: its
// sighting_of_ref, count (at most 999999999), first_seen and last_seen, created_by_ref createdBy and
// where_sighted_refs [where]; created and modified are now.
func (s *Sightings) Objects(createdBy, where string, now time.Time) ([]json.RawMessage, error) {
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	out := make([]json.RawMessage, 0, len(s.order))
	for _, id := range s.order {
		g := s.by[id]
		obj := map[string]any{
			"type":            "sighting",
			"spec_version":    "2.1",
			"id":              "sighting--" + uuid.NewString(),
			"created":         ts(now),
			"modified":        ts(now),
			"sighting_of_ref": id,
			"count":           min(g.count, maxSightingCount),
			"first_seen":      ts(g.first),
			"last_seen":       ts(g.last),
		}
		if createdBy != "" {
			obj["created_by_ref"] = createdBy
		}
		if where != "" {
			obj["where_sighted_refs"] = []string{where}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("sighting of %s: %w", id, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Bundle returns the sightings as a STIX bundle.
func (s *Sightings) Bundle(createdBy, where string, now time.Time) ([]byte, error) {
	objs, err := s.Objects(createdBy, where, now)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": objs})
	if err != nil {
		return nil, fmt.Errorf("sightings bundle: %w", err)
	}
	return b, nil
}
