package correlate

import (
	"context"
	"fmt"

	"github.com/renkei-cti/renkei/internal/store"
)

// Result is what the store holds about a report (Check).
type Result struct {
	Objects int `json:"objects"` // objects of the report
	Values  int `json:"values"`  // distinct values it carries
	// Matched is how many of them the viewer's store holds, or holds a CIDR block containing.
	Matched int     `json:"matched"`
	Matches []Match `json:"matches"`
}

// Match is one value of a report seen in the store: the value itself, or (Via set) a stored CIDR
// block that contains the report's value Via.
type Match struct {
	Value
	// In lists the report's objects that carry the asked value (at most MaxFrom); empty for a
	// bare value from a list.
	In []string `json:"in,omitempty"`
}

// Check correlates a report that need not be stored: for each of its values, the stored objects
// the viewer may read that carry it, and the stored CIDR blocks that contain its IP addresses and
// blocks. The report's own objects, when they are stored, do not count: the question is who else
// reported the value. It reads the observables index in bulk, a few statements for the whole
// report; no pairwise table is kept. Matches come in the report's order of values, each value
// followed by its containing blocks, longest first.
func Check(ctx context.Context, st store.Objects, in *Input, o Options) (*Result, error) {
	if in.Len() == 0 {
		return in.result(nil), nil
	}
	answers, err := correlateValues(ctx, st, in.vals, in.own, o)
	if err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	return in.result(answers), nil
}

// own reports whether id is one of the input's objects: their own stored forms do not count.
func (in *Input) own(id string) bool { return in.ids[id] }

// result makes the Result of the input from the answers to its values, in order.
func (in *Input) result(answers []answer) *Result {
	res := &Result{Objects: in.Objects(), Values: in.Len(), Matches: []Match{}}
	for i, a := range answers {
		if a.direct.Count == 0 && len(a.blocks) == 0 {
			continue
		}
		res.Matched++
		if a.direct.Count > 0 {
			res.Matches = append(res.Matches, Match{Value: a.direct, In: in.from[i]})
		}
		for _, b := range a.blocks {
			res.Matches = append(res.Matches, Match{Value: b, In: in.from[i]})
		}
	}
	return res
}
