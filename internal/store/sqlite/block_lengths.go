package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// The summary of the prefix lengths of stored CIDR blocks (migration 0005): observable_block_lengths
// holds one row per (kind, length) that a stored form ever carried, and
// observable_block_lengths_complete a row once that covers every stored form. insertRows adds the
// lengths of the forms it inserts in its own transaction, so the summary is never behind the rows;
// a database migrated with observables already stored is back-filled once, at Open.

// blockLengthSet is a set of prefix lengths: [0] of ipv4-addr blocks, [1] of ipv6-addr blocks.
type blockLengthSet [2][129]bool

// add records the length of o when it is a CIDR block.
func (s *blockLengthSet) add(o stix.Observable) {
	if f, bits, ok := lengthOf(o); ok {
		s[f][bits] = true
	}
}

// lengthOf returns the family (0 IPv4, 1 IPv6) and length of o when it is a CIDR block. The length
// is the text after the last /, as a number: a stored value that a lookup can find is canonical, so
// its length is that number, and a value whose suffix is not a length no lookup of a block can find.
func lengthOf(o stix.Observable) (f, bits int, ok bool) {
	switch o.Kind {
	case stix.ObsIPv4:
	case stix.ObsIPv6:
		f = 1
	default:
		return 0, 0, false
	}
	i := strings.LastIndexByte(o.Value, '/')
	if i < 0 {
		return 0, 0, false
	}
	bits, err := strconv.Atoi(o.Value[i+1:])
	if err != nil || bits < 0 || bits > 128 {
		return 0, 0, false
	}
	return f, bits, true
}

// addAll records every length of both kinds: what a form whose observables cannot be read may carry.
func (s *blockLengthSet) addAll() {
	for f := range s {
		for bits := range s[f] {
			s[f][bits] = true
		}
	}
}

var blockKinds = [2]string{stix.ObsIPv4, stix.ObsIPv6}

const insBlockLength = `INSERT OR IGNORE INTO observable_block_lengths (kind, bits) VALUES (?, ?)`

// save adds the set's lengths to the summary, in the writer's transaction.
func (s *blockLengthSet) save(ctx context.Context, w *writer) error {
	var st *sql.Stmt
	for f := range s {
		for bits, ok := range s[f] {
			if !ok {
				continue
			}
			if st == nil {
				var err error
				if st, err = w.stmt(ctx, insBlockLength); err != nil {
					return err
				}
			}
			if _, err := st.ExecContext(ctx, blockKinds[f], bits); err != nil {
				return fmt.Errorf("block lengths: %w", err)
			}
		}
	}
	return nil
}

// noteBlockLengths adds to the summary the lengths of the CIDR blocks that the new rows carry, and
// the blocks themselves to observable_blocks (blocks.go). It runs in the transaction that inserts
// them (insertRows).
func noteBlockLengths(ctx context.Context, w *writer, rows []newRow) error {
	var set blockLengthSet
	blocks := blockSet{}
	for i := range rows {
		for _, o := range rows[i].nv.Object.Observables {
			if isBlock(o) {
				set.add(o)
				blocks.add(o)
			}
		}
	}
	if err := set.save(ctx, w); err != nil {
		return err
	}
	return blocks.save(ctx, w)
}

// backfillBlockLengths completes the summary of block lengths (migration 0005) and the table of
// blocks (0006, blocks.go) of a database that held observables before them: in one write
// transaction, it reads the observables of every stored form that may carry a block, records what
// is missing, and marks both complete. An up-to-date database costs one read. A form whose
// observables blob cannot be read counts as carrying every length (Check reports the blob); of
// its blocks, those before the unreadable entry are recorded, the only ones a lookup can find.
func backfillBlockLengths(ctx context.Context, w *writer, logger *slog.Logger) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	complete := func() (lengths, blocks bool, err error) {
		err = w.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM observable_block_lengths_complete),
			EXISTS (SELECT 1 FROM observable_blocks_complete)`).Scan(&lengths, &blocks)
		return lengths, blocks, err
	}
	if lengthsDone, blocksDone, err := complete(); err != nil || lengthsDone && blocksDone {
		if err != nil {
			return fmt.Errorf("sqlite: block lengths: %w", err)
		}
		return nil
	}
	start := time.Now()
	var (
		set                     blockLengthSet
		blocks                  = blockSet{}
		forms                   int
		lengthsDone, blocksDone bool
	)
	err := w.inTx(ctx, func(w *writer) error {
		var err error
		if lengthsDone, blocksDone, err = complete(); err != nil || lengthsDone && blocksDone {
			return err
		}
		// Only the blobs holding a / and an IP kind's name can carry a block; SQLite looks for
		// them, so that the other rows are never returned.
		rows, err := w.conn.QueryContext(ctx, `SELECT observables FROM object_versions
			WHERE instr(observables, CAST('/' AS BLOB)) > 0
			AND (instr(observables, CAST('ipv4-addr' AS BLOB)) > 0 OR instr(observables, CAST('ipv6-addr' AS BLOB)) > 0)`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var blob sql.RawBytes
		for rows.Next() {
			if err := rows.Scan(&blob); err != nil {
				return err
			}
			forms++
			c := obsCursor{string(blob)}
			for len(c.b) > 0 {
				o, ok := c.next()
				if !ok {
					set.addAll()
					break
				}
				if isBlock(o) {
					set.add(o)
					blocks.add(o)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !lengthsDone {
			if err := set.save(ctx, w); err != nil {
				return err
			}
			if _, err := w.conn.ExecContext(ctx, `INSERT INTO observable_block_lengths_complete (singleton) VALUES (1)`); err != nil {
				return err
			}
		}
		if !blocksDone {
			if err := blocks.save(ctx, w); err != nil {
				return err
			}
			if _, err := w.conn.ExecContext(ctx, `INSERT INTO observable_blocks_complete (singleton) VALUES (1)`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: back-filling the stored CIDR blocks: %w", err)
	}
	if lengthsDone && blocksDone {
		return nil // another process did it first
	}
	n := 0
	for f := range set {
		for _, ok := range set[f] {
			if ok {
				n++
			}
		}
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "sqlite: back-filled the stored CIDR blocks and their lengths",
		slog.Int("forms", forms), slog.Bool("lengths_added", !lengthsDone), slog.Int("lengths", n),
		slog.Bool("blocks_added", !blocksDone), slog.Int("blocks", len(blocks)), slog.Duration("took", time.Since(start)))
	return nil
}

// ObservableBlockLengths returns the prefix lengths of the stored CIDR blocks, read in one
// statement: Known only once the summary covers every stored form. See store.Objects.
func (s *Store) ObservableBlockLengths(ctx context.Context) (store.BlockLengths, error) {
	var out store.BlockLengths
	rows, err := s.rdb.QueryContext(ctx, `SELECT '', 0 FROM observable_block_lengths_complete
		UNION ALL SELECT kind, bits FROM observable_block_lengths`)
	if err != nil {
		return out, fmt.Errorf("sqlite: block lengths: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			kind string
			bits int
		)
		if err := rows.Scan(&kind, &bits); err != nil {
			return out, fmt.Errorf("sqlite: block lengths: %w", err)
		}
		switch kind {
		case "":
			out.Known = true
		case stix.ObsIPv4:
			out.IPv4 = append(out.IPv4, bits)
		case stix.ObsIPv6:
			out.IPv6 = append(out.IPv6, bits)
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("sqlite: block lengths: %w", err)
	}
	if !out.Known {
		return store.BlockLengths{}, nil
	}
	slices.Sort(out.IPv4)
	slices.Sort(out.IPv6)
	return out, nil
}
