package match

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// scanTextRef is the text scanner written byte by byte: the definition scanText's word-at-a-time
// token search must agree with.
func scanTextRef(line []byte, i int, ev *Event) {
	n := len(line)
	for i < n {
		if cls[line[i]]&cTok == 0 {
			i++
			continue
		}
		j := i
		special := false
		for j < n && cls[line[j]]&cTok != 0 {
			special = special || line[j] == '.' || line[j] == ':' || line[j] == '@'
			j++
		}
		ev.work += j - i
		if j+1 < n && line[j] == '/' && line[j+1] == '/' && j-i >= 2 && j-i <= 11 && line[j-1] == ':' && isLetters(line[i:j-1]) {
			k := j + 2
			for k < n && cls[line[k]]&cURLEnd == 0 {
				k++
			}
			end := k
			for k > j+2 && strings.IndexByte(".,;)]", line[k-1]) >= 0 {
				k--
			}
			ev.work += j - i + 2*(end-j)
			if k > j+2 {
				ev.add(KindURL, line[i:k])
			}
			i = k
			continue
		}
		tok := line[i:j]
		i = j
		if special || len(tok) >= 32 {
			classify(tok, ev)
		}
	}
}

// TestClassBits checks the bitmaps of the text scanner (the assembly version where there is one)
// against the class table: every byte value at every place of a block, then random lines of every
// length around the block size, with bytes at the edges of the classes.
func TestClassBits(t *testing.T) {
	var checkBits func(t *testing.T, line []byte)
	check := func(t *testing.T, line []byte) {
		t.Helper()
		// Without capacity past the line, and with token bytes and '.' in it (which must not count).
		checkBits(t, line[:len(line):len(line)])
		checkBits(t, append(append([]byte(nil), line...), strings.Repeat("a.", 64)...)[:len(line)])
	}
	checkBits = func(t *testing.T, line []byte) {
		t.Helper()
		var ev Event
		tok, sp := ev.classBits(line)
		if len(tok) != len(line)/64+1 || len(sp) != len(tok) {
			t.Fatalf("%d and %d words for %d bytes", len(tok), len(sp), len(line))
		}
		for w := range tok {
			var wantTok, wantSp uint64
			for k := range 64 {
				if i := w*64 + k; i < len(line) {
					c := line[i]
					if cls[c]&cTok != 0 {
						wantTok |= 1 << k
					}
					if c == '.' || c == ':' || c == '@' {
						wantSp |= 1 << k
					}
				}
			}
			if tok[w] != wantTok || sp[w] != wantSp {
				t.Fatalf("line % x: word %d: tok %x sp %x, want %x %x", line, w, tok[w], sp[w], wantTok, wantSp)
			}
		}
		if full := len(line) &^ 63; full > 0 {
			line := line[:full]
			gt, gs := make([]uint64, full/64), make([]uint64, full/64)
			classBlocksGeneric(line, gt, gs)
			for w := range gt {
				if gt[w] != tok[w] || gs[w] != sp[w] {
					t.Fatalf("classBlocksGeneric disagrees on word %d of % x", w, line)
				}
			}
		}
	}
	t.Run("every byte", func(t *testing.T) {
		base := []byte(strings.Repeat("a/0.\x80`@-Z_:z{", 8))
		for pos := range 64 {
			for c := range 256 {
				line := append([]byte(nil), base...)
				line[pos] = byte(c)
				check(t, line)
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		const edges = ",-./09:;?@AZ[^_`az{\x00\x7f\x80\xad\xae\xba\xc0\xff"
		for n := range 200 {
			for range 50 {
				line := make([]byte, n)
				for i := range line {
					if r.IntN(2) == 0 {
						line[i] = byte(r.Uint32())
					} else {
						line[i] = edges[r.IntN(len(edges))]
					}
				}
				check(t, line)
			}
		}
	})
}

// TestScanTextAgreesWithReference runs scanText and scanTextRef on generated lines (log-like
// pieces, separators and bytes at the edges of the classes, of every length around the word size)
// and requires the same candidates, at the same places.
func TestScanTextAgreesWithReference(t *testing.T) {
	pieces := []string{
		"evil.example", "www.evil.example.", "198.51.100.7", "198.51.100.7:443", "[2001:db8::1]:80",
		"2001:db8::1", "x@evil.example", "http://evil.example/a?b=1.", "https://h.example/x)", "hxxp://a.b",
		strings.Repeat("ab", 16), strings.Repeat("0", 40), strings.Repeat("f", 64), strings.Repeat("c", 128),
		"dnsmasq[461]:", "query[A]", "SRC=10.1.2.3", "a", "ab", "abcdefg", "abcdefgh", "abcdefghi", "a:b", "a.b",
		"@", ":", ".", "-", "_", "::", "..", "a://", "C:\\Users\\u1\\x.exe", "é.example", "a-b_c.d-e",
		strings.Repeat("a", 100), strings.Repeat("ab.", 40), strings.Repeat("7", 63) + ".example", "http://" + strings.Repeat("x.", 50),
	}
	stamps := []string{"", "Jan 23 10:00:00 ", "Jan 23 10:00:00x.example ", "2024-05-01T10:00:00Z ", "1700000000.5 ", "1700000000"}
	const seps = " \t\"'<>|=,;/()[]{}\\\x00\x7f\x80\xff`"
	r := rand.New(rand.NewPCG(5, 6))
	for _, tt := range []struct {
		name string
		gen  func() string
	}{
		{"pieces", func() string {
			var b strings.Builder
			b.WriteString(stamps[r.IntN(len(stamps))])
			for range r.IntN(12) {
				b.WriteString(pieces[r.IntN(len(pieces))])
				for range r.IntN(3) {
					b.WriteByte(seps[r.IntN(len(seps))])
				}
			}
			return b.String()
		}},
		{"bytes", func() string {
			const alphabet = "aZ09.-_:@/ \"\x00\x7f\x80\xff`{[" + "bcdefghxyz"
			b := make([]byte, r.IntN(300))
			for i := range b {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
			return string(b)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			found := 0
			for range 100_000 {
				line := []byte(tt.gen())
				var got, want Event
				scanText(line, timePrefix(line, &got), &got)
				scanTextRef(line, timePrefix(line, &want), &want)
				if d := diffEvents(line, &got, &want); d != "" {
					t.Fatalf("line %q: %s", line, d)
				}
				found += len(got.Cands)
			}
			if found == 0 {
				t.Fatal("no candidates in any line: the lines test nothing")
			}
		})
	}
}

// diffEvents describes how the candidates of got and want differ, "" when they do not.
func diffEvents(line []byte, got, want *Event) string {
	pos := func(v []byte) int {
		return int(uintptr(unsafe.Pointer(unsafe.SliceData(v))) - uintptr(unsafe.Pointer(unsafe.SliceData(line))))
	}
	if len(got.Cands) != len(want.Cands) {
		return "candidates differ: " + fmtCands(got) + " want " + fmtCands(want)
	}
	for i, c := range got.Cands {
		w := want.Cands[i]
		if c.Kind != w.Kind || !bytes.Equal(c.Value, w.Value) || pos(c.Value) != pos(w.Value) {
			return "candidates differ: " + fmtCands(got) + " want " + fmtCands(want)
		}
	}
	return ""
}

func fmtCands(ev *Event) string {
	var s []string
	for _, c := range ev.Cands {
		s = append(s, c.Kind.String()+"="+string(c.Value))
	}
	return "[" + strings.Join(s, " ") + "]"
}
