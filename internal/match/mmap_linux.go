//go:build linux

package match

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only. The mapping outlives f; unmap releases it.
func mapFile(f *os.File, size int) (data []byte, unmap func() error, err error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return b, func() error {
		if err := syscall.Munmap(b); err != nil {
			return fmt.Errorf("munmap: %w", err)
		}
		return nil
	}, nil
}
