package main

import (
	"gonum.org/v1/plot"
)

// writeMatchPlot draws the -match figures against the number of indicators: log lines matched
// from the loaded index file and lookups per second (top); the resident set after loading the
// file and after matching the log, per indicator, with the build's Go heap (middle); and the
// time to load the file against the time to build the index (bottom); with panel from plot.go.
func writeMatchPlot(path string, rec *recorder) error {
	lines, lookups := rec.series("match_log_lines_per_s"), rec.series("match_lookups_per_s")
	if len(lines)+len(lookups) == 0 {
		return nil
	}
	top, err := panel("renkei match: throughput against indicators (2 cores)", "per second",
		"log lines matched (loaded index)", lines, "lookups (batched)", lookups)
	if err != nil {
		return err
	}
	perIndicator := func(name string) [][2]float64 {
		s := rec.series(name)
		for i := range s {
			s[i][1] = s[i][1] * (1 << 20) / s[i][0] // MiB → bytes per indicator
		}
		return s
	}
	mid, err := panel("renkei match: memory per indicator", "bytes per indicator",
		"resident after loading the file", perIndicator("match_rss_after_load_mb"),
		"resident after matching the log", perIndicator("match_rss_after_log_mb"))
	if err != nil {
		return err
	}
	bottom, err := panel("renkei match: index load and build", "seconds", "load the file", rec.series("match_load_seconds"),
		"build from values", rec.series("match_build_seconds"))
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "indicators (log scale)"
	return savePanels(path, []*plot.Plot{top, mid, bottom})
}
