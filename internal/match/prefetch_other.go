//go:build !amd64

package match

// prefetch does nothing where there is no assembly version.
func prefetch(*uint64) {}
