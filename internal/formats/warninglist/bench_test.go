package warninglist

import (
	"os"
	"testing"

	"github.com/renkei-cti/renkei/internal/testdata"
)

// BenchmarkLoad loads every shared MISP warninglist (about 73,000 entries).
func BenchmarkLoad(b *testing.B) {
	dir := testdata.Path(b, "misp", "warninglists")
	fsys := os.DirFS(dir)
	for b.Loop() {
		if _, err := Load(b.Context(), fsys, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck checks one value against every shared list, for hits and misses of each kind.
func BenchmarkCheck(b *testing.B) {
	set, err := LoadDir(b.Context(), testdata.Path(b, "misp", "warninglists"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct{ name, kind, value string }{
		{"ipv4-hit", "ipv4-addr", "8.8.8.8"},
		{"ipv4-miss", "ipv4-addr", "185.220.101.4"},
		{"ipv6-miss", "ipv6-addr", "2a01:4f8:c17:1::5"},
		{"domain-hit", "domain-name", "mail.google.com"},
		{"domain-miss", "domain-name", "update-check.evil-c2.net"},
		{"url-miss", "url", "https://update-check.evil-c2.net/gate.php?id=4"},
		{"md5-hit", "hash:MD5", "d41d8cd98f00b204e9800998ecf8427e"},
		{"sha256-miss", "hash:SHA-256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				set.Check(c.kind, c.value)
			}
		})
	}
}
