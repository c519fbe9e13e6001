// Package testdata finds the shared reference data (../shared/testdata beside the checkout) for tests.
// Tests read it in place; it is never copied into the repository.
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the absolute path of the shared test data folder, or skips the test with a clear
// message when it is absent. RENKEI_TESTDATA overrides the location.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("RENKEI_TESTDATA"); d != "" {
		return d
	}
	d, ok := find()
	if !ok {
		t.Skip("shared test data not found: expected ../shared/testdata beside the checkout (or set RENKEI_TESTDATA)")
	}
	return d
}

// Path joins elements onto Dir, and skips the test when that file or folder is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s not found: %v", p, err)
	}
	return p
}

// find walks up from this source file to the repository root and looks beside it for shared/testdata.
func find() (string, bool) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", false
	}
	for dir := filepath.Dir(file); ; {
		cand := filepath.Join(dir, "..", "shared", "testdata")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			abs, err := filepath.Abs(cand)
			return abs, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
