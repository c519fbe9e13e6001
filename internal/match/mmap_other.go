//go:build !linux

package match

import (
	"fmt"
	"io"
	"os"
	"unsafe"
)

// mapFile reads the first size bytes of f into memory aligned for uint64 (where the index is not
// mapped, it is read whole).
func mapFile(f *os.File, size int) (data []byte, unmap func() error, err error) {
	words := make([]uint64, (size+7)/8)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:size]
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, fmt.Errorf("reading: %w", err)
	}
	return b, func() error { return nil }, nil
}
