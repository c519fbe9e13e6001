//go:build !amd64

package match

// classBlocks is classBlocksGeneric where there is no assembly version.
func classBlocks(b []byte, tok, sp []uint64) { classBlocksGeneric(b, tok, sp) }
