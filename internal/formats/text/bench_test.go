package text

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchCorpus is every corpus report, concatenated n times.
func benchCorpus(b *testing.B, n int) []byte {
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.*"))
	if err != nil {
		b.Fatal(err)
	}
	var one []byte
	for _, p := range files {
		if strings.HasSuffix(p, ".want") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, data...)
	}
	return bytes.Repeat(one, n)
}

// BenchmarkExtract extracts from about 1 MB of report text.
func BenchmarkExtract(b *testing.B) {
	src := benchCorpus(b, 100)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Extract(b.Context(), bytes.NewReader(src), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractList reads a 100,000-line blocklist of distinct domains.
func BenchmarkExtractList(b *testing.B) {
	var buf bytes.Buffer
	for i := range 100_000 {
		buf.WriteString("host")
		buf.WriteString(strings.Repeat("x", i%7))
		buf.WriteString(string(rune('a' + i%26)))
		buf.WriteString(".evil")
		buf.WriteString(itoa3(i))
		buf.WriteString(".com\n")
	}
	src := buf.Bytes()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ExtractList(b.Context(), bytes.NewReader(src), ListOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa3(i int) string {
	var d [8]byte
	n := len(d)
	for {
		n--
		d[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(d[n:])
		}
	}
}

// BenchmarkExtractPathological extracts from inputs built to defeat a naive scanner (long runs of
// brackets, repeated values, '@' and ':' without end); each is 16 lines of about 60 KB.
func BenchmarkExtractPathological(b *testing.B) {
	cases := []struct{ name, line string }{
		{"parens", "http://a.com/" + strings.Repeat(")", 60000)},
		{"same-ip", strings.Repeat("1.2.3.4 ", 7500)},
		{"at-signs", strings.Repeat("a@", 30000)},
		{"brackets", strings.Repeat("[ ", 30000)},
		{"dots", strings.Repeat("a.", 30000)},
		{"colons", strings.Repeat("::1 ", 15000)},
		{"hex", strings.Repeat("0", 60000)},
		{"techniques", strings.Repeat("T1234.", 10000)},
		{"emails", strings.Repeat("a@b.com ", 7500)},
		{"schemes", strings.Repeat("hxxp[", 12000)},
	}
	for _, c := range cases {
		src := []byte(strings.Repeat(c.line+"\n", 16))
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := Extract(b.Context(), bytes.NewReader(src), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
