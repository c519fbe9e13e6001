package pattern

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"

	"github.com/renkei-cti/renkei/internal/stix"
)

// InputLimits bound what ReadObservations accepts.
type InputLimits struct {
	MaxBytes   int64 // size of the JSON text
	MaxObjects int   // STIX objects in it (bundles' objects counted one by one)
}

// DefaultInputLimits are the limits of ReadObservations.
var DefaultInputLimits = InputLimits{MaxBytes: 256 << 20, MaxObjects: 1 << 20}

// ErrInput is wrapped by every error about the JSON given to ReadObservations.
var ErrInput = errors.New("invalid observation input")

// ReadObservations reads JSON holding STIX objects, as a bundle, an array of bundles, an array of
// objects, or one object, and returns one Observation per observed-data object, in input order.
//
// STIX 2.1 observed-data (object_refs) gets the objects it references from the same input; a
// reference to an object that is not there is skipped (the pattern sees it as absent, spec 9.7.4).
// STIX 2.0 observed-data gets the objects of its objects dictionary, referenced by their keys.
// Objects that are not observed-data only serve as referenced objects.
//
// The input is read into memory (at most lim.MaxBytes) and its syntax checked; of observed-data
// only the members an Observation needs are decoded, and the objects' properties are the values
// encoding/json makes with UseNumber. The strings of the observations share that memory.
func ReadObservations(r io.Reader, lim InputLimits) ([]Observation, error) {
	data, err := readInput(r, lim)
	if err != nil {
		return nil, err
	}
	d := inputDecoder{lim: lim}
	if err := d.split(data); err != nil {
		return nil, err
	}
	return d.observations()
}

// ReadObjects reads JSON holding STIX objects (a bundle, an array of bundles, an array of objects,
// or one object) and returns the objects, decoded, with numbers as json.Number. Several inputs'
// objects can be joined and given to ObservationsFromObjects, so that observed-data in one
// references objects in another.
func ReadObjects(r io.Reader, lim InputLimits) ([]map[string]any, error) {
	data, err := readInput(r, lim)
	if err != nil {
		return nil, err
	}
	d := inputDecoder{lim: lim}
	if err := d.split(data); err != nil {
		return nil, err
	}
	return d.objects(), nil
}

// ObservationsFromObjects turns decoded STIX objects into observations, as ReadObservations does.
func ObservationsFromObjects(objs []map[string]any) ([]Observation, error) {
	byID := map[string]map[string]any{}
	for _, o := range objs {
		if id, ok := o["id"].(string); ok {
			if _, dup := byID[id]; !dup {
				byID[id] = o
			}
		}
	}
	ref := func(id string) (map[string]any, bool) {
		props, ok := byID[id]
		return props, ok
	}
	var out []Observation
	for i, o := range objs {
		if t, _ := o["type"].(string); t != "observed-data" {
			continue
		}
		ob, err := observationOf(observedProps{m: o}, ref)
		if err != nil {
			id, _ := o["id"].(string)
			return nil, observationError(id, i, err)
		}
		out = append(out, ob)
	}
	return out, nil
}

// observationError is the error about observed-data number i of the input (counting every object).
func observationError(id string, i int, err error) error {
	if id == "" {
		id = "object " + strconv.Itoa(i)
	}
	return fmt.Errorf("%w: observed-data %s: %w", ErrInput, id, err)
}

// observationOf makes the observation of observed-data o; ref gives the object of an id in the input.
func observationOf(o observedProps, ref func(id string) (map[string]any, bool)) (Observation, error) {
	var ob Observation
	if o.scratch != nil {
		ob.Objects = (*o.scratch)[:0] // the objects are gathered there, then copied (below)
	}
	ob.ID, _ = o.str(fieldID)
	ts := func(f int) (stix.Timestamp, error) {
		s, ok := o.str(f)
		if !ok {
			return stix.Timestamp{}, fmt.Errorf("%s is missing or not a string", fieldNames[f])
		}
		t, err := stix.ParseTimestamp(s)
		if err != nil {
			return stix.Timestamp{}, fmt.Errorf("%s: %w", fieldNames[f], err)
		}
		return t, nil
	}
	first, err := ts(fieldFirst)
	if err != nil {
		return ob, err
	}
	last, err := ts(fieldLast)
	if err != nil {
		return ob, err
	}
	if last.Time().Before(first.Time()) {
		return ob, fmt.Errorf("last_observed %s is before first_observed %s", last, first)
	}
	ob.First, ob.Last = first.Time(), last.Time()
	ob.Count = 1
	if n, ok := o.get(fieldCount); ok {
		i, _, isInt, ok := number(n)
		if !ok || !isInt || i < 1 || i > 999999999 {
			return ob, fmt.Errorf("number_observed %v is not an integer between 1 and 999,999,999", n)
		}
		ob.Count = int(i)
	}
	objects, _ := o.get(fieldObjects)
	if m, ok := objects.(map[string]any); ok {
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
	} else if objects != nil {
		return ob, errors.New("objects is not a JSON object")
	}
	err = o.refs(func(i int, id string, ok bool) error {
		if !ok {
			return fmt.Errorf("object_refs[%d] is not a string", i)
		}
		if props, ok := ref(id); ok {
			ob.Objects = append(ob.Objects, Object{Ref: id, Props: props})
		}
		return nil
	})
	if err != nil {
		return ob, err
	}
	if o.scratch != nil {
		gathered := ob.Objects
		*o.scratch = gathered[:0]
		ob.Objects = nil
		if len(gathered) > 0 {
			ob.Objects = slices.Clone(gathered)
		}
	}
	return ob, nil
}
