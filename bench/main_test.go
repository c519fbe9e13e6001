package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// These tests cover the harness's plumbing only; the measurements themselves are run by hand.

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"10000,100000,1000000", []int{10000, 100000, 1000000}, false},
		{"1k, 10k,2M", []int{1000, 10000, 2000000}, false},
		{"5", []int{5}, false},
		{"", nil, true},
		{"0", nil, true},
		{"-3", nil, true},
		{"10x", nil, true},
		{"1000,", nil, true},
		{"21M", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSizes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSizes(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseSizes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c config)
		wantErr bool
	}{
		{"defaults", []string{"-out", dir, "-attack", "none"}, func(t *testing.T, c config) {
			if !reflect.DeepEqual(c.sizes, []int{10000, 100000, 1000000}) {
				t.Errorf("sizes %v", c.sizes)
			}
			if c.csvPath != filepath.Join(dir, "results.csv") || c.plotPath != filepath.Join(dir, "import.png") {
				t.Errorf("csv %q plot %q", c.csvPath, c.plotPath)
			}
			if c.attack != "" || c.rssGB != 0 || c.rssLimitMB != 100 {
				t.Errorf("attack %q rss-gb %v limit %v", c.attack, c.rssGB, c.rssLimitMB)
			}
		}, false},
		{"quick", []string{"-quick", "-sizes", "7", "-plot", "/x/p.png", "-attack", "none"}, func(t *testing.T, c config) {
			if !reflect.DeepEqual(c.sizes, []int{1000, 10000, 50000}) || c.plotPath != "/x/p.png" {
				t.Errorf("sizes %v plot %q", c.sizes, c.plotPath)
			}
		}, false},
		{"rss", []string{"-rss-gb", "1", "-rss-limit-mb", "50", "-attack", "none"}, func(t *testing.T, c config) {
			if c.rssGB != 1 || c.rssLimitMB != 50 {
				t.Errorf("rss-gb %v limit %v", c.rssGB, c.rssLimitMB)
			}
		}, false},
		{"bad limit", []string{"-rss-limit-mb", "0"}, nil, true},
		{"stray argument", []string{"extra"}, nil, true},
		{"bad sizes", []string{"-sizes", "many"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%q) error %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestFindAttack(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RENKEI_TESTDATA", dir)
	if got := findAttack(); got != "" {
		t.Errorf("findAttack() = %q with no file present", got)
	}
	p := filepath.Join(dir, "attack", attackFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findAttack(); got != p {
		t.Errorf("findAttack() = %q, want %q", got, p)
	}
}

func TestParseStatus(t *testing.T) {
	const status = "Name:\tbench\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\nThreads:\t5\n"
	tests := []struct {
		name     string
		in       string
		rss, hwm int64
		wantErr  bool
	}{
		{"linux", status, 40960, 51234, false},
		{"missing hwm", "VmRSS:\t 1 kB\n", 0, 0, true},
		{"bad unit", "VmRSS:\t 1 MB\nVmHWM:\t 2 kB\n", 0, 0, true},
		{"not a number", "VmRSS:\t x kB\nVmHWM:\t 2 kB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if rss != tt.rss || hwm != tt.hwm {
				t.Errorf("rss %d hwm %d, want %d %d", rss, hwm, tt.rss, tt.hwm)
			}
		})
	}
	if _, _, err := procStatus(); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
}

func TestRecorder(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "sub", "results.csv")
	var out bytes.Buffer
	rec, err := newRecorder(&out, csvPath)
	if err != nil {
		t.Fatal(err)
	}
	adds := []figure{
		{"import_objects_per_s", 1000, 12345.678, "objects/s"},
		{"import_peak_rss_mb", 1000, 61.25, "MiB"},
		{"import_objects_per_s", 10000, 20000, "objects/s"},
	}
	for _, f := range adds {
		if err := rec.add(f.Name, f.Size, f.Value, f.Unit); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.close(); err != nil {
		t.Fatal(err)
	}
	wantLines := "figure=import_objects_per_s size=1000 value=12346 unit=objects/s\n" +
		"figure=import_peak_rss_mb size=1000 value=61.250 unit=MiB\n" +
		"figure=import_objects_per_s size=10000 value=20000 unit=objects/s\n"
	if out.String() != wantLines {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), wantLines)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"figure", "size", "value", "unit"},
		{"import_objects_per_s", "1000", "12346", "objects/s"},
		{"import_peak_rss_mb", "1000", "61.250", "MiB"},
		{"import_objects_per_s", "10000", "20000", "objects/s"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("CSV rows %v, want %v", rows, want)
	}
	if got := rec.series("import_objects_per_s"); !reflect.DeepEqual(got, [][2]float64{{1000, 12345.678}, {10000, 20000}}) {
		t.Errorf("series %v", got)
	}
}

func TestWritePlot(t *testing.T) {
	dir := t.TempDir()
	rec, err := newRecorder(io.Discard, "")
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.png")
	if err := writePlot(empty, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("a plot was drawn with no figures (stat: %v)", err)
	}
	for _, n := range []int{1000, 10000, 50000} {
		for name, v := range map[string]float64{
			"import_objects_per_s": 9000, "decode_objects_per_s": 60000,
			"import_peak_rss_mb": 40 + float64(n)/1e4, "import_rss_increase_mb": 20,
		} {
			if err := rec.add(name, n, v, "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, "out", "import.png")
	if err := writePlot(path, rec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the plot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 400 {
		t.Errorf("plot is only %v", b)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"-sizes", "lots"}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "error: -sizes") {
		t.Errorf("stderr %q does not say what was wrong", stderr.String())
	}
}
