package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/formats/misp"
)

// TestMISPEvent: the generated event is a valid MISP event of exactly n attributes (one in ten in
// file objects), every one of which converts (none skipped), to indicators and observables.
func TestMISPEvent(t *testing.T) {
	for _, n := range []int{1, 30, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b bytes.Buffer
			if err := writeMISPEvent(&b, n); err != nil {
				t.Fatal(err)
			}
			evs, err := misp.DecodeEvents(&b, misp.Limits{})
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events: %v", len(evs), err)
			}
			res, err := misp.ToSTIX(evs[0], misp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Counts
			if c.Attributes != n || c.Skipped != 0 {
				t.Errorf("counts %+v (skipped %v)", c, res.Skipped)
			}
			if n >= 30 && (len(evs[0].Object) != n/10/3 || c.Indicators == 0 || c.Observables == 0) {
				t.Errorf("%d objects, counts %+v", len(evs[0].Object), c)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	got := medianRun([]mispRun{{wall: 3 * time.Second, cpu: time.Second, rssMiB: 5}, {wall: time.Second, cpu: 3 * time.Second, rssMiB: 1},
		{wall: 2 * time.Second, cpu: 2 * time.Second, rssMiB: 9}})
	if got.wall != 2*time.Second || got.cpu != 2*time.Second || got.rssMiB != 5 {
		t.Errorf("median %+v", got)
	}
}
