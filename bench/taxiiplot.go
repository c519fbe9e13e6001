package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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

// savePanels draws plots one above the other into a PNG file.
func savePanels(path string, panels []*plot.Plot) error {
	img := vgimg.New(8*vg.Inch, vg.Length(len(panels))*4*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 6 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the folder of the plot: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the plot: %w", err)
	}
	_, werr := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("writing the plot: %w", err)
	}
	return nil
}
