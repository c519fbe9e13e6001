package match

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// The index file holds a Compiled index as flat little-endian arrays, so that loading it is
// mapping it (OpenFile): nothing is decoded but the header and the few label sets.
//
//	header      magic "RNKMIDX\n", format version, header length, file length, hash seeds,
//	            counts, CIDR directory shifts, At, NextChange, LastStored, State, Stats
//	sections    for each of the numSections arrays, in a fixed order: id, element size, offset,
//	            length in bytes and the XXH64 of its bytes
//	checksum    XXH64 of everything above
//	arrays      each at an offset that is a multiple of 64, zero padding between them
//
// Loading checks the magic, the version, the checksum of the header, that the file has the length
// the header says (a truncated file is refused), that every section is where and as long as it may
// be, and the structure of the small arrays (the CIDR tables and the label sets) in full. It does
// not read the large arrays (the exact tables and the indicator records, hundreds of MB at 10M
// indicators): a file damaged there after it was written gives wrong hits, never a crash (the
// lookups bound every offset they follow), and OpenOptions.VerifyData checks every section's
// XXH64 when that matters more than the load time. The file is written whole to a temporary file,
// synced and renamed over the old one, so a crash while writing leaves the old file or none.
//
// The hash seed of the exact tables is drawn at random for each build and kept in the header: a
// table is only usable with the seed it was built with.

const (
	fileMagic = "RNKMIDX\n"
	// fileVersion changes with the layout of the file or of any table in it, and with anything
	// that changes which key a value is stored under (normalisation, classes, hashing).
	// Version 2: the exact table hashes keys with hashKey's wyhash-style hash, not XXH64.
	// Version 3: the exact table's slots hold a fingerprint and the refs, the keys' offsets are a
	// section of their own, and the arena's entries have no ref.
	fileVersion  = 3
	sectionAlign = 64
	// IndexFileName is the name of the index file in a node's data directory.
	IndexFileName = "match.idx"
)

// The sections, in file order.
const (
	secExactSlots = iota + 1
	secExactKeys
	secExactArena
	secExactMulti
	secV4Slots
	secV4Multi
	secCIDR4Intervals
	secCIDR4Dir
	secCIDR6Hi
	secCIDR6Lo
	secCIDR6Vals
	secCIDR6Dir
	secCIDRRefs
	secRecords
	secStrings
	secLabels
	numSections = secLabels
)

// sectionElem is the element size of each section.
var sectionElem = [numSections + 1]uint32{
	secExactSlots: 8, secExactKeys: 4, secExactArena: 1, secExactMulti: 4, secV4Slots: 8, secV4Multi: 4,
	secCIDR4Intervals: 8, secCIDR4Dir: 4, secCIDR6Hi: 8, secCIDR6Lo: 8, secCIDR6Vals: 4, secCIDR6Dir: 4,
	secCIDRRefs: 4, secRecords: recSize, secStrings: 1, secLabels: 1,
}

const (
	// fixedHeaderLen is the header before the section table; sectionEntryLen one entry of it.
	fixedHeaderLen  = 8 + 4 + 4 + 8 + 8 + 8 + 4*8 + 2*8 + 8 + 8 + 4*12 + 8 + 8*9 + 4 + 4
	sectionEntryLen = 4 + 4 + 8 + 8 + 8
	headerLen       = fixedHeaderLen + numSections*sectionEntryLen + 8
)

// ErrIndexFile is wrapped by the errors of OpenFile for a file that is not a usable index file of
// this version of renkei: damaged, truncated, of another format version, or not an index file.
// The caller compiles the index again.
var ErrIndexFile = errors.New("not a usable match index file")

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

type section struct {
	id   uint32
	elem uint32
	off  uint64
	len  uint64
	sum  uint64
	data []byte
}

// u64Bytes returns the memory of s as bytes in little-endian order.
func u64Bytes(s []uint64) []byte {
	if len(s) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*8)
	}
	b := make([]byte, 0, len(s)*8)
	for _, v := range s {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func u32Bytes(s []uint32) []byte {
	if len(s) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
	}
	b := make([]byte, 0, len(s)*4)
	for _, v := range s {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// bytesU64 views b (little-endian) as []uint64 without copying when the machine is little-endian
// and b is aligned; otherwise it decodes a copy.
func bytesU64(b []byte) []uint64 {
	if len(b) < 8 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%8 == 0 {
		return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
	}
	out := make([]uint64, len(b)/8)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out
}

func bytesU32(b []byte) []uint32 {
	if len(b) < 4 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// sections returns the arrays of c in file order, without offsets.
func (c *Compiled) sections() ([]section, error) {
	ix := c.Index
	recs, strs, err := c.Indicators.contents()
	if err != nil {
		return nil, err
	}
	data := [numSections + 1][]byte{
		secExactSlots: u64Bytes(ix.exact.slots), secExactKeys: u32Bytes(ix.exact.keys), secExactArena: ix.exact.arena, secExactMulti: u32Bytes(ix.exact.multi),
		secV4Slots: u64Bytes(ix.v4.slots), secV4Multi: u32Bytes(ix.v4.multi),
		secCIDR4Intervals: u64Bytes(ix.cidr.v4.iv), secCIDR4Dir: u32Bytes(ix.cidr.v4.dir),
		secCIDR6Hi: u64Bytes(ix.cidr.v6.hi), secCIDR6Lo: u64Bytes(ix.cidr.v6.lo),
		secCIDR6Vals: u32Bytes(ix.cidr.v6.vals), secCIDR6Dir: u32Bytes(ix.cidr.v6.dir),
		secCIDRRefs: u32Bytes(ix.cidr.refs), secRecords: recs, secStrings: strs,
		secLabels: c.Indicators.encodeLabels(),
	}
	out := make([]section, 0, numSections)
	for id := uint32(1); id <= numSections; id++ {
		out = append(out, section{id: id, elem: sectionElem[id], len: uint64(len(data[id])), data: data[id]})
	}
	return out, nil
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// header encodes the header of c for the sections, whose offsets and sums are set.
func (c *Compiled) header(secs []section, fileLen uint64) []byte {
	ix := c.Index
	b := make([]byte, 0, headerLen)
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, fileVersion)
	b = binary.LittleEndian.AppendUint32(b, headerLen)
	b = binary.LittleEndian.AppendUint64(b, fileLen)
	b = append(b, ix.exact.seed[:]...)
	b = binary.LittleEndian.AppendUint64(b, ix.v4.seed)
	for _, n := range []int{ix.exact.count, ix.v4.count, ix.cidr.count, ix.entries} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	b = binary.LittleEndian.AppendUint64(b, ix.labels[0])
	b = binary.LittleEndian.AppendUint64(b, ix.labels[1])
	b = append(b, ix.cidr.v4.shift, ix.cidr.v6.shift, 0, 0, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, ix.cidr.v6.base)
	for _, t := range []time.Time{c.At, c.NextChange, c.LastStored, c.State.LastMarking} {
		b = appendTime(b, t)
	}
	b = binary.LittleEndian.AppendUint64(b, c.State.Orgs)
	st := c.Stats
	for _, n := range []int{st.Read, st.Active, st.Revoked, st.Expired, st.NotYetValid, st.NotSTIX, st.Invalid, st.NotIndexable, st.Entries} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	b = binary.LittleEndian.AppendUint32(b, numSections)
	b = binary.LittleEndian.AppendUint32(b, 0)
	for _, s := range secs {
		b = binary.LittleEndian.AppendUint32(b, s.id)
		b = binary.LittleEndian.AppendUint32(b, s.elem)
		b = binary.LittleEndian.AppendUint64(b, s.off)
		b = binary.LittleEndian.AppendUint64(b, s.len)
		b = binary.LittleEndian.AppendUint64(b, s.sum)
	}
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
}

func alignUp(n uint64) uint64 { return (n + sectionAlign - 1) &^ (sectionAlign - 1) }

// layout sets the offsets and sums of secs and returns the file's length.
func layout(secs []section) uint64 {
	off := alignUp(headerLen)
	for i := range secs {
		secs[i].off = off
		secs[i].sum = xxhash.Sum64(secs[i].data)
		off = alignUp(off + secs[i].len)
	}
	if n := len(secs); n > 0 {
		return secs[n-1].off + secs[n-1].len
	}
	return off
}

// WriteTo writes the index file of c to w.
func (c *Compiled) WriteTo(w io.Writer) (int64, error) {
	secs, err := c.sections()
	if err != nil {
		return 0, err
	}
	fileLen := layout(secs)
	hdr := c.header(secs, fileLen)
	if len(hdr) != headerLen {
		return 0, fmt.Errorf("match index: a header of %d bytes, want %d", len(hdr), headerLen)
	}
	var n int64
	write := func(b []byte) error {
		k, err := w.Write(b)
		n += int64(k)
		return err
	}
	var zeros [sectionAlign]byte
	if err := write(hdr); err != nil {
		return n, err
	}
	for _, s := range secs {
		if err := write(zeros[:s.off-uint64(n)]); err != nil {
			return n, err
		}
		if err := write(s.data); err != nil {
			return n, err
		}
	}
	return n, nil
}

// WriteFile writes the index file of c at path, atomically: to a temporary file in the same
// directory, synced, then renamed over path, and the directory synced.
func (c *Compiled) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("match index %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("match index %s: %w", path, err), os.Remove(tmp))
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = c.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	d, derr := os.Open(dir)
	if derr != nil {
		return nil // renamed: only the durability of the rename is in doubt
	}
	return errors.Join(d.Sync(), d.Close())
}

// OpenOptions control OpenFile.
type OpenOptions struct {
	// VerifyData also checks the XXH64 of every section, reading the whole file (and making it
	// resident). Without it only the header and the small arrays are checked.
	VerifyData bool
}

// OpenFile loads the index file at path, mapping it into memory (on Linux; elsewhere it is read).
// It refuses, with an error wrapping ErrIndexFile, a file that is damaged, truncated or of another
// format version. Close the Compiled when no lookup can use it any more.
func OpenFile(path string, o OpenOptions) (*Compiled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("match index: %w", err)
	}
	c, err := openFile(f, o)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("match index %s: %w", path, err), f.Close())
	}
	return c, nil
}

// openFile loads the index in f; the Compiled keeps f (its indicator table reads from it).
func openFile(f *os.File, o OpenOptions) (*Compiled, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < headerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrIndexFile, fi.Size())
	}
	if fi.Size() > math.MaxInt-1 || uint64(fi.Size()) > 1<<48 {
		return nil, fmt.Errorf("%w: %d bytes", ErrIndexFile, fi.Size())
	}
	data, unmap, err := mapFile(f, int(fi.Size()))
	if err != nil {
		return nil, err
	}
	c, err := decodeFile(data, o)
	if err != nil {
		return nil, errors.Join(err, unmap())
	}
	t := &c.Indicators
	// The records and strings are read from the file, not from the mapping (see IndicatorTable).
	t.file, t.nrecs, t.nstrs = f, len(t.recs)/recSize, int64(len(t.strs))
	t.recsAt, t.strsAt = offsetIn(data, t.recs), offsetIn(data, t.strs)
	t.recs, t.strs = nil, nil
	c.unmap = func() error { return errors.Join(unmap(), f.Close()) }
	return c, nil
}

// offsetIn returns the offset of part in data, which holds it.
func offsetIn(data, part []byte) int64 {
	if len(part) == 0 {
		return 0
	}
	return int64(uintptr(unsafe.Pointer(unsafe.SliceData(part))) - uintptr(unsafe.Pointer(unsafe.SliceData(data))))
}

// Close releases the file a loaded index maps and reads; no lookup, Verify or accessor of the
// Compiled may run during or after it. It does nothing for an index compiled in memory.
func (c *Compiled) Close() error {
	c.closeOnce.Do(func() {
		if c.unmap != nil {
			c.closeErr = c.unmap()
		}
	})
	return c.closeErr
}

// reader decodes the header.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errors.New("header cut short")
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }

func (r *reader) count(what string) int {
	v := r.u64()
	if v > math.MaxInt32 && r.err == nil {
		r.err = fmt.Errorf("%s %d out of range", what, v)
	}
	return int(v)
}

func (r *reader) time() time.Time {
	s, ns := int64(r.u64()), r.u32()
	if ns >= 1e9 && r.err == nil {
		r.err = errors.New("bad time")
	}
	return time.Unix(s, int64(ns)).UTC()
}

// decodeFile builds a Compiled over data, the whole file, which it keeps.
func decodeFile(data []byte, o OpenOptions) (*Compiled, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrIndexFile}, args...)...)
	}
	if len(data) < headerLen {
		return nil, bad("%d bytes, shorter than a header", len(data))
	}
	if string(data[:len(fileMagic)]) != fileMagic {
		return nil, bad("no magic number")
	}
	r := &reader{b: data[len(fileMagic):]}
	if v := r.u32(); v != fileVersion {
		return nil, bad("format version %d, this renkei reads version %d", v, fileVersion)
	}
	if n := r.u32(); n != headerLen {
		return nil, bad("header of %d bytes, want %d", n, headerLen)
	}
	sum := binary.LittleEndian.Uint64(data[headerLen-8:])
	if xxhash.Sum64(data[:headerLen-8]) != sum {
		return nil, bad("the header's checksum does not match")
	}
	if n := r.u64(); n != uint64(len(data)) {
		return nil, bad("the header says %d bytes, the file has %d (truncated?)", n, len(data))
	}
	c := &Compiled{Index: &Index{}}
	ix := c.Index
	copy(ix.exact.seed[:], r.take(8))
	ix.v4.seed = r.u64()
	ix.exact.count = r.count("exact count")
	ix.v4.count = r.count("ipv4 count")
	ix.cidr.count = r.count("cidr count")
	ix.entries = r.count("entries")
	ix.labels[0], ix.labels[1] = r.u64(), r.u64()
	shifts := r.take(8)
	ix.cidr.v4.shift, ix.cidr.v6.shift = shifts[0], shifts[1]
	ix.cidr.v6.base = r.u64()
	c.At, c.NextChange, c.LastStored, c.State.LastMarking = r.time(), r.time(), r.time(), r.time()
	c.State.Orgs = r.u64()
	st := &c.Stats
	for _, p := range []*int{&st.Read, &st.Active, &st.Revoked, &st.Expired, &st.NotYetValid, &st.NotSTIX, &st.Invalid, &st.NotIndexable, &st.Entries} {
		*p = r.count("statistic")
	}
	if n := r.u32(); n != numSections && r.err == nil {
		return nil, bad("%d sections, want %d", n, numSections)
	}
	r.u32()
	var data2 [numSections + 1][]byte
	end := uint64(headerLen)
	for id := uint32(1); id <= numSections; id++ {
		s := section{id: r.u32(), elem: r.u32(), off: r.u64(), len: r.u64(), sum: r.u64()}
		if r.err != nil {
			break
		}
		switch {
		case s.id != id || s.elem != sectionElem[id]:
			return nil, bad("section %d: id %d, element size %d", id, s.id, s.elem)
		case s.off%sectionAlign != 0 || s.off < end || s.off > uint64(len(data)) || s.len > uint64(len(data))-s.off:
			return nil, bad("section %d: %d bytes at %d out of place", id, s.len, s.off)
		case s.len%uint64(s.elem) != 0:
			return nil, bad("section %d: %d bytes, not a multiple of %d", id, s.len, s.elem)
		}
		b := data[s.off : s.off+s.len]
		if o.VerifyData && xxhash.Sum64(b) != s.sum {
			return nil, bad("section %d: the checksum does not match", id)
		}
		data2[id] = b
		end = s.off + s.len
	}
	if r.err != nil {
		return nil, bad("%v", r.err)
	}
	ix.exact.slots = bytesU64(data2[secExactSlots])
	ix.exact.keys = bytesU32(data2[secExactKeys])
	ix.exact.arena = data2[secExactArena]
	ix.exact.multi = bytesU32(data2[secExactMulti])
	ix.v4.slots = bytesU64(data2[secV4Slots])
	ix.v4.multi = bytesU32(data2[secV4Multi])
	ix.cidr.v4.iv = bytesU64(data2[secCIDR4Intervals])
	ix.cidr.v4.dir = bytesU32(data2[secCIDR4Dir])
	ix.cidr.v6.hi = bytesU64(data2[secCIDR6Hi])
	ix.cidr.v6.lo = bytesU64(data2[secCIDR6Lo])
	ix.cidr.v6.vals = bytesU32(data2[secCIDR6Vals])
	ix.cidr.v6.dir = bytesU32(data2[secCIDR6Dir])
	ix.cidr.refs = bytesU32(data2[secCIDRRefs])
	c.Indicators.recs = data2[secRecords]
	c.Indicators.strs = data2[secStrings]
	var err error
	if c.Indicators.labels, err = decodeLabels(data2[secLabels]); err != nil {
		return nil, bad("%v", err)
	}
	if err := ix.check(); err != nil {
		return nil, bad("%v", err)
	}
	if n := c.Indicators.Len(); n != c.Stats.Active {
		return nil, bad("%d indicator records for %d active indicators", n, c.Stats.Active)
	}
	if len(c.Indicators.strs) > 0 && len(c.Indicators.strs) >= 1<<32 {
		return nil, bad("strings of %d bytes", len(c.Indicators.strs))
	}
	return c, nil
}

// check verifies what a lookup relies on beyond the bounds it checks itself: the sizes of the
// tables, and the CIDR tables in full (they are small next to the exact tables).
func (ix *Index) check() error {
	t := &ix.exact
	if len(t.slots) > 0 && len(t.arena) == 0 || ix.exact.count > len(t.slots) || len(t.keys) != len(t.slots) {
		return fmt.Errorf("exact table: %d values in %d slots with %d keys, arena of %d bytes", t.count, len(t.slots), len(t.keys), len(t.arena))
	}
	if len(t.arena) >= 1<<32 {
		return fmt.Errorf("exact table: arena of %d bytes", len(t.arena))
	}
	if ix.v4.count > len(ix.v4.slots) {
		return fmt.Errorf("ipv4 table: %d addresses in %d slots", ix.v4.count, len(ix.v4.slots))
	}
	return ix.cidr.check()
}

func (c *cidrTable) check() error {
	refs := c.refs
	if len(refs) == 0 || len(refs) >= multiFlag {
		return fmt.Errorf("cidr table: %d refs", len(refs))
	}
	// The records, one after the other from offset 1: count | bits | parent | refs. A value is
	// 1 + the offset of a record; a parent comes before its child.
	isRec := make([]bool, len(refs))
	blocks := 0
	for at := 1; at < len(refs); {
		if at+3 > len(refs) || uint64(refs[at]) > uint64(len(refs)-at-3) || refs[at+1] > 128 {
			return fmt.Errorf("cidr table: bad record at %d", at)
		}
		if p := refs[at+2]; p != 0 && (p-1 >= uint32(at) || !isRec[p-1]) {
			return fmt.Errorf("cidr table: record at %d has a bad parent %d", at, p)
		}
		isRec[at] = true
		blocks++
		at += 3 + int(refs[at])
	}
	if blocks != c.count {
		return fmt.Errorf("cidr table: %d blocks, the header says %d", blocks, c.count)
	}
	val := func(v uint32) bool { return v == 0 || int64(v) <= int64(len(refs)) && isRec[v-1] }
	if len(c.v4.iv) == 0 || c.v4.shift < 32-22 || c.v4.shift > 32-8 || len(c.v4.dir) != 1<<(32-c.v4.shift)+1 {
		return fmt.Errorf("cidr table: ipv4 directory of %d entries for shift %d and %d intervals", len(c.v4.dir), c.v4.shift, len(c.v4.iv))
	}
	if err := checkDir(c.v4.dir, len(c.v4.iv)); err != nil {
		return fmt.Errorf("cidr table: ipv4 %w", err)
	}
	for i, x := range c.v4.iv {
		if !val(uint32(x)) || i > 0 && x>>32 <= c.v4.iv[i-1]>>32 {
			return fmt.Errorf("cidr table: bad ipv4 interval %d", i)
		}
	}
	v6 := &c.v6
	n := len(v6.hi)
	if n == 0 || len(v6.lo) != n || len(v6.vals) != n || len(v6.dir) < 2 || len(v6.dir) > 1<<22+1 || v6.shift > 64 {
		return fmt.Errorf("cidr table: ipv6 arrays of %d, %d, %d and %d entries", n, len(v6.lo), len(v6.vals), len(v6.dir))
	}
	if err := checkDir(v6.dir, n); err != nil {
		return fmt.Errorf("cidr table: ipv6 %w", err)
	}
	for i := range n {
		if !val(v6.vals[i]) || i > 0 && !(u128{v6.hi[i-1], v6.lo[i-1]}).less(u128{v6.hi[i], v6.lo[i]}) {
			return fmt.Errorf("cidr table: bad ipv6 interval %d", i)
		}
	}
	return nil
}

// checkDir checks that a directory is ascending and ends at the last of n intervals.
func checkDir(dir []uint32, n int) error {
	if int64(dir[len(dir)-1]) != int64(n-1) {
		return fmt.Errorf("directory does not span the %d intervals", n)
	}
	for i := 1; i < len(dir); i++ {
		if dir[i] < dir[i-1] {
			return fmt.Errorf("directory entry %d goes back", i)
		}
	}
	return nil
}
