package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/renkei-cti/renkei/internal/stix"
)

// The encoding/json-based reading of observations that the fast decoder (input_decode.go)
// replaced, kept verbatim as the reference the differential tests compare it with.

// readObservationsReference is ReadObservations as it was: encoding/json into maps, then the
// observations built from them.
func readObservationsReference(r io.Reader, lim InputLimits) ([]Observation, error) {
	objs, err := readObjectsReference(r, lim)
	if err != nil {
		return nil, err
	}
	return observationsFromObjectsReference(objs)
}

func readObjectsReference(r io.Reader, lim InputLimits) ([]map[string]any, error) {
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read observations: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInput, lim.MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrInput, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrInput)
	}
	var objs []map[string]any
	add := func(v any, where string) error {
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: %s is not a JSON object", ErrInput, where)
		}
		if t, _ := o["type"].(string); t == "bundle" {
			list, ok := o["objects"].([]any)
			if o["objects"] != nil && !ok {
				return fmt.Errorf("%w: %s: the objects of a bundle must be an array", ErrInput, where)
			}
			for i, x := range list {
				m, ok := x.(map[string]any)
				if !ok {
					return fmt.Errorf("%w: %s.objects[%d] is not a JSON object", ErrInput, where, i)
				}
				objs = append(objs, m)
			}
		} else {
			objs = append(objs, o)
		}
		if len(objs) > lim.MaxObjects {
			return fmt.Errorf("%w: more than %d objects", ErrInput, lim.MaxObjects)
		}
		return nil
	}
	if list, ok := top.([]any); ok {
		for i, x := range list {
			if err := add(x, "["+strconv.Itoa(i)+"]"); err != nil {
				return nil, err
			}
		}
	} else if err := add(top, "the input"); err != nil {
		return nil, err
	}
	return objs, nil
}

// observationsFromObjectsReference is ObservationsFromObjects as it was: it turns decoded STIX objects into observations, as ReadObservations does.
func observationsFromObjectsReference(objs []map[string]any) ([]Observation, error) {
	byID := map[string]map[string]any{}
	for _, o := range objs {
		if id, ok := o["id"].(string); ok {
			if _, dup := byID[id]; !dup {
				byID[id] = o
			}
		}
	}
	var out []Observation
	for i, o := range objs {
		if t, _ := o["type"].(string); t != "observed-data" {
			continue
		}
		ob, err := observationOfReference(o, byID)
		if err != nil {
			id, _ := o["id"].(string)
			if id == "" {
				id = "object " + strconv.Itoa(i)
			}
			return nil, fmt.Errorf("%w: observed-data %s: %w", ErrInput, id, err)
		}
		out = append(out, ob)
	}
	return out, nil
}

func observationOfReference(o map[string]any, byID map[string]map[string]any) (Observation, error) {
	var ob Observation
	ob.ID, _ = o["id"].(string)
	ts := func(name string) (stix.Timestamp, error) {
		s, ok := o[name].(string)
		if !ok {
			return stix.Timestamp{}, fmt.Errorf("%s is missing or not a string", name)
		}
		t, err := stix.ParseTimestamp(s)
		if err != nil {
			return stix.Timestamp{}, fmt.Errorf("%s: %w", name, err)
		}
		return t, nil
	}
	first, err := ts("first_observed")
	if err != nil {
		return ob, err
	}
	last, err := ts("last_observed")
	if err != nil {
		return ob, err
	}
	if last.Time().Before(first.Time()) {
		return ob, fmt.Errorf("last_observed %s is before first_observed %s", last, first)
	}
	ob.First, ob.Last = first.Time(), last.Time()
	ob.Count = 1
	if n, ok := o["number_observed"]; ok {
		i, _, isInt, ok := number(n)
		if !ok || !isInt || i < 1 || i > 999999999 {
			return ob, fmt.Errorf("number_observed %v is not an integer between 1 and 999,999,999", n)
		}
		ob.Count = int(i)
	}
	if m, ok := o["objects"].(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			props, ok := m[k].(map[string]any)
			if !ok {
				return ob, fmt.Errorf("objects[%q] is not a JSON object", k)
			}
			ob.Objects = append(ob.Objects, Object{Ref: k, Props: props})
		}
	} else if o["objects"] != nil {
		return ob, errors.New("objects is not a JSON object")
	}
	if refs, ok := o["object_refs"].([]any); ok {
		for i, r := range refs {
			id, ok := r.(string)
			if !ok {
				return ob, fmt.Errorf("object_refs[%d] is not a string", i)
			}
			if props, ok := byID[id]; ok {
				ob.Objects = append(ob.Objects, Object{Ref: id, Props: props})
			}
		}
	} else if o["object_refs"] != nil {
		return ob, errors.New("object_refs is not an array")
	}
	return ob, nil
}
