package sqlite

import (
	"fmt"
	"unsafe"
)

// CheckReadCache verifies the read cache's slabs and index against one another: the slabs hold
// whole records and no more bytes than the budget, the readers' table lists exactly the slabs kept,
// and every index entry points to a record of its own vid in a kept slab. It returns the number of
// slabs kept and of slabs dropped so far.
func CheckReadCache(s *Store) (kept, dropped int, err error) {
	c := s.rc
	if c == nil {
		return 0, 0, fmt.Errorf("no read cache")
	}
	c.fillMu.Lock()
	defer c.fillMu.Unlock()
	var total int64
	byID := map[uint32]*slab{}
	for i, sl := range c.slabs {
		if i > 0 && sl.id <= c.slabs[i-1].id {
			return 0, 0, fmt.Errorf("slab %d after slab %d", sl.id, c.slabs[i-1].id)
		}
		total += int64(len(sl.buf))
		byID[sl.id] = sl
		off := 0
		for off < sl.used {
			h := (*formHeader)(unsafe.Pointer(&sl.buf[off]))
			if h.size%8 != 0 || int(h.size) < headerSize || off+int(h.size) > sl.used {
				return 0, 0, fmt.Errorf("slab %d: record at %d of size %d (used %d)", sl.id, off, h.size, sl.used)
			}
			off += int(h.size)
		}
		if off != sl.used {
			return 0, 0, fmt.Errorf("slab %d: records end at %d, used %d", sl.id, off, sl.used)
		}
	}
	if total != c.bytes || total > c.budget {
		return 0, 0, fmt.Errorf("slabs of %d bytes, counted %d, budget %d", total, c.bytes, c.budget)
	}
	t := c.table.Load()
	if len(t.s) != len(c.slabs) || len(t.s) > 0 && t.first != c.slabs[0].id {
		return 0, 0, fmt.Errorf("the readers' table has %d slabs from %d; kept: %d", len(t.s), t.first, len(c.slabs))
	}
	for i := range t.s {
		if t.s[i] != c.slabs[i] {
			return 0, 0, fmt.Errorf("the readers' table differs at %d", i)
		}
	}
	for i := range c.index {
		sh := &c.index[i]
		sh.mu.RLock()
		for vid, loc := range sh.m {
			sl := byID[uint32(loc>>32)]
			if sl == nil || int(uint32(loc)) >= sl.used {
				sh.mu.RUnlock()
				return 0, 0, fmt.Errorf("vid %d: index points to %x, not a kept record", vid, loc)
			}
			if h := (*formHeader)(unsafe.Pointer(&sl.buf[uint32(loc)])); h.vid != vid {
				sh.mu.RUnlock()
				return 0, 0, fmt.Errorf("vid %d: index points to a record of vid %d", vid, h.vid)
			}
		}
		sh.mu.RUnlock()
	}
	return len(c.slabs), int(c.nextSlab-1) - len(c.slabs), nil
}
