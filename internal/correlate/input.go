package correlate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// Limits of an Input.
const (
	// MaxInputValues bounds the distinct values of one input.
	MaxInputValues = 1 << 20
	// MaxInputObjects bounds the objects of one input.
	MaxInputObjects = 1 << 20
	// MaxFrom bounds the input objects listed as carrying one value.
	MaxFrom = 100
	// maxLine bounds a line of a list of values.
	maxLine = 64 << 10
)

// ErrInput: the input to check is not a STIX bundle, array or object, nor a list of values, or it
// is past a limit.
var ErrInput = errors.New("bad input")

// Input is what a report asks about: its distinct observable values, each with the ids of the
// report's objects that carry it. The report need not be stored. The zero Input is empty and ready.
type Input struct {
	vals  []stix.Observable
	index map[stix.Observable]int
	from  [][]string
	ids   map[string]bool // the input's objects
}

// Len returns the number of distinct values.
func (in *Input) Len() int { return len(in.vals) }

// Objects returns the number of distinct objects read.
func (in *Input) Objects() int { return len(in.ids) }

// Add adds a value carried by the input object from ("" for a bare value). The value must be
// normalised (ParseValue, stix.NormalizeObservable).
func (in *Input) Add(ob stix.Observable, from string) error {
	if err := in.object(from); err != nil {
		return err
	}
	i, ok := in.index[ob]
	if !ok {
		if len(in.vals) == MaxInputValues {
			return fmt.Errorf("%w: more than %d distinct values", ErrInput, MaxInputValues)
		}
		if in.index == nil {
			in.index = map[stix.Observable]int{}
		}
		i = len(in.vals)
		in.index[ob] = i
		in.vals = append(in.vals, ob)
		in.from = append(in.from, nil)
	}
	if from != "" && len(in.from[i]) < MaxFrom && (len(in.from[i]) == 0 || in.from[i][len(in.from[i])-1] != from) {
		in.from[i] = append(in.from[i], from)
	}
	return nil
}

// object records an object of the input.
func (in *Input) object(id string) error {
	if id == "" || in.ids[id] {
		return nil
	}
	if len(in.ids) == MaxInputObjects {
		return fmt.Errorf("%w: more than %d objects", ErrInput, MaxInputObjects)
	}
	if in.ids == nil {
		in.ids = map[string]bool{}
	}
	in.ids[id] = true
	return nil
}

// AddObject adds the observables of a decoded object: those of its SCOs and, for an indicator,
// the values its STIX pattern compares for equality, as the store indexes them.
func (in *Input) AddObject(obj *stix.Object) error {
	pattern.AddObservables(obj)
	return in.addDecoded(obj)
}

// addDecoded adds the observables of an object whose pattern's values were added already.
func (in *Input) addDecoded(obj *stix.Object) error {
	if err := in.object(obj.ID); err != nil {
		return err
	}
	for _, ob := range obj.Observables {
		if err := in.Add(ob, obj.ID); err != nil {
			return err
		}
	}
	return nil
}

// ReadInput reads a report to check: a STIX bundle (any JSON object with an "objects" array), a
// JSON array of objects or one object, decoded one object at a time; or else a list of values, one
// per line (blank lines and lines starting with # are skipped), each an IP address, CIDR block,
// domain, URL, e-mail address or hash (ParseValue). An invalid object or line is an error that
// says where it is.
func ReadInput(r io.Reader) (*Input, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		c, err := br.Peek(1)
		if err == io.EOF {
			return &Input{}, nil
		}
		if err != nil {
			return nil, err
		}
		switch c[0] {
		case ' ', '\t', '\r', '\n':
			if _, err := br.ReadByte(); err != nil {
				return nil, err
			}
			continue
		case '{', '[':
			return readSTIX(br)
		}
		return readLines(br)
	}
}

func readLines(r *bufio.Reader) (*Input, error) {
	in := &Input{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		ob, err := ParseValue(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrInput, n, err)
		}
		if err := in.Add(ob, ""); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: after line %d: %w", ErrInput, n, err)
	}
	return in, nil
}

// readSTIX reads a bundle, an array of objects or one object.
func readSTIX(r io.Reader) (*Input, error) {
	in := &Input{}
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true))
	index := 0
	pool := &decodePool{in: in, workers: runtime.GOMAXPROCS(0)}
	add := func(raw []byte) error {
		index++
		return pool.add(raw)
	}
	element := func() error {
		v, err := dec.ReadValue()
		if err != nil {
			return fmt.Errorf("%w: object %d: %w", ErrInput, index, err)
		}
		if len(v) > stix.DefaultLimits.MaxBytes {
			return fmt.Errorf("%w: object %d is %d bytes, more than the limit of %d", ErrInput, index, len(v), stix.DefaultLimits.MaxBytes)
		}
		return add(bytes.Clone(v))
	}
	array := func() error {
		if _, err := dec.ReadToken(); err != nil { // [
			return fmt.Errorf("%w: %w", ErrInput, err)
		}
		for dec.PeekKind() != ']' {
			if err := element(); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return fmt.Errorf("%w: %w", ErrInput, err)
		}
		return nil
	}
	framing := func(err error) error { return fmt.Errorf("%w: %w", ErrInput, err) }
	if dec.PeekKind() == '[' {
		if err := array(); err != nil {
			return nil, err
		}
	} else {
		// An object: a bundle, whose "objects" are read one at a time, or a single object, whose
		// members are kept and decoded as one object at the end.
		if _, err := dec.ReadToken(); err != nil {
			return nil, framing(err)
		}
		var members []byte
		bundle := false
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return nil, framing(err)
			}
			if name.Kind() != '"' {
				return nil, framing(fmt.Errorf("member name expected, found %v", name.Kind()))
			}
			nameText := name.String() // valid only until the next read
			if nameText == "objects" && dec.PeekKind() == '[' {
				bundle = true
				if err := array(); err != nil {
					return nil, err
				}
				continue
			}
			v, err := dec.ReadValue()
			if err != nil {
				return nil, framing(err)
			}
			if len(members)+len(v) > stix.DefaultLimits.MaxBytes {
				return nil, fmt.Errorf("%w: the top-level object is more than %d bytes", ErrInput, stix.DefaultLimits.MaxBytes)
			}
			if len(members) > 0 {
				members = append(members, ',')
			}
			q, err := jsontext.AppendQuote(nil, nameText)
			if err != nil {
				return nil, framing(err)
			}
			members = append(append(append(members, q...), ':'), v...)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, framing(err)
		}
		if !bundle {
			if err := add(append(append([]byte{'{'}, members...), '}')); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, fmt.Errorf("%w: more than one top-level JSON value", ErrInput)
		}
		return nil, framing(err)
	}
	if err := pool.finish(); err != nil {
		return nil, err
	}
	return in, nil
}

// decodePool decodes the objects of an input on every core, in batches, and adds them to the
// input in their order. At most two batches per core are in flight.
type decodePool struct {
	in       *Input
	workers  int
	pending  [][]byte
	first    int // the input index of pending[0]
	inflight []chan decodedBatch
}

type decodedBatch struct {
	objs []*stix.Object
	err  error
}

// decodeBatchSize is how many objects a goroutine decodes at a time.
const decodeBatchSize = 256

func (d *decodePool) add(raw []byte) error {
	d.pending = append(d.pending, raw)
	if len(d.pending) < decodeBatchSize {
		return nil
	}
	return d.dispatch()
}

func (d *decodePool) dispatch() error {
	if len(d.pending) == 0 {
		return nil
	}
	if len(d.inflight) >= 2*d.workers {
		if err := d.collect(); err != nil {
			return err
		}
	}
	raws, first := d.pending, d.first
	d.pending, d.first = nil, first+len(raws)
	ch := make(chan decodedBatch, 1)
	d.inflight = append(d.inflight, ch)
	go func() {
		var b decodedBatch
		for i, raw := range raws {
			obj, err := stix.Decode(raw)
			if err != nil {
				b.err = fmt.Errorf("%w: object %d: %w", ErrInput, first+i, err)
				break
			}
			pattern.AddObservables(obj)
			b.objs = append(b.objs, obj)
		}
		ch <- b
	}()
	return nil
}

// collect adds the oldest batch in flight to the input.
func (d *decodePool) collect() error {
	b := <-d.inflight[0]
	d.inflight = d.inflight[1:]
	for _, obj := range b.objs {
		if err := d.in.addDecoded(obj); err != nil {
			return err
		}
	}
	return b.err
}

// finish decodes what is left and adds every batch; the first error stops it.
func (d *decodePool) finish() error {
	if err := d.dispatch(); err != nil {
		return err
	}
	for len(d.inflight) > 0 {
		if err := d.collect(); err != nil {
			return err
		}
	}
	return nil
}
