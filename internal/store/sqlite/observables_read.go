package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Bulk reads of the observables index, for correlation (store.Objects: LookupObservables here,
// SharedObservables in observables_shared.go). LookupObservables works in two steps: first the keys
// alone, from observable_keys (a hash and a reference per key), then the version rows the keys
// point at, fetched by row id in ascending order, many per statement. The sets of hashes and row ids
// travel as one JSON array argument read by json_each, so a statement looks up tens of thousands of
// them at once instead of paying a round trip each.
// MaxLookupObservables bounds the observables of one LookupObservables call.
const MaxLookupObservables = 4 << 20

// Sizes of the bulk reads; variables so that tests can make them small.
var (
	// obsChunk is how many hashes, or row ids, one statement looks up.
	obsChunk = 32 << 10
	// sharedKeysPage is how many keys SharedObservables reads per statement.
	sharedKeysPage = 64 << 10
)

// passCacheKiB is the page cache of the connection a bulk read holds: 256 pages keep the interior
// pages of object_versions and observable_keys of a store of 10M observables (174 and 22 pages),
// so that a row or key sought costs at most the read of its leaf page (the pool's connections
// cache 1 MiB, 64 pages).
const passCacheKiB = 4 << 10

// pass is a read connection of the pool held for one bulk read, with a larger page cache and
// its own prepared statements.
type pass struct {
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt
	logger *slog.Logger
}

func (s *Store) beginPass(ctx context.Context) (*pass, error) {
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", passCacheKiB)); err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	return &pass{conn: conn, stmts: map[string]*sql.Stmt{}, logger: s.logger}, nil
}

// end gives the connection back to the pool as it was; one whose cache size cannot be restored
// is discarded. Failures are logged: the bulk read itself is done.
func (p *pass) end(ctx context.Context) {
	var errs []error
	for _, st := range p.stmts {
		errs = append(errs, st.Close())
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := p.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", readerCacheKiB)); err != nil {
		errs = append(errs, err)
		// Returning ErrBadConn makes the pool discard the connection rather than take it back
		// with the large cache; that error is the point, not a failure.
		if rawErr := p.conn.Raw(func(any) error { return driver.ErrBadConn }); !errors.Is(rawErr, driver.ErrBadConn) {
			errs = append(errs, rawErr)
		}
	}
	errs = append(errs, p.conn.Close())
	if err := errors.Join(errs...); err != nil {
		p.logger.LogAttrs(ctx, slog.LevelWarn, "sqlite: ending a bulk read", slog.Any("err", err))
	}
}

func (p *pass) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, ok := p.stmts[query]
	if !ok {
		var err error
		if st, err = p.conn.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		p.stmts[query] = st
	}
	return st.QueryContext(ctx, args...)
}

// obsKey is one key of observable_keys.
type obsKey struct{ hash, ref int64 }

// jsonInts writes ns as a JSON array, for json_each.
func jsonInts(ns []int64) string {
	b := make([]byte, 0, 2+len(ns)*21)
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return string(append(b, ']'))
}

// keysOf returns the keys whose hash is one of hashes, which must be sorted and distinct, in (hash,
// ref) order. The statement walks the hashes in their order and seeks each one in the table's key
// order, so consecutive seeks touch nearby pages.
func (p *pass) keysOf(ctx context.Context, hashes []int64) ([]obsKey, error) {
	var keys []obsKey
	for chunk := range slices.Chunk(hashes, obsChunk) {
		rows, err := p.query(ctx, `SELECT k.hash, k.ref FROM json_each(?) j
			CROSS JOIN observable_keys k ON k.hash = j.value`, jsonInts(chunk))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k obsKey
			if err := rows.Scan(&k.hash, &k.ref); err != nil {
				rows.Close()
				return nil, err
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return nil, err
		}
		rows.Close()
	}
	return keys, nil
}

// row is a version row read for its observables: the version without its bytes, and its
// observables blob (as a string sharing the row's one allocation, see rowReader).
type row struct {
	vid int64
	v   store.Version
	obs string
}

// observable returns the observable entry n of the row, without allocating.
func (r *row) observable(n int) (stix.Observable, bool) {
	c := obsCursor{r.obs}
	for i := 0; ; i++ {
		o, ok := c.next()
		if !ok || i == n {
			return o, ok
		}
	}
}

// obsCursor reads the entries of an observables blob (edges.go) held in a string, without
// allocating: the texts it returns share the string.
type obsCursor struct{ b string }

// next returns the next entry; false at the end, or when the blob is malformed.
func (c *obsCursor) next() (stix.Observable, bool) {
	kind, ok1 := c.text()
	value, ok2 := c.text()
	return stix.Observable{Kind: kind, Value: value}, ok1 && ok2
}

// text reads a uvarint length (as binary.Uvarint does), then that many bytes.
func (c *obsCursor) text() (string, bool) {
	var l uint64
	k := 0
	for shift := 0; ; shift += 7 {
		if k == len(c.b) || k == binary.MaxVarintLen64 {
			return "", false
		}
		x := c.b[k]
		k++
		l |= uint64(x&0x7f) << shift
		if x < 0x80 {
			break
		}
	}
	if l > uint64(len(c.b)-k) {
		return "", false
	}
	t := c.b[k : k+int(l)]
	c.b = c.b[k+int(l):]
	return t, true
}

// rowCols are the columns rowReader reads: few of them, because reading a column costs the pure-Go
// SQLite more than reading a longer one (two locked calls per column per row). The flags hold the
// two labels' cells, revoked and the two hosted flags; the text holds the digest (32 bytes), then
// the texts of the row each ended by a NUL byte (none of them can hold one: they are identifiers,
// timestamps and type names the decoder validated), then the observables blob.
// (SQLite gives | and << the same precedence: each shift is parenthesised.)
var rowCols = `v.vid, v.stored_at, v.cell | (v.obj_cell << 8) | (v.revoked << 16) | ((` + hostedSQL("v.created_by_ref") + `) << 17) | ((` +
	hostedSQL("v.obj_owner") + `) << 18), ` + `v.digest || ` + strings.Join([]string{"v.id", "v.created", "v.modified", "v.version_key",
	"v.type", "v.spec_version", "v.created_by_ref", "v.grp", "v.obj_grp", "v.obj_owner"}, " || char(0) || ") + ` || char(0) || ifnull(v.observables, x'')`

// rowTexts is how many NUL-ended texts follow the digest in rowCols' text.
const rowTexts = 10

// rowReader scans rows with few allocations: one string per row holds the texts that differ from
// row to row (id, timestamps, observables), and those that repeat (type, spec version, creators,
// groups) are interned. A pass over millions of rows otherwise spends much of its time allocating
// and collecting small strings.
type rowReader struct {
	vid, stored, flags int64
	text               string
	dest               []any
	intern             map[string]string
}

// maxIntern bounds the distinct texts a rowReader interns; past it, texts are kept as they are.
const maxIntern = 1 << 16

func newRowReader() *rowReader {
	r := &rowReader{intern: map[string]string{}}
	r.dest = []any{&r.vid, &r.stored, &r.flags, &r.text}
	return r
}

func (r *rowReader) interned(s string) string {
	if t, ok := r.intern[s]; ok {
		return t
	}
	if len(r.intern) < maxIntern {
		s = strings.Clone(s) // not the row's string, which it would keep alive
		r.intern[s] = s
	}
	return s
}

func (r *rowReader) scan(rows *sql.Rows, out *row) error {
	if err := rows.Scan(r.dest...); err != nil {
		return err
	}
	*out = row{vid: r.vid}
	v := &out.v
	rest := r.text
	if len(rest) < len(v.Digest) {
		return fmt.Errorf("row %d: malformed", r.vid)
	}
	copy(v.Digest[:], rest)
	rest = rest[len(v.Digest):]
	var t [rowTexts]string
	for i := range t {
		n := strings.IndexByte(rest, 0)
		if n < 0 {
			return fmt.Errorf("row %d: malformed", r.vid)
		}
		t[i], rest = rest[:n], rest[n+1:]
	}
	v.ID, v.Created, v.Modified, v.VersionKey = t[0], t[1], t[2], t[3]
	v.Type, v.SpecVersion, v.CreatedByRef = r.interned(t[4]), r.interned(t[5]), r.interned(t[6])
	v.Label.Group, v.Object.Group, v.Object.Owner = r.interned(t[7]), r.interned(t[8]), r.interned(t[9])
	out.obs = rest
	v.Stored = fromMicro(r.stored)
	f := r.flags
	v.Label.Cell, v.Object.Cell = uint8(f), uint8(f>>8)
	v.Revoked, v.OwnerLocal, v.Object.OwnerLocal = f>>16&1 == 1, f>>17&1 == 1, f>>18&1 == 1
	return nil
}

// latestRows calls fn with the latest forms among the rows vids (ascending, distinct: read in file
// order), narrowed to scope, in vid order; the others are skipped.
func (p *pass) latestRows(ctx context.Context, vids []int64, scope *store.ReadScope, rr *rowReader, fn func(*row)) error {
	q := &listQuery{}
	if scope != nil {
		q.scope(scope, "v.created_by_ref", "v.cell", "v.grp")
		q.scope(scope, "v.obj_owner", "v.obj_cell", "v.obj_grp")
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + rowCols + ` FROM json_each(?) j CROSS JOIN object_versions v ON v.vid = j.value WHERE v.latest`)
	for _, c := range q.where {
		b.WriteString(" AND " + c)
	}
	query := b.String()
	var r row
	for chunk := range slices.Chunk(vids, obsChunk) {
		rows, err := p.query(ctx, query, append([]any{jsonInts(chunk)}, q.args...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := rr.scan(rows, &r); err != nil {
				rows.Close()
				return err
			}
			fn(&r)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
	}
	return nil
}

// carried returns the observable key k points at, when r is its row and it is k's entry.
func carried(r *row, k obsKey) (stix.Observable, bool) {
	if r == nil {
		return stix.Observable{}, false
	}
	_, n := obsRefParts(k.ref)
	return r.observable(n)
}

// LookupObservables is ObservableVersions for many observables at once. See store.Objects.
func (s *Store) LookupObservables(ctx context.Context, obs []stix.Observable, scope *store.ReadScope, limit int) ([][]store.Version, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: lookup observables: limit %d must be positive", limit)
	}
	if len(obs) > MaxLookupObservables {
		return nil, fmt.Errorf("sqlite: lookup observables: %d observables, more than the limit of %d", len(obs), MaxLookupObservables)
	}
	out := make([][]store.Version, len(obs))
	hashOf := make([]int64, len(obs))
	for i, o := range obs {
		hashOf[i] = fnv64(o.Kind, o.Value, true)
	}
	hashes := slices.Clone(hashOf)
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	// One connection: reading with several at once was measured slower (their page caches were
	// dropped at every statement, and each seek read its page again).
	p, err := s.beginPass(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lookup observables: %w", err)
	}
	defer p.end(ctx)
	keys, err := p.keysOf(ctx, hashes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lookup observables: %w", err)
	}
	if len(keys) == 0 {
		return out, nil
	}
	// The asked observables of each hash found.
	askedBy := map[int64][]int32{}
	for _, k := range keys {
		askedBy[k.hash] = nil
	}
	for i, h := range hashOf {
		if a, ok := askedBy[h]; ok {
			askedBy[h] = append(a, int32(i))
		}
	}
	// The keys of each hash, in ref (so row id) order. Rows are read a round at a time: of each
	// hash, the keys after those already read, up to what it still needs (a key may lead to a form
	// that is not the latest or not in scope, so a hash may need several rounds).
	type run struct {
		keys []obsKey // not yet read
		want int      // carriers still wanted by the asked observables of this hash
		ask  []int32
	}
	var runs []*run
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].hash == keys[i].hash {
			j++
		}
		runs = append(runs, &run{keys: keys[i:j], want: limit, ask: askedBy[keys[i].hash]})
		i = j
	}
	rows := map[int64]*row{}
	rr := newRowReader()
	var fetched []row
	for len(runs) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var vids []int64
		take := make([]int, len(runs))
		for r, ru := range runs {
			// Twice what is wanted: most keys lead to a latest form in scope.
			take[r] = min(len(ru.keys), 2*ru.want+1)
			for _, k := range ru.keys[:take[r]] {
				vids = append(vids, k.ref>>20)
			}
		}
		slices.Sort(vids)
		vids = slices.Compact(vids)
		clear(rows)
		fetched = slices.Grow(fetched[:0], len(vids))
		if err := p.latestRows(ctx, vids, scope, rr, func(r *row) { fetched = append(fetched, *r) }); err != nil {
			return nil, fmt.Errorf("sqlite: lookup observables: %w", err)
		}
		for i := range fetched {
			rows[fetched[i].vid] = &fetched[i]
		}
		next := runs[:0]
		for r, ru := range runs {
			for _, k := range ru.keys[:take[r]] {
				f := rows[k.ref>>20]
				o, ok := carried(f, k)
				if !ok {
					continue
				}
				for _, a := range ru.ask {
					if obs[a] == o && len(out[a]) < limit { // not a hash collision
						out[a] = append(out[a], f.v)
					}
				}
			}
			ru.keys = ru.keys[take[r]:]
			ru.want = 0
			for _, a := range ru.ask {
				ru.want = max(ru.want, limit-len(out[a]))
			}
			if len(ru.keys) > 0 && ru.want > 0 {
				next = append(next, ru)
			}
		}
		runs = next
	}
	return out, nil
}

// keysAfter returns up to n keys after k, in (hash, ref) order.
func (p *pass) keysAfter(ctx context.Context, k obsKey, n int) ([]obsKey, error) {
	rows, err := p.query(ctx, `SELECT hash, ref FROM observable_keys WHERE (hash, ref) > (?, ?)
		ORDER BY hash, ref LIMIT ?`, k.hash, k.ref, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := make([]obsKey, 0, n)
	for rows.Next() {
		var k obsKey
		if err := rows.Scan(&k.hash, &k.ref); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// parallelReaders is how many connections a bulk read may use at once: one per core, at most
// maxSharedReaders, and one connection of the pool left for others.
func (s *Store) parallelReaders() int {
	return max(1, min(runtime.GOMAXPROCS(0), maxSharedReaders, s.rdb.Stats().MaxOpenConnections-1))
}

// maxSharedReaders bounds the connections of one bulk read.
const maxSharedReaders = 4
