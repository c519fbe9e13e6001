package match

// prefetch asks the processor to fetch the cache line at p without waiting for it: unlike a load,
// it does not hold up the instructions after it.
//
//go:noescape
func prefetch(p *uint64)
