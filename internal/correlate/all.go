package correlate

import (
	"context"
	"fmt"

	"github.com/renkei-cti/renkei/internal/store"
)

// AllStats sums up a pass of All.
type AllStats struct {
	// Groups is how many values were reported, Carriers how many objects they counted in all.
	Groups   int `json:"groups"`
	Carriers int `json:"carriers"`
}

// All re-correlates everything the viewer may read: one pass over the observables index
// (store.Objects.SharedObservables) that calls fn with every value carried by at least two
// objects the viewer may read, with how many carry it (up to MaxPerValue), their creators and
// first and last seen, and the first Options.PerValue of them. Values come in no particular order.
// Memory stays bounded whatever the size of the store; no pairwise table is written.
func All(ctx context.Context, st store.Objects, o Options, fn func(Value) error) (AllStats, error) {
	var stats AllStats
	for g, err := range st.SharedObservables(ctx, o.Scope, MaxPerValue+1) {
		if err != nil {
			return stats, fmt.Errorf("correlate: %w", err)
		}
		v := o.value(g.Observable, g.Versions, nil)
		if g.Count > len(g.Versions) && !v.More && v.Count == MaxPerValue {
			v.More = true
		}
		if v.Count < 2 {
			continue
		}
		stats.Groups++
		stats.Carriers += v.Count
		if err := fn(v); err != nil {
			return stats, err
		}
	}
	return stats, nil
}
