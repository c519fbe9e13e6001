package match

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestWordTricks checks the eight-bytes-at-a-time helpers against their byte-by-byte definitions:
// every byte value in every position, then random words (whose neighbouring bytes could carry
// into each other).
func TestWordTricks(t *testing.T) {
	check := func(t *testing.T, w [8]byte) {
		t.Helper()
		x := binary.LittleEndian.Uint64(w[:])
		var want [8]byte
		below := map[byte]bool{}
		for i, c := range w {
			want[i] = lower[c]
			for _, n := range []byte{1, ' ' + 1, '.', 128} {
				if c < n {
					below[n] = true
				}
			}
		}
		var wantDots uint64
		wantDomain := true
		for i, c := range w {
			if c == '.' {
				wantDots |= 0x80 << (8 * i)
			}
			wantDomain = wantDomain && domainByte[c]
		}
		if got := eqBytes(x, '.'); got != wantDots {
			t.Fatalf("eqBytes(% x, '.') = %x, want %x", w, got, wantDots)
		}
		if got := domainWord(x, wantDots); got != wantDomain {
			t.Fatalf("domainWord(% x) = %v, want %v", w, got, wantDomain)
		}
		if got := lowerWord(x); got != binary.LittleEndian.Uint64(want[:]) {
			t.Fatalf("lowerWord(% x) = %x, want % x", w, got, want)
		}
		for _, n := range []byte{1, ' ' + 1, '.', 128} {
			if got := hasLess(x, n); got != below[n] {
				t.Fatalf("hasLess(% x, %d) = %v, want %v", w, n, got, below[n])
			}
		}
	}
	t.Run("every byte", func(t *testing.T) {
		for pos := range 8 {
			for c := range 256 {
				w := [8]byte{'a', 'Z', '0', '.', 0x80, 'm', 'Q', '-'}
				w[pos] = byte(c)
				check(t, w)
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		const alphabet = "aZ09.-_@[`{/:\x00\x7f\x80\xff"
		for range 200_000 {
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], r.Uint64())
			check(t, w)
			for i := range w { // bytes near the edges of the classes
				w[i] = alphabet[r.IntN(len(alphabet))]
			}
			check(t, w)
		}
	})
}
