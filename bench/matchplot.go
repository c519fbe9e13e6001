package main

import (
	"gonum.org/v1/plot"
)

// writeMatchPlot draws the -match figures against the number of indicators: log lines and lookups
// per second (top), and memory per indicator and build time (bottom), with panel from plot.go.
func writeMatchPlot(path string, rec *recorder) error {
	lines, lookups := rec.series("match_log_lines_per_s"), rec.series("match_lookups_per_s")
	if len(lines)+len(lookups) == 0 {
		return nil
	}
	top, err := panel("renkei match: throughput against indicators (2 cores)", "per second",
		"log lines matched", lines, "lookups (batched)", lookups)
	if err != nil {
		return err
	}
	mid, err := panel("renkei match: index memory", "bytes per indicator",
		"Go heap of the index", rec.series("match_heap_bytes_per_indicator"), "exact table alone", rec.series("match_table_bytes_per_indicator"))
	if err != nil {
		return err
	}
	bottom, err := panel("renkei match: index build", "seconds", "build", rec.series("match_build_seconds"), "", nil)
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "indicators (log scale)"
	return savePanels(path, []*plot.Plot{top, mid, bottom})
}
