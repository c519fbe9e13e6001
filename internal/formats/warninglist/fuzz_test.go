package warninglist

import (
	"strings"
	"testing"
)

// FuzzParseCheck parses arbitrary list files, indexes them and checks values of every kind: nothing
// may panic, and every hit must name an entry of the list.
func FuzzParseCheck(f *testing.F) {
	for _, typ := range []string{"cidr", "hostname", "string", "substring", "regex"} {
		f.Add(listJSON("x", typ, []string{"ip-dst", "domain"}, "10.0.0.0/8", "example.com", "/^a.*$/i", "::1"), "10.1.2.3")
	}
	f.Add(`{"name":"x","version":1,"description":"d","type":"cidr","list":["::ffff:0:0/96","0.0.0.0/0"]}`, "::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, src, value string) {
		l, err := Parse(strings.NewReader(src), "fuzz.json", Limits{MaxFileBytes: 1 << 16})
		if err != nil {
			return
		}
		set := NewSet(l)
		for _, kind := range []string{"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "hash:MD5", "domain|ip", "x-other"} {
			for _, h := range set.Check(kind, value) {
				found := false
				for _, e := range l.Entries {
					found = found || e == h.Entry
				}
				if !found || h.ListName != l.Name || h.Type != l.Type {
					t.Fatalf("hit %+v is not an entry of the list", h)
				}
			}
		}
	})
}
