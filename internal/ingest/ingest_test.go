package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// memStore is the smallest store.Objects that behaves like a real one for Write: it keeps versions by
// (id, version key), reports duplicates and conflicts, and honours Batch.Strict. The other methods are
// not used by the importer (calling one panics, through the nil embedded interface).
type memStore struct {
	store.Objects
	mu      sync.Mutex
	byKey   map[string][32]byte
	order   []string // ids in write order
	batches int
	failAt  int // when > 0, the failAt-th Write call fails
}

func newMemStore() *memStore { return &memStore{byKey: map[string][32]byte{}} }

func (m *memStore) Write(_ context.Context, b store.Batch) ([]store.Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	if m.failAt > 0 && m.batches == m.failAt {
		return nil, errors.New("disk on fire")
	}
	out := make([]store.Outcome, len(b.Versions))
	staged := map[string][32]byte{}
	var firstErr error
	for i, v := range b.Versions {
		k := v.Object.ID + "@" + v.Object.Version().Key()
		d, ok := m.byKey[k]
		if !ok {
			d, ok = staged[k]
		}
		switch {
		case !ok:
			staged[k] = v.Digest
			out[i].Status = store.StatusAdded
		case d == v.Digest:
			out[i].Status = store.StatusDuplicate
		default:
			out[i] = store.Outcome{Status: store.StatusRejected, Err: fmt.Errorf("%s: %w", v.Object.ID, store.ErrConflict)}
			if firstErr == nil {
				firstErr = out[i].Err
			}
		}
	}
	if b.Strict && firstErr != nil {
		return out, firstErr
	}
	for i, v := range b.Versions {
		if out[i].Status == store.StatusAdded {
			m.byKey[v.Object.ID+"@"+v.Object.Version().Key()] = v.Digest
			m.order = append(m.order, v.Object.ID)
		}
	}
	return out, nil
}

func indicator(n int, modified string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000","created":"2024-01-01T00:00:00.000Z","modified":%q,"name":"n%d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`, n, modified, n, n%256)
}

func bundle(objs ...string) string {
	return `{"type":"bundle","id":"bundle--6f0a1a4e-3c5b-4a0e-9b8e-2d1f0c3b4a5d","objects":[` + strings.Join(objs, ",\n") + `]}`
}

func TestImportReportsEachOutcome(t *testing.T) {
	st := newMemStore()
	im := New(st, nil)
	good1 := indicator(1, "2024-01-01T00:00:00.000Z")
	bad := `{"type":"indicator","spec_version":"2.1","id":"indicator--nope"}`
	good2 := indicator(2, "2024-01-01T00:00:00.000Z")
	conflict := indicator(1, "2024-01-01T00:00:00.000Z")
	conflict = strings.Replace(conflict, `"name":"n1"`, `"name":"changed"`, 1)
	in := bundle(good1, bad, good2, good1, conflict)

	rep, err := im.Import(t.Context(), strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 2 || rep.Duplicate != 1 || rep.Rejected != 2 {
		t.Fatalf("report = %+v, want 2 accepted, 1 duplicate, 2 rejected", rep)
	}
	if len(rep.Errors) != 2 {
		t.Fatalf("errors = %v", rep.Errors)
	}
	bad0 := rep.Errors[0]
	if bad0.Index != 1 || !strings.HasPrefix(in[bad0.Offset:], bad) {
		t.Errorf("first rejection at index %d offset %d, want index 1 at the bad object's offset", bad0.Index, bad0.Offset)
	}
	if !errors.Is(bad0.Err, stix.ErrInvalid) {
		t.Errorf("first rejection %v is not a validation error", bad0.Err)
	}
	c := rep.Errors[1]
	if c.Index != 4 || c.ObjectID != "indicator--00000001-0000-4000-8000-000000000000" || !errors.Is(c, store.ErrConflict) {
		t.Errorf("second rejection = %v (index %d, id %q), want the conflict at index 4", c, c.Index, c.ObjectID)
	}

	// The same input again adds nothing.
	rep, err = im.Import(t.Context(), strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 0 || rep.Duplicate != 3 || rep.Rejected != 2 {
		t.Fatalf("second import = %+v, want 0 accepted, 3 duplicate, 2 rejected", rep)
	}
}

func TestImportResultPerObject(t *testing.T) {
	im := New(newMemStore(), nil)
	good1 := indicator(1, "2024-01-01T00:00:00.000Z")
	bad := `{"type":"indicator","spec_version":"2.1","id":"indicator--nope"}`
	conflict := strings.Replace(good1, `"name":"n1"`, `"name":"changed"`, 1)
	in := bundle(good1, bad, good1, conflict, indicator(2, "2024-02-01T00:00:00.000Z"))
	var mu sync.Mutex
	got := map[int]ObjectResult{}
	_, err := im.Import(t.Context(), strings.NewReader(in), Options{BatchSize: 2, Result: func(r ObjectResult) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[r.Index]; dup {
			t.Errorf("object %d reported twice", r.Index)
		}
		got[r.Index] = r
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, version string
		status      store.Status
	}{
		{"indicator--00000001-0000-4000-8000-000000000000", "2024-01-01T00:00:00.000Z", store.StatusAdded},
		{"", "", store.StatusRejected}, // its id is not an id
		{"indicator--00000001-0000-4000-8000-000000000000", "2024-01-01T00:00:00.000Z", store.StatusDuplicate},
		{"indicator--00000001-0000-4000-8000-000000000000", "2024-01-01T00:00:00.000Z", store.StatusRejected},
		{"indicator--00000002-0000-4000-8000-000000000000", "2024-02-01T00:00:00.000Z", store.StatusAdded},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.ID != w.id || r.Version != w.version || r.Status != w.status || (r.Err != nil) != (w.status == store.StatusRejected) {
			t.Errorf("result %d = %+v, want %s %s %v", i, r, w.id, w.version, w.status)
		}
	}
}

func TestImportKeepsInputOrderAcrossBatches(t *testing.T) {
	st := newMemStore()
	const n = 5000 // many chunks, several batches, more than one worker
	objs := make([]string, n)
	for i := range objs {
		objs[i] = indicator(i, "2024-01-01T00:00:00.000Z")
	}
	var progress []Progress
	rep, err := New(st, nil).Import(t.Context(), strings.NewReader(bundle(objs...)), Options{
		BatchSize: 700,
		Progress:  func(p Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != n {
		t.Fatalf("accepted %d, want %d", rep.Accepted, n)
	}
	for i, id := range st.order {
		if want := fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i); id != want {
			t.Fatalf("object %d written as %s, want %s: input order lost", i, id, want)
		}
	}
	if want := (n + 699) / 700; st.batches != want || len(progress) != want {
		t.Errorf("%d batches and %d progress reports, want %d of each", st.batches, len(progress), want)
	}
	if last := progress[len(progress)-1]; last.Accepted != n || last.BytesRead == 0 {
		t.Errorf("last progress = %+v", last)
	}
}

func TestImportStrict(t *testing.T) {
	good := indicator(1, "2024-01-01T00:00:00.000Z")
	bad := strings.Replace(indicator(2, "2024-01-01T00:00:00.000Z"), `"created":"2024-01-01T00:00:00.000Z"`, `"created":"2025-01-01T00:00:00.000Z"`, 1)
	t.Run("invalid object", func(t *testing.T) {
		st := newMemStore()
		_, err := New(st, nil).Import(t.Context(), strings.NewReader(bundle(good, bad)), Options{Strict: true})
		var oe *ObjectError
		if !errors.Is(err, ErrStrict) || !errors.As(err, &oe) || oe.Index != 1 {
			t.Fatalf("err = %v, want a strict abort naming object 1", err)
		}
		if len(st.order) != 0 || st.batches != 0 {
			t.Fatalf("strict import wrote %d objects in %d batches", len(st.order), st.batches)
		}
	})
	t.Run("conflict found by the store", func(t *testing.T) {
		st := newMemStore()
		changed := strings.Replace(good, `"name":"n1"`, `"name":"other"`, 1)
		_, err := New(st, nil).Import(t.Context(), strings.NewReader(bundle(good, changed)), Options{Strict: true})
		if !errors.Is(err, ErrStrict) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("err = %v, want a strict abort wrapping the conflict", err)
		}
		if len(st.order) != 0 {
			t.Fatalf("strict import kept %d objects", len(st.order))
		}
	})
	t.Run("truncated input", func(t *testing.T) {
		st := newMemStore()
		in := bundle(good, good)
		_, err := New(st, nil).Import(t.Context(), strings.NewReader(in[:len(in)-40]), Options{Strict: true})
		if !errors.Is(err, ErrStrict) || !errors.Is(err, ErrInput) || len(st.order) != 0 {
			t.Fatalf("err = %v, kept %d; want a strict abort that keeps nothing", err, len(st.order))
		}
	})
}

func TestImportKeepsWhatWasWrittenBeforeAFailure(t *testing.T) {
	objs := make([]string, 30)
	for i := range objs {
		objs[i] = indicator(i, "2024-01-01T00:00:00.000Z")
	}
	in := bundle(objs...)
	t.Run("truncated input", func(t *testing.T) {
		st := newMemStore()
		rep, err := New(st, nil).Import(t.Context(), strings.NewReader(in[:len(in)/2]), Options{BatchSize: 4})
		if !errors.Is(err, ErrInput) {
			t.Fatalf("err = %v, want ErrInput", err)
		}
		if rep.Accepted == 0 || rep.Accepted != len(st.order) {
			t.Fatalf("report says %d accepted, store holds %d", rep.Accepted, len(st.order))
		}
	})
	t.Run("store failure", func(t *testing.T) {
		st := newMemStore()
		st.failAt = 3
		rep, err := New(st, nil).Import(t.Context(), strings.NewReader(in), Options{BatchSize: 4})
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("err = %v", err)
		}
		if rep.Accepted != 8 || len(st.order) != 8 {
			t.Fatalf("accepted %d, stored %d; want the 8 of the two committed batches", rep.Accepted, len(st.order))
		}
	})
}

func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	objs := make([]string, 3000)
	for i := range objs {
		objs[i] = indicator(i, "2024-01-01T00:00:00.000Z")
	}
	_, err := New(newMemStore(), nil).Import(ctx, strings.NewReader(bundle(objs...)), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestImportMaxObjects(t *testing.T) {
	objs := []string{indicator(1, "2024-01-01T00:00:00.000Z"), indicator(2, "2024-01-01T00:00:00.000Z"), indicator(3, "2024-01-01T00:00:00.000Z")}
	rep, err := New(newMemStore(), nil).Import(t.Context(), strings.NewReader(bundle(objs...)), Options{MaxObjects: 2})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "more than 2 objects") || rep.Accepted != 2 {
		t.Fatalf("rep %+v, err %v", rep, err)
	}
}

// TestImportPassesTheOwner checks that Options.Owner reaches the store with every batch.
func TestImportPassesTheOwner(t *testing.T) {
	st := &ownerSpy{memStore: newMemStore()}
	objs := []string{indicator(1, "2024-01-01T00:00:00.000Z"), indicator(2, "2024-01-01T00:00:00.000Z")}
	owner := "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"
	if _, err := New(st, nil).Import(t.Context(), strings.NewReader(bundle(objs...)), Options{Owner: owner, BatchSize: 1}); err != nil {
		t.Fatal(err)
	}
	if len(st.owners) != 2 || st.owners[0] != owner || st.owners[1] != owner {
		t.Fatalf("batches were written for %q, want %q each time", st.owners, owner)
	}
}

type ownerSpy struct {
	*memStore
	owners []string
}

func (s *ownerSpy) Write(ctx context.Context, b store.Batch) ([]store.Outcome, error) {
	s.owners = append(s.owners, b.Owner)
	return s.memStore.Write(ctx, b)
}

// TestImportReturnsWhenTheReaderBlocks: an input that stops sending without ending (an idle stdin)
// must not keep Import from returning when its context ends.
func TestImportReturnsWhenTheReaderBlocks(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		if _, err := pw.Write([]byte(`[` + indicator(1, "2024-01-01T00:00:00.000Z") + `,`)); err != nil {
			t.Log(err) // the reader may be gone
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := New(newMemStore(), nil).Import(ctx, pr, Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

// TestReportKeepsTheLowestIndexes: rejections reach the report out of order; it lists the first
// MaxReportedErrors by position in the input.
func TestReportKeepsTheLowestIndexes(t *testing.T) {
	w := newWriter(New(newMemStore(), nil), Options{}, new(atomic.Int64))
	n := 3*MaxReportedErrors + 7
	for i := n - 1; i >= 0; i-- { // the worst order: highest index first
		w.reject(&item{rawObject: rawObject{index: i}}, errors.New("bad"))
	}
	rep := w.final()
	if rep.Rejected != n || len(rep.Errors) != MaxReportedErrors {
		t.Fatalf("rejected %d, listed %d; want %d and %d", rep.Rejected, len(rep.Errors), n, MaxReportedErrors)
	}
	for i, e := range rep.Errors {
		if e.Index != i {
			t.Fatalf("error %d has index %d, want the lowest indexes in order", i, e.Index)
		}
	}
}
