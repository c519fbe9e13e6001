package match

// classBlocks is classBlocksGeneric with SSE2 (part of every amd64 processor), 16 bytes at a time.
//
//go:noescape
func classBlocks(b []byte, tok, sp []uint64)
