package ingest

import (
	"runtime/debug"
	"testing"
)

func TestLimitHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	restore := LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != SoftHeapLimit {
		t.Errorf("limit during the import = %d, want %d", got, SoftHeapLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after = %d, want the previous %d", got, before)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	restore = LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set the limit changed to %d", got)
	}
	restore()
}
