package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws throughput (top) and the import's memory (bottom) against the number of objects,
// on a log x axis, to a PNG file. It draws nothing when no size was measured.
func writePlot(path string, rec *recorder) error {
	imp, dec := rec.series("import_objects_per_s"), rec.series("decode_objects_per_s")
	peak, inc := rec.series("import_peak_rss_mb"), rec.series("import_rss_increase_mb")
	if len(imp)+len(dec) == 0 {
		return nil
	}
	top, err := panel("renkei: throughput against bundle size", "objects/s",
		"import into SQLite (durable, all cores)", imp, "decode + validate (one core)", dec)
	if err != nil {
		return err
	}
	bottom, err := panel("renkei: memory of the import", "MiB",
		"peak RSS of the import process", peak, "rise in peak RSS during the import", inc)
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "objects in the bundle (log scale)"

	return savePanels(path, []*plot.Plot{top, bottom})
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

// panel is one plot with a log x axis and up to two named series of (size, value) points.
func panel(title, unit string, name1 string, s1 [][2]float64, name2 string, s2 [][2]float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = sizeTicks(s1, s2)
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	var args []any
	for _, s := range []struct {
		name string
		pts  [][2]float64
	}{{name1, s1}, {name2, s2}} {
		if len(s.pts) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.pts))
		for i, pt := range s.pts {
			xys[i].X, xys[i].Y = pt[0], pt[1]
		}
		args = append(args, s.name, xys)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, fmt.Errorf("plotting %s: %w", title, err)
	}
	// Leave room above the highest point for the legend.
	p.Y.Max *= 1.25
	return p, nil
}

// sizeTicks puts one labelled tick on every measured size, such as "10k" or "1M".
func sizeTicks(series ...[][2]float64) plot.ConstantTicks {
	seen := map[float64]bool{}
	var ticks plot.ConstantTicks
	for _, s := range series {
		for _, pt := range s {
			if !seen[pt[0]] {
				seen[pt[0]] = true
				ticks = append(ticks, plot.Tick{Value: pt[0], Label: humanCount(pt[0])})
			}
		}
	}
	slices.SortFunc(ticks, func(a, b plot.Tick) int { return cmp.Compare(a.Value, b.Value) })
	return ticks
}

// humanCount writes 1000 as "1k" and 2500000 as "2.5M".
func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
