package main

import (
	"gonum.org/v1/plot"
)

// writePatternsPlot draws the -patterns figures against the number of patterns: observations
// evaluated per second, decoded beforehand and from the JSON (top); per CPU-second, with the naive
// evaluation of every pattern on every observation (middle); patterns compiled per second and per
// CPU-second (bottom); with panel from plot.go.
func writePatternsPlot(path string, rec *recorder) error {
	eval, e2e := rec.series("patterns_eval_obs_per_s"), rec.series("patterns_decode_eval_obs_per_s")
	if len(eval)+len(e2e) == 0 {
		return nil
	}
	top, err := panel("STIX pattern sets: observed-data evaluated (2 cores)", "observations per second",
		"evaluated (decoded beforehand)", eval, "decoded and evaluated", e2e)
	if err != nil {
		return err
	}
	mid, err := panel("STIX pattern sets: per CPU-second", "observations per CPU-second",
		"PatternSet (decoded beforehand)", rec.series("patterns_eval_obs_per_cpu_s"),
		"every pattern on every observation", rec.series("patterns_naive_obs_per_cpu_s"))
	if err != nil {
		return err
	}
	mid.Y.Scale = plot.LogScale{}
	mid.Y.Tick.Marker = plot.LogTicks{}
	mid.Y.Min = 0.1
	bottom, err := panel("STIX pattern sets: compiling", "patterns per second",
		"compiled (2 cores)", rec.series("patterns_compile_per_s"), "per CPU-second", rec.series("patterns_compile_per_cpu_s"))
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "STIX patterns in the set (log scale)"
	return savePanels(path, []*plot.Plot{top, mid, bottom})
}
