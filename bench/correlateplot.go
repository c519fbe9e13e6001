package main

import (
	"gonum.org/v1/plot"
)

// writeCorrelatePlot draws the -correlate figures against the number of stored observables: the
// check of a report (top) and the pass over everything (middle), wall-clock and CPU seconds, as the
// operator; and both as an analyst whose reads go through the policy (bottom).
func writeCorrelatePlot(path string, rec *recorder) error {
	check, all := rec.series("corr_check_seconds"), rec.series("corr_all_seconds")
	if len(check)+len(all) == 0 {
		return nil
	}
	top, err := panel("renkei correlate: check a report against the store (operator)", "seconds",
		"wall clock", check, "CPU", rec.series("corr_check_cpu_seconds"))
	if err != nil {
		return err
	}
	mid, err := panel("renkei correlate: re-correlate everything (operator)", "seconds",
		"wall clock", all, "CPU", rec.series("corr_all_cpu_seconds"))
	if err != nil {
		return err
	}
	bottom, err := panel("renkei correlate: as an analyst, through the policy", "seconds (wall clock)",
		"check a report", rec.series("corr_check_scoped_seconds"), "re-correlate everything", rec.series("corr_all_scoped_seconds"))
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "stored observables (log scale)"
	return savePanels(path, []*plot.Plot{top, mid, bottom})
}
