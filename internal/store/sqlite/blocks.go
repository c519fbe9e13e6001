package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// The stored CIDR blocks themselves (migration 0006): observable_blocks holds one row per (kind,
// value) of an ipv4-addr or ipv6-addr value with a / that a stored form ever carried, and
// observable_blocks_complete a row once that covers every stored form. Like the summary of
// lengths (block_lengths.go), insertRows adds the blocks of the forms it inserts in its own
// transaction (noteBlockLengths), and a database migrated with observables already stored is
// back-filled once, at Open, by the same pass (backfillBlockLengths). Correlation reads the whole
// table (a few thousand rows in a store of 10M observables) and looks up in observable_keys only
// the blocks that contain a report's addresses.

// isBlock reports whether o is a CIDR block: an IP value with a /.
func isBlock(o stix.Observable) bool {
	return (o.Kind == stix.ObsIPv4 || o.Kind == stix.ObsIPv6) && strings.IndexByte(o.Value, '/') >= 0
}

// blockSet is a set of CIDR blocks.
type blockSet map[stix.Observable]struct{}

// add records o when it is a block. Its texts are copied: they may share a row's buffer.
func (s blockSet) add(o stix.Observable) {
	if !isBlock(o) {
		return
	}
	if _, ok := s[o]; !ok {
		s[stix.Observable{Kind: strings.Clone(o.Kind), Value: strings.Clone(o.Value)}] = struct{}{}
	}
}

const insBlock = `INSERT OR IGNORE INTO observable_blocks (kind, value) VALUES (?, ?)`

// save adds the set's blocks to the table, in the writer's transaction, in key order.
func (s blockSet) save(ctx context.Context, w *writer) error {
	if len(s) == 0 {
		return nil
	}
	bs := make([]stix.Observable, 0, len(s))
	for o := range s {
		bs = append(bs, o)
	}
	slices.SortFunc(bs, func(a, b stix.Observable) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value))
	})
	st, err := w.stmt(ctx, insBlock)
	if err != nil {
		return err
	}
	for _, o := range bs {
		if _, err := st.ExecContext(ctx, o.Kind, o.Value); err != nil {
			return fmt.Errorf("blocks: %w", err)
		}
	}
	return nil
}

// ObservableBlocks returns the stored CIDR blocks, read in one statement: Known only once the table
// covers every stored form and holds at most limit blocks. See store.Objects.
func (s *Store) ObservableBlocks(ctx context.Context, limit int) (store.Blocks, error) {
	var out store.Blocks
	if limit <= 0 {
		return out, nil
	}
	// One statement, so that the mark and the rows are of one snapshot. The blocks come as one
	// text each (kind, NUL, value): reading a column costs the pure-Go SQLite more than its bytes.
	rows, err := s.rdb.QueryContext(ctx, `SELECT '' FROM observable_blocks_complete
		UNION ALL SELECT * FROM (SELECT kind || char(0) || value FROM observable_blocks LIMIT ?)`, limit+1)
	if err != nil {
		return out, fmt.Errorf("sqlite: blocks: %w", err)
	}
	defer rows.Close()
	known := false
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return out, fmt.Errorf("sqlite: blocks: %w", err)
		}
		if text == "" {
			known = true
			continue
		}
		kind, value, ok := strings.Cut(text, "\x00")
		if !ok {
			return out, fmt.Errorf("sqlite: blocks: malformed row %q", text)
		}
		switch kind {
		case stix.ObsIPv4:
			kind = stix.ObsIPv4 // the constant, not a copy per row
		case stix.ObsIPv6:
			kind = stix.ObsIPv6
		}
		out.Blocks = append(out.Blocks, stix.Observable{Kind: kind, Value: value})
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("sqlite: blocks: %w", err)
	}
	if !known || len(out.Blocks) > limit {
		return store.Blocks{}, nil
	}
	out.Known = true
	return out, nil
}

// checkBlocks verifies the summary of block lengths and the table of blocks against the stored
// forms: both must be marked complete (Open back-fills them); every block a form carries (of its
// observables that a lookup can read) must be in the table and its length in the summary; and
// every block of the table must be carried by a form (forms are never removed, so the table has
// no reason to hold another). A length of the summary that no form carries is not a problem: it
// costs lookups that find nothing.
func checkBlocks(c *checker) error {
	var lengthsDone, blocksDone bool
	if err := c.tx.QueryRowContext(c.ctx, `SELECT EXISTS (SELECT 1 FROM observable_block_lengths_complete),
		EXISTS (SELECT 1 FROM observable_blocks_complete)`).Scan(&lengthsDone, &blocksDone); err != nil {
		return fmt.Errorf("block marks: %w", err)
	}
	if !lengthsDone {
		c.add("observable_block_lengths: not marked complete: correlation looks up blocks of every length")
	}
	if !blocksDone {
		c.add("observable_blocks: not marked complete: correlation cannot use it")
	}
	var lengths blockLengthSet
	if err := c.each(`SELECT kind, bits FROM observable_block_lengths`, func(r *sql.Rows) error {
		var (
			kind string
			bits int
		)
		if err := r.Scan(&kind, &bits); err != nil {
			return err
		}
		f := slices.Index(blockKinds[:], kind)
		if f < 0 || bits < 0 || bits > 128 {
			c.add("observable_block_lengths: kind %q, length %d: not the length of a CIDR block", kind, bits)
			return nil
		}
		lengths[f][bits] = true
		return nil
	}); err != nil {
		return err
	}
	has, err := c.tx.PrepareContext(c.ctx, `SELECT count(*) FROM observable_blocks WHERE kind = ? AND value = ?`)
	if err != nil {
		return err
	}
	defer has.Close()
	// Every block a form carries. Only the forms whose blob holds a / and an IP kind's name can
	// carry one (as in the back-fill).
	if err := c.each(`SELECT vid, id, observables FROM object_versions
		WHERE instr(observables, CAST('/' AS BLOB)) > 0
		AND (instr(observables, CAST('ipv4-addr' AS BLOB)) > 0 OR instr(observables, CAST('ipv6-addr' AS BLOB)) > 0)`, func(r *sql.Rows) error {
		var (
			vid  int64
			id   string
			blob []byte
		)
		if err := r.Scan(&vid, &id, &blob); err != nil {
			return err
		}
		cur := obsCursor{string(blob)}
		for len(cur.b) > 0 {
			o, ok := cur.next()
			if !ok {
				break // reported by checkVersions; no lookup reads past it
			}
			if !isBlock(o) {
				continue
			}
			if f, bits, ok := lengthOf(o); ok && lengthsDone && !lengths[f][bits] {
				c.add("observable_block_lengths: version row %d (%s) carries %s %s, of a length the summary lacks", vid, id, o.Kind, o.Value)
			}
			if blocksDone {
				var n int
				if err := has.QueryRowContext(c.ctx, o.Kind, o.Value).Scan(&n); err != nil {
					return err
				}
				if n == 0 {
					c.add("observable_blocks: version row %d (%s) carries %s %s, which the table lacks", vid, id, o.Kind, o.Value)
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// Every block of the table is carried by a form: one of the keys of its hash leads to it.
	keys, err := c.tx.PrepareContext(c.ctx, `SELECT k.ref, v.observables FROM observable_keys k
		JOIN object_versions v ON v.vid = k.ref >> 20 WHERE k.hash = ?`)
	if err != nil {
		return err
	}
	defer keys.Close()
	return c.each(`SELECT kind, value FROM observable_blocks`, func(r *sql.Rows) error {
		var o stix.Observable
		if err := r.Scan(&o.Kind, &o.Value); err != nil {
			return err
		}
		if !isBlock(o) {
			c.add("observable_blocks: %s %s: not a CIDR block", o.Kind, o.Value)
			return nil
		}
		rows, err := keys.QueryContext(c.ctx, fnv64(o.Kind, o.Value, true))
		if err != nil {
			return err
		}
		defer rows.Close()
		carried := false
		for rows.Next() && !carried {
			var (
				ref  int64
				blob []byte
			)
			if err := rows.Scan(&ref, &blob); err != nil {
				return err
			}
			_, n := obsRefParts(ref)
			got, ok := (&row{obs: string(blob)}).observable(n)
			carried = ok && got == o
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !carried {
			c.add("observable_blocks: %s %s: no stored form carries it", o.Kind, o.Value)
		}
		return nil
	})
}
