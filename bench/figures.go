package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// figure is one measured value.
type figure struct {
	Name  string  // such as "import_objects_per_s"
	Size  int     // number of objects the figure was measured on
	Value float64 // the measurement
	Unit  string  // such as "objects/s", "MB", "s"
}

// line renders the figure as the harness prints it.
func (f figure) line() string {
	return fmt.Sprintf("figure=%s size=%d value=%s unit=%s", f.Name, f.Size, formatValue(f.Value), f.Unit)
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100 || v <= -100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// recorder prints each figure as it is measured, appends it to a CSV file, and keeps it for the plot.
type recorder struct {
	out     io.Writer
	csvFile *os.File
	csv     *csv.Writer
	figures []figure
}

// newRecorder writes figures to out and, when csvPath is not "", to a new CSV file there.
func newRecorder(out io.Writer, csvPath string) (*recorder, error) {
	r := &recorder{out: out}
	if csvPath == "" {
		return r, nil
	}
	if err := os.MkdirAll(filepath.Dir(csvPath), 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of %s: %w", csvPath, err)
	}
	f, err := os.Create(csvPath)
	if err != nil {
		return nil, fmt.Errorf("creating the results file: %w", err)
	}
	r.csvFile, r.csv = f, csv.NewWriter(f)
	if err := r.csv.Write([]string{"figure", "size", "value", "unit"}); err != nil {
		return nil, fmt.Errorf("writing %s: %w", csvPath, err)
	}
	return r, nil
}

// add records one figure. The CSV is flushed after every row, so an interrupted run keeps what it measured.
func (r *recorder) add(name string, size int, value float64, unit string) error {
	f := figure{Name: name, Size: size, Value: value, Unit: unit}
	r.figures = append(r.figures, f)
	if _, err := fmt.Fprintln(r.out, f.line()); err != nil {
		return fmt.Errorf("printing a figure: %w", err)
	}
	if r.csv == nil {
		return nil
	}
	if err := r.csv.Write([]string{f.Name, strconv.Itoa(f.Size), formatValue(f.Value), f.Unit}); err != nil {
		return fmt.Errorf("writing the results file: %w", err)
	}
	r.csv.Flush()
	if err := r.csv.Error(); err != nil {
		return fmt.Errorf("writing the results file: %w", err)
	}
	return nil
}

// series returns the (size, value) points of one figure, in the order they were measured.
func (r *recorder) series(name string) [][2]float64 {
	var pts [][2]float64
	for _, f := range r.figures {
		if f.Name == name {
			pts = append(pts, [2]float64{float64(f.Size), f.Value})
		}
	}
	return pts
}

// last returns the value of the figure recorded last under this name and size, or 0.
func (r *recorder) last(name string, size int) float64 {
	for i := len(r.figures) - 1; i >= 0; i-- {
		if f := r.figures[i]; f.Name == name && f.Size == size {
			return f.Value
		}
	}
	return 0
}

func (r *recorder) close() error {
	if r.csvFile == nil {
		return nil
	}
	if err := r.csvFile.Close(); err != nil {
		return fmt.Errorf("closing the results file: %w", err)
	}
	return nil
}
