package ingest

import (
	"os"
	"runtime/debug"
)

// SoftHeapLimit is the Go heap size that a program running a large import asks the garbage collector to
// stay under. An import holds two batches at a time; with the collector's default pacing the heap would
// grow to twice that between collections, and a 1 GB import would raise peak RSS by more than 100 MB.
// With this soft limit the collector works harder only when the heap nears it (measured in
// docs/BENCHMARKS.md).
const SoftHeapLimit = 64 << 20

// LimitHeap sets the process's soft memory limit to SoftHeapLimit, unless the operator set GOMEMLIMIT
// (which then wins), and returns a function that restores the previous limit. Programs call it around
// a large import; the package never calls it on its own, since the limit is process-wide.
func LimitHeap() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(SoftHeapLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
