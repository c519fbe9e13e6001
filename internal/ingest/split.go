package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/stix"
)

// rawObject is one object's bytes as they stood in the input, with where it stood.
type rawObject struct {
	index  int
	offset int64
	raw    []byte
}

// splitter reads a stream and yields the objects it holds, one at a time, without holding the stream
// whole. The input is a bundle (any JSON object with an "objects" array, which also covers a TAXII
// envelope), a JSON array of objects, or a single bare object. Several top-level values may follow one
// another (as in a concatenation of bundles or JSON lines).
type splitter struct {
	rec      *recorder
	dec      *jsontext.Decoder
	maxBytes int
	index    int
	// state of the current top-level value
	inArray bool // inside a top-level array, or a bundle's "objects" array
	inOuter bool // inside a top-level object that turned out to be a bundle; its tail is still to read
}

func newSplitter(r io.Reader, maxObjectBytes int) *splitter {
	rec := &recorder{r: r}
	if maxObjectBytes > 0 {
		// A value far past the object limit is refused while it is read, not once it is in memory.
		rec.limit = int64(maxObjectBytes) + recorderSlack
	}
	return &splitter{
		rec:      rec,
		dec:      jsontext.NewDecoder(rec, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)),
		maxBytes: maxObjectBytes,
	}
}

// next returns the next object, or io.EOF at the end of the input. Errors in the framing wrap ErrInput
// and end the stream: after one, the splitter cannot go on.
func (s *splitter) next() (rawObject, error) {
	for {
		if s.inArray {
			if s.dec.PeekKind() == ']' {
				if _, err := s.dec.ReadToken(); err != nil {
					return rawObject{}, s.framing(err)
				}
				s.inArray = false
				if s.inOuter {
					if err := s.finishOuter(); err != nil {
						return rawObject{}, err
					}
				}
				continue
			}
			return s.element()
		}
		kind := s.dec.PeekKind()
		switch kind {
		case 0:
			// End of input, or an error PeekKind could not report: ReadToken tells which.
			if _, err := s.dec.ReadToken(); err != nil {
				if errors.Is(err, io.EOF) {
					return rawObject{}, io.EOF
				}
				return rawObject{}, s.framing(err)
			}
			return rawObject{}, s.framing(errors.New("unexpected token"))
		case '[':
			if _, err := s.dec.ReadToken(); err != nil {
				return rawObject{}, s.framing(err)
			}
			s.inArray = true
		case '{':
			obj, isObject, err := s.topObject()
			if err != nil || isObject {
				return obj, err
			}
			// A bundle: the objects array is open.
		default:
			off := s.dec.InputOffset()
			return rawObject{}, fmt.Errorf("%w at byte %d: expected a bundle, an object or an array of objects, found %s", ErrInput, off, stix.KindName(kind))
		}
	}
}

// element reads one element of an objects array.
func (s *splitter) element() (rawObject, error) {
	if k := s.dec.PeekKind(); k != '{' {
		// Skip the bad element so that the objects after it are still read.
		off := s.dec.InputOffset()
		off += leadingSpace(s.rec, off)
		v, err := s.dec.ReadValue()
		if err != nil {
			return rawObject{}, s.framing(err)
		}
		i := s.index
		s.index++
		s.rec.release(s.dec.InputOffset())
		return rawObject{index: i, offset: off}, fmt.Errorf("element is %s, not an object: %.40s", stix.KindName(k), v)
	}
	v, err := s.dec.ReadValue()
	if err != nil {
		return rawObject{}, s.framing(err)
	}
	end := s.dec.InputOffset()
	s.rec.release(end)
	obj := rawObject{index: s.index, offset: end - int64(len(v)), raw: bytes.Clone(v)}
	s.index++
	if s.maxBytes > 0 && len(v) > s.maxBytes {
		obj.raw = nil
		return obj, fmt.Errorf("object is %d bytes, more than the limit of %d", len(v), s.maxBytes)
	}
	return obj, nil
}

// topObject reads a top-level JSON object member by member. If it has an "objects" array it is a
// bundle (or TAXII envelope): topObject stops with that array open and returns isObject false.
// Otherwise the whole value is one bare object, returned with its bytes exactly as received.
func (s *splitter) topObject() (rawObject, bool, error) {
	start := s.dec.InputOffset()
	start += leadingSpace(s.rec, start)
	s.rec.release(start)
	if _, err := s.dec.ReadToken(); err != nil {
		return rawObject{}, false, s.framing(err)
	}
	for s.dec.PeekKind() != '}' {
		name, err := s.dec.ReadToken()
		if err != nil {
			return rawObject{}, false, s.framing(err)
		}
		if name.Kind() != '"' {
			return rawObject{}, false, s.framing(errors.New("expected a property name"))
		}
		if name.String() == "objects" && s.dec.PeekKind() == '[' {
			if _, err := s.dec.ReadToken(); err != nil {
				return rawObject{}, false, s.framing(err)
			}
			s.rec.release(s.dec.InputOffset())
			s.inArray, s.inOuter = true, true
			return rawObject{}, false, nil
		}
		if _, err := s.dec.ReadValue(); err != nil {
			return rawObject{}, false, s.framing(err)
		}
		if s.maxBytes > 0 && s.dec.InputOffset()-start > int64(s.maxBytes) {
			return rawObject{}, false, fmt.Errorf("%w at byte %d: object is larger than the limit of %d bytes", ErrInput, start, s.maxBytes)
		}
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return rawObject{}, false, s.framing(err)
	}
	end := s.dec.InputOffset()
	raw := s.rec.slice(start, end)
	s.rec.release(end)
	if raw == nil {
		return rawObject{}, false, fmt.Errorf("%w at byte %d: internal error: the object's bytes were not held", ErrInput, start)
	}
	obj := rawObject{index: s.index, offset: start, raw: raw}
	s.index++
	return obj, true, nil
}

// finishOuter reads the members of a bundle after its objects array, up to its closing brace. A
// second "objects" member is an error: its objects would otherwise be skipped without a word.
func (s *splitter) finishOuter() error {
	for s.dec.PeekKind() != '}' {
		name, err := s.dec.ReadToken()
		if err != nil {
			return s.framing(err)
		}
		if name.Kind() == '"' && name.String() == "objects" {
			return fmt.Errorf("%w at byte %d: the bundle has a second \"objects\" member", ErrInput, s.dec.InputOffset())
		}
		s.rec.release(s.dec.InputOffset())
		if _, err := s.dec.ReadValue(); err != nil {
			return s.framing(err)
		}
	}
	if _, err := s.dec.ReadToken(); err != nil {
		return s.framing(err)
	}
	s.inOuter = false
	return nil
}

func (s *splitter) framing(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the input ends in the middle of a JSON value (after byte %d)", ErrInput, s.dec.InputOffset())
	}
	return fmt.Errorf("%w: %v", ErrInput, err)
}

// leadingSpace counts the whitespace and commas between off and the next value, from what the recorder
// still holds (zero if it holds nothing there).
func leadingSpace(rec *recorder, off int64) int64 {
	b := rec.peek(off)
	n := int64(0)
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ':' {
			break
		}
		n++
	}
	return n
}

// recorder passes reads through, counts them, and holds every byte from a mark on, so that a bare
// top-level object can be returned with its exact bytes. Bytes before the mark are dropped once a
// megabyte has built up, so memory stays bounded by one object plus the decoder's read-ahead.
type recorder struct {
	r    io.Reader
	n    int64 // bytes read from r so far
	base int64 // offset of buf[0]
	buf  []byte
	mark int64 // bytes before this offset are no longer needed
	// limit, when positive, is how many bytes may be read past the mark: one JSON value (an object,
	// or a member of the bundle around the objects) larger than that ends the input.
	limit int64
}

const recorderSlack = 1 << 20

func (r *recorder) Read(p []byte) (int, error) {
	if r.limit > 0 && r.n-r.mark > r.limit {
		return 0, fmt.Errorf("a JSON value starting near byte %d is larger than the limit of %d bytes", r.mark, r.limit-recorderSlack)
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if drop := r.mark - r.base; drop > 0 && len(r.buf) > recorderSlack {
			if drop >= int64(len(r.buf)) {
				r.buf = r.buf[:0]
			} else {
				r.buf = r.buf[:copy(r.buf, r.buf[drop:])]
			}
			r.base += drop
		}
		r.buf = append(r.buf, p[:n]...)
		r.n += int64(n)
	}
	return n, err
}

// release marks the bytes before off as no longer needed.
func (r *recorder) release(off int64) {
	if off > r.mark {
		r.mark = off
	}
}

// slice returns a copy of the bytes [from, to), or nil if they are no longer held.
func (r *recorder) slice(from, to int64) []byte {
	if from < r.base || to > r.base+int64(len(r.buf)) || from > to {
		return nil
	}
	return bytes.Clone(r.buf[from-r.base : to-r.base])
}

// peek returns the held bytes from off on.
func (r *recorder) peek(off int64) []byte {
	if off < r.base || off > r.base+int64(len(r.buf)) {
		return nil
	}
	return r.buf[off-r.base:]
}
