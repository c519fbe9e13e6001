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
// How writes are kept fast (a random-key B-tree insert costs a few microseconds in the pure-Go SQLite,
// so the number of them per object is what matters):
//   - objects are referred to by integer row ids (oid, vid), not by their 40-to-60-byte STIX ids;
//   - Write decides every outcome in Go first, reading only what the batch needs, then inserts with
//     multi-row INSERTs (up to 64 rows), OR ROLLBACK and deferred foreign keys, which spare SQLite
//     its statement journal;
//   - the two randomly written secondary indexes of edges and observables are on a 64-bit hash
//     (small keys, fewer pages dirtied per batch), and rows are inserted in index order;
//   - edges from the object itself store an empty source and need no source index;
//   - relationships and observables carry no declared foreign key (a 15% cost); Check verifies them.
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
const (
	DefaultBusyTimeout = 10 * time.Second
	// pageSize applies when the database file is created; an existing file keeps its own.
	pageSize = 4096
	// writerCacheKiB and readerCacheKiB are the page caches of the writer and of each reader.
	writerCacheKiB = 64 << 10
	readerCacheKiB = 16 << 10
	// walAutoCheckpoint is the WAL size, in pages, past which a commit copies the WAL back into the
	// database file. Pages written again and again (index pages) are copied once per checkpoint, so
	// a large value saves work; 16384 pages of 4 KiB bound the WAL to about 64 MiB.
	walAutoCheckpoint = 16384
	// walSizeLimit is the size the WAL file is cut back to once checkpointed.
	walSizeLimit = 64 << 20
	// mmapBytes maps the database file into memory, so reading a page costs no system call.
	mmapBytes = 1 << 30
)

// Option configures Open.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	readers     int
	busyTimeout time.Duration
	now         func() time.Time
}

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
	path   string
	logger *slog.Logger
	now    func() time.Time
	wdb    *sql.DB // one connection: the writer
	w      *writer
	rdb    *sql.DB // read-only connections

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
	rdb.SetMaxOpenConns(o.readers)
	rdb.SetMaxIdleConns(o.readers)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(5 * time.Minute)
	if err := rdb.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s for reading: %w", abs, err), rdb.Close(), w.close(), wdb.Close())
	}
	o.logger.LogAttrs(ctx, slog.LevelDebug, "sqlite store open", slog.String("path", abs), slog.Int("readers", o.readers))
	return &Store{path: abs, logger: o.logger, now: o.now, wdb: wdb, w: w, rdb: rdb}, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes every connection. It waits for nothing: callers stop using the store first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		s.closeErr = errors.Join(s.w.close(), s.wdb.Close(), s.rdb.Close())
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
// returns nil and rolls back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(w *writer) error) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.inTx(ctx, fn)
}

func (w *writer) inTx(ctx context.Context, fn func(w *writer) error) (err error) {
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
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
