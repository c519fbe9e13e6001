package ingest

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// errDisk stands for memStore's write failure, which is not a sentinel.
var errDisk = errors.New("disk on fire")

// decodedSeq decodes raws (which must be valid) and yields them, then err when it is not nil;
// *stopped counts the yields refused.
func decodedSeq(t *testing.T, raws []string, err error, stopped *int) iter.Seq2[*stix.Object, error] {
	t.Helper()
	objs := make([]*stix.Object, len(raws))
	for i, r := range raws {
		o, derr := stix.Decode([]byte(r))
		if derr != nil {
			t.Fatal(derr)
		}
		objs[i] = o
	}
	return func(yield func(*stix.Object, error) bool) {
		for _, o := range objs {
			if !yield(o, nil) {
				*stopped++
				return
			}
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

func TestImportDecoded(t *testing.T) {
	good1 := indicator(1, "2024-01-01T00:00:00.000Z")
	conflict := strings.Replace(good1, `"name":"n1"`, `"name":"changed"`, 1)
	many := make([]string, 3*chunkSize+7)
	for i := range many {
		many[i] = indicator(i+10, "2024-01-01T00:00:00.000Z")
	}
	boom := errors.New("converter failed")
	// long is more than the chunks the pipeline holds in flight, so the producer must wait for the writer.
	long := make([]string, 40*chunkSize)
	for i := range long {
		long[i] = indicator(i+10, "2024-01-01T00:00:00.000Z")
	}
	tests := []struct {
		name        string
		raws        []string
		err         error
		opt         Options
		accepted    int
		duplicate   int
		rejected    int
		wantErr     error
		wantStopped bool
		failAt      int
	}{
		{name: "outcomes", raws: []string{good1, indicator(2, "2024-01-01T00:00:00.000Z"), good1, conflict}, accepted: 2, duplicate: 1, rejected: 1},
		{name: "batches in order", raws: many, opt: Options{BatchSize: 100}, accepted: len(many)},
		{name: "an error of the sequence ends the import, what came before stays", raws: many[:5], err: boom, accepted: 5, wantErr: boom},
		{name: "max objects", raws: many, opt: Options{MaxObjects: 10}, accepted: 10, wantErr: ErrInput, wantStopped: true},
		{name: "strict", raws: append([]string{good1, conflict}, many[:3]...), opt: Options{Strict: true}, rejected: 1, wantErr: ErrStrict},
		{name: "a store failure stops the sequence", raws: long, opt: Options{BatchSize: 10}, failAt: 2, accepted: 10, wantErr: errDisk, wantStopped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			st.failAt = tc.failAt
			stopped := 0
			var order []int
			tc.opt.Result = func(r ObjectResult) { order = append(order, r.Index) }
			rep, err := New(st, nil).ImportDecoded(t.Context(), decodedSeq(t, tc.raws, tc.err, &stopped), tc.opt)
			if tc.wantErr == errDisk && err != nil && strings.Contains(err.Error(), "disk on fire") {
				err = errDisk
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if rep.Accepted != tc.accepted || rep.Duplicate != tc.duplicate || rep.Rejected != tc.rejected {
				t.Errorf("report %+v, want %d accepted, %d duplicate, %d rejected", rep, tc.accepted, tc.duplicate, tc.rejected)
			}
			if tc.wantStopped != (stopped > 0) {
				t.Errorf("sequence stopped early: %v, want %v", stopped > 0, tc.wantStopped)
			}
			if tc.wantErr == nil {
				// Every object has its outcome, and the accepted ones were written in input order.
				slices.Sort(order)
				if len(order) != len(tc.raws) || order[len(order)-1] != len(tc.raws)-1 {
					t.Errorf("results for %d objects, want %d", len(order), len(tc.raws))
				}
				if tc.name == "batches in order" && !slices.Equal(st.order, idsOf(t, tc.raws)) {
					t.Error("objects not written in input order")
				}
			}
		})
	}
}

func idsOf(t *testing.T, raws []string) []string {
	t.Helper()
	ids := make([]string, len(raws))
	for i, r := range raws {
		o, err := stix.Decode([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = o.ID
	}
	return ids
}

// The observables of an indicator's pattern are indexed, and the digest is the one Import computes.
func TestImportDecodedSameAsImport(t *testing.T) {
	raw := indicator(7, "2024-01-01T00:00:00.000Z")
	var fromReader, fromDecoded store.NewVersion
	spy := func(dst *store.NewVersion) *versionSpy { return &versionSpy{memStore: newMemStore(), got: dst} }
	if _, err := New(spy(&fromReader), nil).Import(t.Context(), strings.NewReader(raw), Options{}); err != nil {
		t.Fatal(err)
	}
	stopped := 0
	if _, err := New(spy(&fromDecoded), nil).ImportDecoded(t.Context(), decodedSeq(t, []string{raw}, nil, &stopped), Options{}); err != nil {
		t.Fatal(err)
	}
	if fromDecoded.Digest != fromReader.Digest || !slices.Equal(fromDecoded.Object.Observables, fromReader.Object.Observables) ||
		len(fromDecoded.Object.Observables) == 0 {
		t.Errorf("decoded import wrote %x %v, Import wrote %x %v", fromDecoded.Digest, fromDecoded.Object.Observables,
			fromReader.Digest, fromReader.Object.Observables)
	}
}

type versionSpy struct {
	*memStore
	got *store.NewVersion
}

func (s *versionSpy) Write(ctx context.Context, b store.Batch) ([]store.Outcome, error) {
	*s.got = b.Versions[0]
	return s.memStore.Write(ctx, b)
}
