package match

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

// IndicatorTable is the table from Ref to indicator of a Compiled index: for each Ref the
// indicator's id, the labels the sharing policy decides on (store.Version's Label, CreatedByRef,
// OwnerLocal and Object) and its pattern's text. It is flat and compact — a record of 24 bytes per
// indicator, a blob of strings, and a short list of the distinct label sets — so that an index file
// holds it as it is and a loaded index maps it without decoding; patterns are compiled only when a
// hit needs them (Compiled.Verify).
//
// A record is
//
//	[0:16]  the UUID of an id "indicator--<uuid>" in canonical form; for any other id, [0:4] is
//	        the offset of the id in strs and flagIDInStrs is set
//	[16:20] the index of the record's label set, | flagIDInStrs
//	[20:24] the offset of the pattern's text in strs; 0: no pattern (an index hit is a match)
//
// and strs holds uvarint length | bytes strings, from offset 1. The accessors never panic on a
// table read from a damaged file: a bad offset gives an empty string, a bad label set the label
// no viewer may read.
//
// A table loaded from an index file reads its records and strings from the file (pread) when a hit
// needs them, instead of mapping them: a few reads per hit cost microseconds, while touching a
// mapping at random makes the kernel map the pages around each one (fault-around, large folios),
// so that thousands of hits would make the whole table resident.
type IndicatorTable struct {
	recs   []byte
	strs   []byte
	labels []labelSet
	// labelIx finds a label set's index while the table is built; nil in a loaded table.
	labelIx map[labelSet]uint32
	// file, when set, holds the records (nrecs of them, at recsAt) and the strings (nstrs bytes,
	// at strsAt) in place of recs and strs.
	file           io.ReaderAt
	recsAt, strsAt int64
	nrecs          int
	nstrs          int64
}

// labelSet is what the policy needs of an indicator's stored form, besides its id.
type labelSet struct {
	createdBy  string
	label      store.Label
	ownerLocal bool
	object     store.ObjectLabel
}

const (
	recSize      = 24
	flagIDInStrs = 1 << 31
	idPrefix     = "indicator--"
	// maxLabelString bounds a string of a label set in a file (organisation and group ids).
	maxLabelString = 1024
)

// Len returns the number of indicators.
func (t *IndicatorTable) Len() int {
	if t.file != nil {
		return t.nrecs
	}
	return len(t.recs) / recSize
}

// strsLen returns the length of the strings.
func (t *IndicatorTable) strsLen() int64 {
	if t.file != nil {
		return t.nstrs
	}
	return int64(len(t.strs))
}

// Add appends an indicator and returns its Ref: its id, the labels of v (the form it was compiled
// from) and the text of its pattern ("" for none: every index hit is then a match). The strings
// of one table are bounded by 4 GiB in all.
func (t *IndicatorTable) Add(id string, v *store.Version, pattern string) (uint32, error) {
	if t.file != nil {
		return 0, fmt.Errorf("indicator %s: a table loaded from a file cannot grow", clip(id))
	}
	ref := t.Len()
	if ref > MaxRef {
		return 0, fmt.Errorf("indicator %s: more than %d indicators", clip(id), MaxRef)
	}
	ls := labelSet{createdBy: v.CreatedByRef, label: v.Label, ownerLocal: v.OwnerLocal, object: v.Object}
	for _, s := range []string{ls.createdBy, ls.label.Group, ls.object.Group, ls.object.Owner} {
		if len(s) > maxLabelString {
			return 0, fmt.Errorf("indicator %s: a creator or group id of %d bytes (the limit is %d)", clip(id), len(s), maxLabelString)
		}
	}
	if t.labelIx == nil {
		t.labelIx = make(map[labelSet]uint32, len(t.labels))
		for i, l := range t.labels {
			t.labelIx[l] = uint32(i)
		}
	}
	li, ok := t.labelIx[ls]
	if !ok {
		if len(t.labels) >= flagIDInStrs-1 {
			return 0, fmt.Errorf("indicator %s: too many distinct label sets", clip(id))
		}
		li = uint32(len(t.labels))
		t.labels = append(t.labels, ls)
		t.labelIx[ls] = li
	}
	if len(t.strs) == 0 {
		t.strs = append(t.strs, 0) // offset 0 is no string
	}
	var rec [recSize]byte
	if u, ok := canonicalUUID(id); ok {
		copy(rec[:16], u[:])
	} else {
		off, err := t.addString(id)
		if err != nil {
			return 0, fmt.Errorf("indicator %s: %w", clip(id), err)
		}
		binary.LittleEndian.PutUint32(rec[:], off)
		li |= flagIDInStrs
	}
	binary.LittleEndian.PutUint32(rec[16:], li)
	if pattern != "" {
		off, err := t.addString(pattern)
		if err != nil {
			return 0, fmt.Errorf("indicator %s: %w", clip(id), err)
		}
		binary.LittleEndian.PutUint32(rec[20:], off)
	}
	t.recs = append(t.recs, rec[:]...)
	return uint32(ref), nil
}

var errStrsFull = errors.New("the strings of the indicator table pass 4 GiB")

func (t *IndicatorTable) addString(s string) (uint32, error) {
	if len(t.strs)+len(s)+binary.MaxVarintLen64 > 1<<32-1 {
		return 0, errStrsFull
	}
	off := uint32(len(t.strs))
	t.strs = binary.AppendUvarint(t.strs, uint64(len(s)))
	t.strs = append(t.strs, s...)
	return off, nil
}

// canonicalUUID returns the UUID of "indicator--<uuid>" when the id is exactly the canonical
// (lower-case, hyphenated) form of it, which ID gives back.
func canonicalUUID(id string) (uuid.UUID, bool) {
	if len(id) != len(idPrefix)+36 || id[:len(idPrefix)] != idPrefix {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(id[len(idPrefix):])
	if err != nil || u.String() != id[len(idPrefix):] {
		return uuid.UUID{}, false
	}
	return u, true
}

// rec returns the record of ref, and false when there is none (or it cannot be read).
func (t *IndicatorTable) rec(ref uint32) (r [recSize]byte, ok bool) {
	if int64(ref) >= int64(t.Len()) {
		return r, false
	}
	if t.file != nil {
		_, err := t.file.ReadAt(r[:], t.recsAt+int64(ref)*recSize)
		return r, err == nil
	}
	copy(r[:], t.recs[int(ref)*recSize:])
	return r, true
}

// str returns the string at off in strs; nil when off is not a string (or it cannot be read). It
// shares the table's memory when the table is in memory.
func (t *IndicatorTable) str(off uint32) []byte {
	size := t.strsLen()
	if off == 0 || int64(off) >= size {
		return nil
	}
	if t.file == nil {
		n, w := binary.Uvarint(t.strs[off:])
		if w <= 0 || n > uint64(size-int64(off)-int64(w)) {
			return nil
		}
		s := t.strs[int(off)+w:]
		return s[:n]
	}
	// One read holds the length and, most of the time, the whole string.
	var buf [128]byte
	head := buf[:min(int64(len(buf)), size-int64(off))]
	if _, err := t.file.ReadAt(head, t.strsAt+int64(off)); err != nil {
		return nil
	}
	n, w := binary.Uvarint(head)
	if w <= 0 || n > uint64(size-int64(off)-int64(w)) {
		return nil
	}
	out := make([]byte, n)
	k := copy(out, head[w:])
	if k < len(out) {
		if _, err := t.file.ReadAt(out[k:], t.strsAt+int64(off)+int64(w)+int64(k)); err != nil {
			return nil
		}
	}
	return out
}

// ID returns the id of the indicator ref ("" when there is none).
func (t *IndicatorTable) ID(ref uint32) string {
	r, ok := t.rec(ref)
	if !ok {
		return ""
	}
	if binary.LittleEndian.Uint32(r[16:])&flagIDInStrs != 0 {
		return string(t.str(binary.LittleEndian.Uint32(r[:])))
	}
	var u uuid.UUID
	copy(u[:], r[:16])
	return idPrefix + u.String()
}

// Version returns the parts of the stored form of indicator ref that the sharing policy reads:
// ID, Type, CreatedByRef, Label, OwnerLocal and Object (the rest is zero). For a ref that is not in
// the table, or whose label set is damaged, the labels are store.NoLabelCell: the operator's eyes
// only.
func (t *IndicatorTable) Version(ref uint32) store.Version {
	v := store.Version{ID: t.ID(ref), Type: "indicator",
		Label: store.Label{Cell: store.NoLabelCell}, Object: store.ObjectLabel{Label: store.Label{Cell: store.NoLabelCell}}}
	r, ok := t.rec(ref)
	if !ok {
		return v
	}
	li := binary.LittleEndian.Uint32(r[16:]) &^ flagIDInStrs
	if int64(li) >= int64(len(t.labels)) {
		return v
	}
	ls := &t.labels[li]
	v.CreatedByRef, v.Label, v.OwnerLocal, v.Object = ls.createdBy, ls.label, ls.ownerLocal, ls.object
	return v
}

// patternText returns the text of the pattern of ref; has is false when the indicator has none.
// ok is false when the record or the text cannot be read (ref out of range, a damaged table).
func (t *IndicatorTable) patternText(ref uint32) (text []byte, has, ok bool) {
	r, ok := t.rec(ref)
	if !ok {
		return nil, false, false
	}
	off := binary.LittleEndian.Uint32(r[20:])
	if off == 0 {
		return nil, false, true
	}
	text = t.str(off)
	return text, true, text != nil
}

// Pattern returns the text of the pattern of ref ("" when it has none).
func (t *IndicatorTable) Pattern(ref uint32) string {
	b, _, _ := t.patternText(ref)
	return string(b)
}

// Bytes returns the memory the table holds (records, strings and label sets; a table loaded from
// a file holds only its label sets).
func (t *IndicatorTable) Bytes() int {
	n := len(t.recs) + len(t.strs)
	for _, l := range t.labels {
		n += int(unsafe.Sizeof(l)) + len(l.createdBy) + len(l.label.Group) + len(l.object.Group) + len(l.object.Owner)
	}
	return n
}

// contents returns the records and the strings, read from the file for a loaded table.
func (t *IndicatorTable) contents() (recs, strs []byte, err error) {
	if t.file == nil {
		return t.recs, t.strs, nil
	}
	recs = make([]byte, t.nrecs*recSize)
	strs = make([]byte, t.nstrs)
	if _, err := t.file.ReadAt(recs, t.recsAt); err != nil {
		return nil, nil, fmt.Errorf("reading the indicator records: %w", err)
	}
	if _, err := t.file.ReadAt(strs, t.strsAt); err != nil {
		return nil, nil, fmt.Errorf("reading the indicator strings: %w", err)
	}
	return recs, strs, nil
}

// encodeLabels returns the label sets in their file form: a count, then for each set the cell,
// ownerLocal, object cell and object ownerLocal bytes, then its group, creator, object group and
// object owner as uvarint length | bytes.
func (t *IndicatorTable) encodeLabels() []byte {
	b := binary.AppendUvarint(nil, uint64(len(t.labels)))
	for _, l := range t.labels {
		b = append(b, l.label.Cell, b2u(l.ownerLocal), l.object.Cell, b2u(l.object.OwnerLocal))
		for _, s := range []string{l.label.Group, l.createdBy, l.object.Group, l.object.Owner} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// decodeLabels reads what encodeLabels wrote.
func decodeLabels(b []byte) ([]labelSet, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, errors.New("label sets: bad count")
	}
	b = b[w:]
	// Each set takes at least 8 bytes: a count above len/8 is damage, not a huge table.
	if n > uint64(len(b))/8 {
		return nil, fmt.Errorf("label sets: %d sets in %d bytes", n, len(b))
	}
	out := make([]labelSet, n)
	str := func() (string, error) {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > maxLabelString || l > uint64(len(b)-w) {
			return "", errors.New("label sets: bad string")
		}
		s := string(b[w : w+int(l)])
		b = b[w+int(l):]
		return s, nil
	}
	for i := range out {
		if len(b) < 4 {
			return nil, errors.New("label sets: cut short")
		}
		l := &out[i]
		if b[0] > 63 || b[2] > 63 || b[1] > 1 || b[3] > 1 {
			return nil, fmt.Errorf("label set %d: bad cell or flag", i)
		}
		l.label.Cell, l.ownerLocal, l.object.Cell, l.object.OwnerLocal = b[0], b[1] == 1, b[2], b[3] == 1
		b = b[4:]
		var err error
		for _, dst := range []*string{&l.label.Group, &l.createdBy, &l.object.Group, &l.object.Owner} {
			if *dst, err = str(); err != nil {
				return nil, fmt.Errorf("label set %d: %w", i, err)
			}
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("label sets: %d bytes left over", len(b))
	}
	return out, nil
}
