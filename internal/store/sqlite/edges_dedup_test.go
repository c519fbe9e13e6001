package sqlite

import (
	"fmt"
	"slices"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
)

// TestDedupPastTheLinearSearch: beyond linearDedup entries the edges and observables of one object
// are deduplicated through a set; the result is the same as the linear search's (first occurrence,
// in order).
func TestDedupPastTheLinearSearch(t *testing.T) {
	for _, n := range []int{linearDedup - 1, linearDedup, linearDedup + 1, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			o := &stix.Object{ID: "report--1"}
			var wantE []stix.Edge
			var wantO []stix.Observable
			for i := range n {
				e := stix.Edge{Source: "report--1", Target: fmt.Sprintf("indicator--%d", i), Type: "object_refs"}
				ob := stix.Observable{Kind: "domain", Value: fmt.Sprintf("h%d.example", i)}
				o.Edges = append(o.Edges, e)
				o.Observables = append(o.Observables, ob)
				if i%3 == 0 { // and again, and an earlier one
					o.Edges = append(o.Edges, e, o.Edges[i/2])
					o.Observables = append(o.Observables, ob, o.Observables[i/2])
				}
				e.Source = ""
				wantE = append(wantE, e)
				wantO = append(wantO, ob)
			}
			if got := graphEdges(o); !slices.Equal(got, wantE) {
				t.Errorf("graphEdges: %d edges, want %d", len(got), len(wantE))
			}
			if got := distinctObservables(o); !slices.Equal(got, wantO) {
				t.Errorf("distinctObservables: %d, want %d", len(got), len(wantO))
			}
		})
	}
}
