package warninglist

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/renkei-cti/renkei/internal/testdata"
)

func listJSON(name, typ string, attrs []string, entries ...string) string {
	q := func(ss []string) string {
		var b []string
		for _, s := range ss {
			b = append(b, fmt.Sprintf("%q", s))
		}
		return "[" + strings.Join(b, ",") + "]"
	}
	attr := ""
	if attrs != nil {
		attr = `,"matching_attributes":` + q(attrs)
	}
	return fmt.Sprintf(`{"name":%q,"version":1,"description":"test list","type":%q,"list":%s%s}`, name, typ, q(entries), attr)
}

func mustParse(t *testing.T, src string) *List {
	t.Helper()
	l, err := Parse(strings.NewReader(src), "test.json", Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return l
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		lim      Limits
		sentinel error
		want     string
	}{
		{"not json", `{"name":`, Limits{}, ErrInvalid, "test.json"},
		{"unknown member", `{"name":"x","version":1,"description":"d","type":"cidr","list":[],"colour":"red"}`, Limits{}, ErrInvalid, "colour"},
		{"missing members", `{"name":"x","type":"cidr"}`, Limits{}, ErrInvalid, "version, description, list"},
		{"unknown type", listJSON("x", "prefix", nil, "a"), Limits{}, ErrInvalid, `type "prefix"`},
		{"wrong member type", `{"name":"x","version":"one","description":"d","type":"cidr","list":[]}`, Limits{}, ErrInvalid, "version"},
		{"too many entries", listJSON("x", "string", nil, "a", "b", "c"), Limits{MaxEntries: 2}, ErrLimit, "3 entries"},
		{"too large", listJSON("x", "string", nil, "a"), Limits{MaxFileBytes: 10}, ErrLimit, "larger than 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.src), "test.json", tt.lim)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "test.json") {
				t.Errorf("error %q should name the file and contain %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	set := NewSet(
		mustParse(t, listJSON("dns", "cidr", []string{"ip-src", "ip-dst", "domain|ip"}, "8.8.8.8", "2001:4860:4860::8888", "9.9.9.0/24", "not-an-ip")),
		mustParse(t, listJSON("private", "cidr", []string{"ip-src", "ip-dst"}, "10.0.0.0/8", "10.1.0.0/16", "fd00::/8")),
		mustParse(t, listJSON("top", "hostname", []string{"hostname", "domain", "url", "domain|ip"}, "google.com", "*.example.org", "bbc.co.uk.")),
		mustParse(t, listJSON("webmail", "hostname", []string{"email-src", "email-dst"}, "gmail.com")),
		mustParse(t, listJSON("empty", "string", []string{"md5", "sha256", "filename|md5"}, "d41d8cd98f00b204e9800998ecf8427e", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")),
		mustParse(t, listJSON("exact-url", "string", []string{"url"}, "https://Example.net/Path")),
		mustParse(t, listJSON("anything", "substring", nil, "sinkhole")),
		mustParse(t, listJSON("re", "regex", []string{"domain"}, `/^ns[0-9]+\.cloudflare\.com$/i`, `(?<=x)y`, "/a/g")),
	)
	tests := []struct {
		kind, value string
		want        []string // "list:entry"
	}{
		{"ipv4-addr", "8.8.8.8", []string{"dns:8.8.8.8"}},
		{"ip-dst", "8.8.8.8", []string{"dns:8.8.8.8"}},
		{"ipv4-addr", "8.8.4.4", nil},
		{"ipv4-addr", "9.9.9.9", []string{"dns:9.9.9.0/24"}},
		{"ipv4-addr", "9.9.9.0/25", []string{"dns:9.9.9.0/24"}},
		{"ipv4-addr", "9.9.8.0/23", nil}, // wider than the list's block
		{"ipv4-addr", "10.1.2.3", []string{"private:10.0.0.0/8", "private:10.1.0.0/16"}},
		{"ipv4-addr", "::ffff:10.1.2.3", []string{"private:10.0.0.0/8", "private:10.1.0.0/16"}},
		{"ipv6-addr", "2001:4860:4860:0::8888", []string{"dns:2001:4860:4860::8888"}},
		{"ipv6-addr", "fd12:3456::1", []string{"private:fd00::/8"}},
		{"ipv4-addr", "not an address", nil},
		{"domain-name", "google.com", []string{"top:google.com"}},
		{"domain-name", "WWW.Google.COM.", []string{"top:google.com"}},
		{"domain-name", "notgoogle.com", nil},
		{"domain-name", "google.com.evil.net", nil},
		{"domain-name", "a.b.example.org", []string{"top:*.example.org"}},
		{"domain-name", "news.bbc.co.uk", []string{"top:bbc.co.uk."}},
		{"domain-name", "co.uk", nil},
		{"domain-name", "gmail.com", nil}, // the webmail list applies to e-mail attributes only
		{"email-addr", "someone@gmail.com", []string{"webmail:gmail.com"}},
		{"email-addr", "someone@google.com", nil}, // the top list does not apply to e-mail
		{"url", "https://maps.google.com/x?y=1", []string{"top:google.com"}},
		{"url", "http://user@google.com:8080/", []string{"top:google.com"}},
		{"url", "http://8.8.8.8/dns-query", nil}, // dns does not list url among its attributes
		{"url", "https://Example.net/Path", []string{"exact-url:https://Example.net/Path"}},
		{"url", "https://example.net/path", nil}, // url string match is exact
		{"hash:MD5", "D41D8CD98F00B204E9800998ECF8427E", []string{"empty:d41d8cd98f00b204e9800998ecf8427e"}},
		{"hash:SHA-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			[]string{"empty:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}},
		{"hash:SHA-1", "d41d8cd98f00b204e9800998ecf8427e", nil}, // the list does not apply to SHA-1
		{"filename|md5", "empty.txt|d41d8cd98f00b204e9800998ecf8427e", []string{"empty:d41d8cd98f00b204e9800998ecf8427e"}},
		{"domain|ip", "www.google.com|8.8.8.8", []string{"dns:8.8.8.8", "top:google.com"}},
		{"domain-name", "sinkhole.evil.net", []string{"anything:sinkhole"}},
		{"x-custom", "A SINKHOLE host", []string{"anything:sinkhole"}},
		{"domain-name", "NS12.cloudflare.com", []string{`re:/^ns[0-9]+\.cloudflare\.com$/i`}},
		{"url", "http://ns12.cloudflare.com/", nil}, // the regex list applies to domains only
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.value, func(t *testing.T) {
			var got []string
			for _, h := range set.Check(tt.kind, tt.value) {
				got = append(got, h.ListName+":"+h.Entry)
				if h.Source != "test.json" || h.Type == "" {
					t.Errorf("hit %+v lacks its source or type", h)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check(%q, %q) = %q, want %q", tt.kind, tt.value, got, tt.want)
			}
		})
	}
	t.Run("skipped entries", func(t *testing.T) {
		for _, l := range set.Lists() {
			switch l.Name {
			case "dns":
				if l.SkippedCount != 1 || !strings.Contains(l.Skipped[0], "not-an-ip") {
					t.Errorf("dns list skipped %d %q, want the one bad entry", l.SkippedCount, l.Skipped)
				}
			case "re":
				if l.SkippedCount != 2 {
					t.Errorf("regex list skipped %d (%q), want the look-behind and the /g flag", l.SkippedCount, l.Skipped)
				}
			default:
				if l.SkippedCount != 0 {
					t.Errorf("list %s skipped %q", l.Name, l.Skipped)
				}
			}
		}
	})
	t.Run("nil set", func(t *testing.T) {
		var s *Set
		if hits := s.Check("ipv4-addr", "8.8.8.8"); hits != nil {
			t.Errorf("nil set gave %v", hits)
		}
	})
}

func TestCheckMissDoesNotAllocate(t *testing.T) {
	set := NewSet(
		mustParse(t, listJSON("dns", "cidr", nil, "8.8.8.8", "10.0.0.0/8")),
		mustParse(t, listJSON("top", "hostname", nil, "google.com")),
		mustParse(t, listJSON("empty", "string", nil, "d41d8cd98f00b204e9800998ecf8427e")),
	)
	for _, c := range [][2]string{{"ipv4-addr", "198.51.100.7"}, {"domain-name", "evil.example.net"}, {"hash:MD5", "0123456789abcdef0123456789abcdef"}} {
		if n := testing.AllocsPerRun(100, func() { set.Check(c[0], c[1]) }); n != 0 {
			t.Errorf("Check(%q, %q) allocates %v times on a miss", c[0], c[1], n)
		}
	}
}

func TestLoad(t *testing.T) {
	good := listJSON("good", "cidr", nil, "192.0.2.0/24")
	tests := []struct {
		name  string
		fs    fstest.MapFS
		lists int
		err   string
	}{
		{"nested lists", fstest.MapFS{
			"lists/a/list.json": {Data: []byte(good)},
			"lists/b/list.json": {Data: []byte(listJSON("b", "hostname", nil, "example.com"))},
			"lists/b/README.md": {Data: []byte("not a list")},
		}, 2, ""},
		{"no lists", fstest.MapFS{"README.md": {Data: []byte("x")}}, 0, "no list.json"},
		{"one bad list", fstest.MapFS{
			"lists/a/list.json": {Data: []byte(good)},
			"lists/z/list.json": {Data: []byte(`{"name":"z"}`)},
		}, 0, "lists/z/list.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Load(t.Context(), tt.fs, Options{})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Load error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != tt.lists {
				t.Errorf("loaded %d lists, want %d", set.Len(), tt.lists)
			}
		})
	}
	t.Run("limits", func(t *testing.T) {
		fs := fstest.MapFS{
			"a/list.json": {Data: []byte(listJSON("a", "string", nil, "1", "2"))},
			"b/list.json": {Data: []byte(listJSON("b", "string", nil, "3", "4"))},
		}
		if _, err := Load(t.Context(), fs, Options{Limits: Limits{MaxLists: 1}}); !errors.Is(err, ErrLimit) {
			t.Errorf("MaxLists: got %v", err)
		}
		if _, err := Load(t.Context(), fs, Options{Limits: Limits{MaxTotal: 3}}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "b/list.json") {
			t.Errorf("MaxTotal: got %v", err)
		}
	})
	t.Run("LoadDir", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x", "list.json"), []byte(good), 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := LoadDir(t.Context(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if hits := set.Check("ipv4-addr", "192.0.2.55"); len(hits) != 1 || hits[0].Source != "x/list.json" {
			t.Errorf("hits %+v", hits)
		}
		if _, err := LoadDir(t.Context(), filepath.Join(dir, "x", "list.json"), Options{}); err == nil {
			t.Error("LoadDir on a file succeeded")
		}
	})
}

// TestRealLists loads the MISP warninglists of the shared test data and checks entries known to be on
// them (and values known not to be).
func TestRealLists(t *testing.T) {
	dir := testdata.Path(t, "misp", "warninglists")
	set, err := LoadDir(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() < 6 {
		t.Fatalf("loaded %d lists, want the 6 shared ones at least", set.Len())
	}
	for _, l := range set.Lists() {
		if l.SkippedCount > 0 {
			t.Errorf("%s: %d entries skipped: %q", l.Source, l.SkippedCount, l.Skipped)
		}
	}
	tests := []struct {
		kind, value string
		want        []string // sources (the list folder)
	}{
		{"ipv4-addr", "8.8.8.8", []string{"public-dns-v4"}},
		{"ip-dst", "9.9.9.9", []string{"public-dns-v4"}},
		{"ipv6-addr", "2001:4860:4860::8888", []string{"public-dns-v6"}},
		{"ipv4-addr", "10.20.30.40", []string{"rfc1918", "rfc5735"}},
		{"ipv4-addr", "198.51.100.7", []string{"rfc5735"}},
		{"ipv4-addr", "203.0.113.0/25", []string{"rfc5735"}},
		{"ipv4-addr", "185.220.101.4", nil},
		{"domain-name", "google.com", []string{"tranco10k"}},
		{"domain-name", "mail.google.com", []string{"tranco10k"}},
		{"domain-name", "notgoogle.com", nil},
		{"domain-name", "news.bbc.co.uk", []string{"tranco10k"}},
		{"url", "https://en.wikipedia.org/wiki/Lazarus_Group", []string{"tranco10k"}},
		{"domain-name", "update-check.evil-c2.net", nil},
		{"hash:MD5", "d41d8cd98f00b204e9800998ecf8427e", []string{"empty-hashes"}},
		{"hash:SHA-256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", []string{"empty-hashes"}},
		{"hash:SHA-256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", nil},
		{"domain|ip", "dns.google|8.8.8.8", []string{"public-dns-v4", "tranco10k"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.value, func(t *testing.T) {
			var got []string
			for _, h := range set.Check(tt.kind, tt.value) {
				got = append(got, filepath.Base(filepath.Dir(h.Source)))
				if h.ListName == "" || h.Entry == "" {
					t.Errorf("hit %+v lacks the list name or the entry", h)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Check(%q, %q) on lists %q, want %q", tt.kind, tt.value, got, tt.want)
			}
		})
	}
}
