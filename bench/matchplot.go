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
	img := vgimg.New(8*vg.Inch, 12*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadX: vg.Millimeter, PadY: 6 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align([][]*plot.Plot{{top}, {mid}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	mid.Draw(canvases[1][0])
	bottom.Draw(canvases[2][0])
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
