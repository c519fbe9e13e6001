package match

import "unsafe"

// prefetch asks the processor to fetch the cache line at p without waiting for it: unlike a load,
// it does not hold up the instructions after it. p may point at any element of any array: it is
// not read as a value of some type.
//
//go:noescape
func prefetch(p unsafe.Pointer)
