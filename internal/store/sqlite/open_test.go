package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenWhileAnotherProcessWrites opens an up-to-date store while another connection holds the write
// lock, as `renkei serve` or `renkei stats` does while an import commits a long batch. Opening must not
// need the lock: with a busy timeout far shorter than the lock is held, it still succeeds.
func TestOpenWhileAnotherProcessWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
			t.Errorf("rollback: %v", err)
		}
	}()

	st, err = Open(t.Context(), path, WithBusyTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatalf("opening while another connection writes: %v", err)
	}
	defer st.Close()
	if _, err := st.Stats(t.Context()); err != nil {
		t.Fatalf("reading while another connection writes: %v", err)
	}
}

// TestPanicInTransactionRollsBack checks that a panic inside a write transaction stores nothing.
func TestPanicInTransactionRollsBack(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "renkei.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not propagate")
			}
		}()
		_ = st.inTx(t.Context(), func(w *writer) error {
			if _, err := w.conn.ExecContext(t.Context(), `INSERT INTO collections (id, title, description, created_at) VALUES ('c', 't', 'd', 0)`); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	cs, err := st.ListCollections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Fatalf("a panicking transaction committed %d collections", len(cs))
	}
}
