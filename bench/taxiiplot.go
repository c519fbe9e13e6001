package main

import (
	"gonum.org/v1/plot"
)

// writeTAXIIPlot draws the -taxii figures against the collection's size, with panel from plot.go:
// GET pages per second, GET latency, export time and POST throughput.
func writeTAXIIPlot(path string, rec *recorder) error {
	next, after := rec.series("taxii_get_next_pages_per_s"), rec.series("taxii_get_added_after_pages_per_s")
	if len(next)+len(after) == 0 {
		return nil
	}
	var panels []*plot.Plot
	for _, p := range []struct {
		title, unit, n1, f1, n2, f2 string
	}{
		{"renkei TAXII: GET objects, 100 per page, random pages", "pages/s",
			"by next", "taxii_get_next_pages_per_s", "by added_after", "taxii_get_added_after_pages_per_s"},
		{"renkei TAXII: GET latency (by next, all connections busy)", "ms",
			"p50", "taxii_get_next_p50_ms", "p99", "taxii_get_next_p99_ms"},
		{"renkei TAXII: GET latency (by next, one connection)", "ms",
			"p50", "taxii_get_next_1conn_p50_ms", "p99", "taxii_get_next_1conn_p99_ms"},
		{"renkei TAXII: full export through paging", "seconds",
			"limit=100", "taxii_export_limit100_seconds", "limit=1000 (the server's largest page)", "taxii_export_seconds"},
		{"renkei TAXII: POST of 10k-object envelopes", "objects/s",
			"1 connection", "taxii_post_1conn_objects_per_s", "4 connections", "taxii_post_4conn_objects_per_s"},
	} {
		pl, err := panel(p.title, p.unit, p.n1, rec.series(p.f1), p.n2, rec.series(p.f2))
		if err != nil {
			return err
		}
		panels = append(panels, pl)
	}
	panels[len(panels)-1].X.Label.Text = "objects in the collection (log scale)"
	return savePanels(path, panels)
}
