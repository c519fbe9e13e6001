package main

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/renkei-cti/renkei/internal/correlate"
)

// TestCorrelateData: the generated store holds the observables asked for, the report carries
// the distinct values asked for, and the report's share of known values is found in the store
// (which needs corrUsed to replay the store's generator exactly).
func TestCorrelateData(t *testing.T) {
	rec, err := newRecorder(io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{cfg: config{seed: 3}, logger: slog.New(slog.DiscardHandler), stderr: io.Discard, rec: rec}
	const size, values = 3000, 1000
	st, err := h.corrStore(t.Context(), t.TempDir(), size)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Observables < size || stats.Observables > size+2 {
		t.Errorf("%d observables stored, want %d (+ at most 2: the last object's values)", stats.Observables, size)
	}
	in, err := correlate.ReadInput(bytes.NewReader(corrReport(h.cfg.seed, corrUsed(h.cfg.seed, size), values)))
	if err != nil {
		t.Fatal(err)
	}
	if in.Len() != values {
		t.Errorf("the report carries %d values, want %d", in.Len(), values)
	}
	res, err := correlate.Check(t.Context(), st, in, correlate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A fifth of the values are drawn from the store's; a few new addresses fall in stored blocks.
	if low, high := values*corrKnown*0.7, values*corrKnown*1.5; float64(res.Matched) < low || float64(res.Matched) > high {
		t.Errorf("%d values matched, want about %g", res.Matched, values*corrKnown)
	}
	if got := len(rec.series("corr_setup_seconds")); got != 1 {
		t.Errorf("setup recorded %d times", got)
	}
}
