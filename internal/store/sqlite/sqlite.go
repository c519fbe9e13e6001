// Package sqlite is renkei's embedded store: store.Store on one SQLite file, through the pure-Go driver
// modernc.org/sqlite (no cgo). It owns the SQLite schema and its embedded migrations, the connection
// layout (one writer connection that serialises writes, a pool of read-only connections), and the SQL
// behind every store operation.
//
// The database runs in WAL mode with synchronous=FULL, so a write is on disk when Write returns, and
// several processes may open the same file at once (the CLI writing while a server reads); every
// write transaction is BEGIN IMMEDIATE, so writers queue on SQLite's lock (busy_timeout) and never
// deadlock.
//
// How writes are kept fast. In the pure-Go SQLite, what an import costs is the number of B-tree
// inserts per object, and above all the number of pages each commit writes to the WAL and each
// checkpoint copies back (a few system calls per page, whatever its size):
//   - a new object is one appended object_versions row and one key in id_keys; its other keys
//     are one per edge and one per observable. There is no objects table: flags on the version
//     row mark the latest form of the object and the latest spec version's form of each version
//     (a version may be stored as STIX 2.0 and 2.1; the identity (id, version key, spec version)
//     is decided in Go, so it costs no index), and object_counts keeps the counts Stats reports;
//   - keys are 64-bit hashes in small WITHOUT ROWID (hash, reference) tables, inserted in key
//     order, so a batch dirties as few pages as its random keys allow; the edges and observables
//     themselves are two small blobs in the version row (edges.go);
//   - created_by_ref and object_marking_refs edges (store.HubEdge) get neither a key nor a place
//     in the blob: nearly every object has them, and the version row (its created_by_ref column,
//     its bytes) answers them;
//   - Write decides every outcome in Go first, reading only the stored versions of the batch's
//     ids, then inserts with multi-row INSERT OR ROLLBACK statements (up to 128 rows), which need
//     no statement journal; the object tables declare no foreign keys, and Check verifies them;
//   - 16 KiB pages: fewer pages per commit and per checkpoint. The writer's cache is small, and
//     memory-mapped I/O is off, so an import of any size holds little memory (see the constants).
//
// Keys land at random places in their tables, so once a table no longer fits in the cache, each
// key costs a page read and a page write: large batches (10,000 objects) amortise those pages over
// more objects. On a two-core machine, a durable import of 1M generated objects (640 bytes each)
// runs at about 42,000 objects/s in batches of 10,000 and 23,000 in batches of 2,000 (go run ./bench).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renkei-cti/renkei/internal/store"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// Defaults of the options.
const DefaultBusyTimeout = 10 * time.Second

// How the database file is laid out and cached. Measured on the import of generated bundles (see
// the package documentation); the memory figures are what the process's resident set grows by.
const (
	// pageSize applies when the database file is created; an existing file keeps its own. Large
	// pages mean fewer pages to write per commit and to copy per checkpoint, and the pure-Go
	// SQLite spends more per page (system calls, checksums) than per byte.
	pageSize = 16 << 10
	// writerCacheKiB is the writer's page cache. The driver's allocator gives each cached 16 KiB
	// page a 64 KiB mapping, and the process's memory grows by about 5 times the nominal size;
	// a larger cache barely helps (measured: 16 MiB instead of 4 is 10% faster at 1M objects,
	// for 60 MiB more memory).
	writerCacheKiB = 4 << 10
	// readerCacheKiB is the page cache of each read connection: reads are mostly served by the
	// operating system's file cache, which is not the process's memory.
	readerCacheKiB = 1 << 10
	// walAutoCheckpoint is the WAL size, in pages, past which a commit copies the WAL back into
	// the database file: 4096 pages of 16 KiB, 64 MiB. A page written by several commits is
	// copied once per checkpoint.
	walAutoCheckpoint = 4096
	// walSizeLimit is the size the WAL file is cut back to once checkpointed.
	walSizeLimit = 64 << 20
	// mmapBytes is 0: mapped pages of the file would count in the process's resident memory, and
	// an import touches every page of a growing file.
	mmapBytes = 0
)

// Option configures Open.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	readers     int
	busyTimeout time.Duration
	now         func() time.Time
	labeler     store.Labeler
	readCache   int64 // WithReadCache
}

// WithLabeler sets the Labeler that labels every form written (default: none, and every form gets
// store.NoLabelCell, which no read scope selects).
func WithLabeler(l store.Labeler) Option { return func(o *options) { o.labeler = l } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithReaders sets the number of read connections (default: twice GOMAXPROCS, at least 4).
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// WithBusyTimeout sets how long a connection waits for a lock held by another connection or process.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithClock sets the clock that stamps stored and date_added times (default: time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Store is store.Store on a SQLite file. It is safe for concurrent use.
type Store struct {
	path    string
	logger  *slog.Logger
	now     func() time.Time
	labeler store.Labeler // nil: every form gets store.NoLabelCell
	wdb     *sql.DB       // one connection: the writer
	w       *writer
	rdb     *sql.DB // read-only connections

	stmtMu    sync.Mutex
	readStmts map[string]*sql.Stmt // prepared read statements, by query text (readQuery)
	cids      sync.Map             // collection id or alias → row id (collectionRow)
	rc        *readCache           // nil unless WithReadCache

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating it when absent, and brings its schema up to date. It
// refuses a database written by a newer renkei (ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{
		logger:      slog.New(slog.DiscardHandler),
		readers:     max(4, 2*runtime.GOMAXPROCS(0)),
		busyTimeout: DefaultBusyTimeout,
		now:         time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readers < 1 {
		return nil, fmt.Errorf("sqlite: %d readers: need at least one", o.readers)
	}
	if path == "" {
		return nil, errors.New("sqlite: no database path given")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q: the characters ? and # are not supported", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("sqlite: directory of the database: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sqlite: %s is not a directory", filepath.Dir(abs))
	}

	busy := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)
	wq := url.Values{}
	wq.Set("_txlock", "immediate")
	wq.Set("_busy_timeout", busy)
	wq.Set("_foreign_keys", "1")
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Add("_pragma", fmt.Sprintf("page_size(%d)", pageSize))
	wq.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKiB))
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walAutoCheckpoint))
	wq.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	wq.Add("_pragma", "temp_store(MEMORY)")
	wq.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
	wdb, err := sql.Open("sqlite", abs+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	conn, err := wdb.Conn(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", abs, err), wdb.Close())
	}
	w := &writer{conn: conn, stmts: map[string]*sql.Stmt{}}
	if err := migrate(ctx, w, abs, o.now); err != nil {
		return nil, errors.Join(err, w.close(), wdb.Close())
	}
	if err := backfillBlockLengths(ctx, w, o.logger); err != nil { // block_lengths.go
		return nil, errors.Join(err, w.close(), wdb.Close())
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", busy)
	rq.Set("_query_only", "1")
	rq.Add("_pragma", fmt.Sprintf("cache_size(-%d)", readerCacheKiB))
	rq.Add("_pragma", "temp_store(MEMORY)")
	rq.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapBytes))
	rdb, err := sql.Open("sqlite", abs+"?"+rq.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s for reading: %w", abs, err), w.close(), wdb.Close())
	}
	conns := o.readers
	if o.readCache > 0 {
		conns++ // the read cache keeps one
	}
	rdb.SetMaxOpenConns(conns)
	rdb.SetMaxIdleConns(conns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	if err := rdb.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s for reading: %w", abs, err), rdb.Close(), w.close(), wdb.Close())
	}
	o.logger.LogAttrs(ctx, slog.LevelDebug, "sqlite store open", slog.String("path", abs), slog.Int("readers", o.readers))
	var rc *readCache
	if o.readCache > 0 {
		if rc, err = newReadCache(ctx, rdb, o.readCache); err != nil {
			return nil, errors.Join(err, rdb.Close(), w.close(), wdb.Close())
		}
	}
	return &Store{path: abs, logger: o.logger, now: o.now, labeler: o.labeler, wdb: wdb, w: w, rdb: rdb,
		readStmts: map[string]*sql.Stmt{}, rc: rc}, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes every connection. It waits for nothing: callers stop using the store first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		s.stmtMu.Lock()
		var errs []error
		for _, st := range s.readStmts {
			errs = append(errs, st.Close())
		}
		s.readStmts = map[string]*sql.Stmt{}
		s.stmtMu.Unlock()
		if s.rc != nil {
			errs = append(errs, s.rc.close())
		}
		s.closeErr = errors.Join(append(errs, s.w.close(), s.wdb.Close(), s.rdb.Close())...)
	})
	return s.closeErr
}

// writer is the single write connection and its prepared statements. mu serialises its use.
type writer struct {
	mu    sync.Mutex
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// stmt returns the prepared statement for query, preparing it on first use. Callers hold mu.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", firstLine(query), err)
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	w.stmts = nil
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

// inTx runs fn in an immediate write transaction on the writer connection: it commits when fn
// returns nil and rolls back otherwise. When ctx carries an audit record (store.WithAudit), the
// record is appended in the same transaction, after fn.
func (s *Store) inTx(ctx context.Context, fn func(w *writer) error) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	rec, audit := store.TakeAudit(ctx)
	err := s.w.inTx(ctx, func(w *writer) error {
		if err := fn(w); err != nil {
			return err
		}
		if audit {
			_, err := s.appendAudit(ctx, w, rec)
			return err
		}
		return nil
	})
	if err != nil && audit {
		store.ReleaseAudit(ctx)
	}
	return err
}

// rawTx is inTx without the audit record: for object batches, whose imports are audited once as a
// whole, and for the audit log itself.
func (s *Store) rawTx(ctx context.Context, fn func(w *writer) error) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.inTx(ctx, fn)
}

func (w *writer) inTx(ctx context.Context, fn func(w *writer) error) (err error) {
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			// A panic inside fn must not commit half a batch: roll back, then let the panic go on.
			if _, rerr := w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !isNoTx(rerr) {
				panic(fmt.Sprintf("%v (and the rollback failed: %v)", p, rerr))
			}
			panic(p)
		}
		if err == nil {
			_, cerr := w.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
			if cerr == nil {
				return
			}
			err = fmt.Errorf("commit: %w", cerr)
		}
		// After a failed COMMIT (a deferred foreign key) the transaction is still open; after an
		// OR ROLLBACK conflict it is gone already.
		if _, rerr := w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !isNoTx(rerr) {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
	}()
	return fn(w)
}

// isNoTx reports whether a ROLLBACK failed only because SQLite had already rolled back.
func isNoTx(err error) bool {
	return strings.Contains(err.Error(), "no transaction is active")
}

// micro converts a time to microseconds since the epoch; the zero time gives 0.
func micro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicro converts microseconds since the epoch to a UTC time; 0 gives the zero time.
func fromMicro(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
