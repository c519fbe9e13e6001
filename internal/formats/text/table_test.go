package text

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseColumns(t *testing.T) {
	cols, err := ParseColumns("1=ip, Domain=domain ,sha256=SHA256,indicator,3=auto")
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{Index: 1, Kind: KindIPv4}, {Name: "Domain", Kind: KindDomain}, {Name: "sha256", Kind: KindSHA256},
		{Name: "indicator"}, {Index: 3}}
	if !slices.Equal(cols, want) {
		t.Errorf("ParseColumns = %+v, want %+v", cols, want)
	}
	for _, bad := range []string{"", "0=ip", "1=ssdeep", "=ip", "1=ip,,2=url"} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("ParseColumns(%q) succeeded", bad)
		}
	}
}

func TestExtractTable(t *testing.T) {
	tests := []struct {
		name   string
		csv    string
		opts   TableOptions
		want   []string
		skips  []string // "line:field text"
		title  string
		errSub string
	}{
		{
			name: "header names the kinds",
			csv: "first_seen,ip-dst,domain,md5,comment\n" +
				"2025-01-02,198.51.100.7,evil[.]com,44D88612FEA8A8F36DE82E1278ABB02F,\"c2, confirmed\"\n" +
				"2025-01-03,999.1.1.1,setup.exe,nothex,# not a comment inside a record\n",
			want:  []string{"ipv4-addr 198.51.100.7", "domain-name evil.com", "hash:MD5 44d88612fea8a8f36de82e1278abb02f"},
			skips: []string{"3:2 999.1.1.1", "3:3 setup.exe", "3:4 nothex"},
			title: "Table with columns first_seen, ip-dst, domain, md5, comment",
		},
		{
			name:  "generic indicator column, kinds guessed",
			csv:   "# exported from the sandbox\nIndicator;Type\nhxxp://evil[.]com/a;url\n2001:db8::1;ip\nCVE-2024-3400;vuln\nfoo;bar\n",
			opts:  TableOptions{Comma: ';'},
			want:  []string{"url http://evil.com/a", "ipv6-addr 2001:db8::1", "cve CVE-2024-3400"},
			skips: []string{"6:1 foo"},
		},
		{
			name: "mapping by number, no header detected",
			csv:  "evil.com,198.51.100.7/32,x\nother.org,198.51.100.0/24,y\n",
			opts: TableOptions{Columns: []Column{{Index: 2, Kind: KindIPv4CIDR}, {Index: 1, Kind: KindDomain}}},
			want: []string{"ipv4-addr 198.51.100.7", "domain-name evil.com", "ipv4-cidr 198.51.100.0/24", "domain-name other.org"},
		},
		{
			name: "mapping by name",
			csv:  "Host\tAddr\nevil.com\t198.51.100.7\n",
			opts: TableOptions{Comma: '\t', Columns: []Column{{Name: "addr", Kind: KindIPv4}}},
			want: []string{"ipv4-addr 198.51.100.7"},
		},
		{
			name:  "header forced off",
			csv:   "url\nhttp://evil.com/\n",
			opts:  TableOptions{Header: HeaderNo, Columns: []Column{{Index: 1, Kind: KindURL}}},
			want:  []string{"url http://evil.com/"},
			skips: []string{"1:1 url"},
		},
		{
			name: "no header, no mapping: every column guessed, quietly",
			csv:  "evil.com,2025-01-02,just text\n198.51.100.7,3,44d88612fea8a8f36de82e1278abb02f\n",
			want: []string{"domain-name evil.com", "ipv4-addr 198.51.100.7", "hash:MD5 44d88612fea8a8f36de82e1278abb02f"},
		},
		{
			name:  "short record",
			csv:   "domain,ip\nevil.com\n",
			want:  []string{"domain-name evil.com"},
			skips: []string{"2:2 evil.com"},
		},
		{
			name:   "bad quoting gives the line",
			csv:    "domain\nevil.com\n\"unterminated,x\n",
			errSub: "line 3",
		},
		{
			name:   "unknown column name",
			csv:    "domain,ip\nevil.com,198.51.100.7\n",
			opts:   TableOptions{Columns: []Column{{Name: "url"}}},
			errSub: `no column named "url"`,
		},
		{
			name:   "name mapping without a header",
			csv:    "evil.com,198.51.100.7\n",
			opts:   TableOptions{Header: HeaderNo, Columns: []Column{{Name: "ip"}}},
			errSub: "no header",
		},
		{
			name:   "header naming no kind",
			csv:    "when,what\n2025,thing\n",
			errSub: "no column header names an indicator kind",
		},
		{
			name:   "strict",
			csv:    "domain\nevil.com\nsetup.exe\n",
			opts:   TableOptions{Strict: true},
			errSub: "line 3, column 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := ExtractTable(t.Context(), strings.NewReader(tt.csv), tt.opts)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) || !errors.Is(err, ErrTable) {
					t.Fatalf("error %v, want an ErrTable containing %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := values(ex); !slices.Equal(got, tt.want) {
				t.Errorf("values\n got %q\nwant %q", got, tt.want)
			}
			var skips []string
			for _, s := range ex.Skipped {
				skips = append(skips, strings.Join([]string{strconv.Itoa(s.Line) + ":" + strconv.Itoa(s.Field), s.Text}, " "))
				if s.Reason == "" {
					t.Errorf("skip %+v without a reason", s)
				}
			}
			if !slices.Equal(skips, tt.skips) {
				t.Errorf("skips\n got %q\nwant %q", skips, tt.skips)
			}
			if tt.title != "" && ex.Title != tt.title {
				t.Errorf("title %q, want %q", ex.Title, tt.title)
			}
			for _, m := range ex.Matches {
				if m.Line < 1 || m.Field < 1 || m.Column < 1 {
					t.Errorf("match %+v lacks its position", m)
				}
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := ExtractTable(t.Context(), strings.NewReader("domain\n"+strings.Repeat("evil.com\n", 100)), TableOptions{Limits: Limits{MaxBytes: 100}})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("error %v", err)
		}
	})
}

func TestExtractList(t *testing.T) {
	src := "# Blocklist of the week\n\n198.51.100.7   # C2\nevil[.]com\nhxxps://evil[.]com/x\n  setup.exe\n44d88612fea8a8f36de82e1278abb02f\n"
	ex, err := ExtractList(t.Context(), strings.NewReader(src), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ipv4-addr 198.51.100.7", "domain-name evil.com", "url https://evil.com/x", "hash:MD5 44d88612fea8a8f36de82e1278abb02f"}
	if got := values(ex); !slices.Equal(got, want) {
		t.Errorf("values %q, want %q", got, want)
	}
	if len(ex.Skipped) != 1 || ex.Skipped[0].Text != "setup.exe" || ex.Skipped[0].Line != 6 || ex.Skipped[0].Column != 3 {
		t.Errorf("skipped %+v", ex.Skipped)
	}
	if ex.Title != "Blocklist of the week" || !ex.Matches[1].Defanged || ex.Matches[0].Defanged {
		t.Errorf("title %q, matches %+v", ex.Title, ex.Matches)
	}

	ex, err = ExtractList(t.Context(), strings.NewReader("evil.com\n198.51.100.7\n"), ListOptions{Kind: KindDomain})
	if err != nil {
		t.Fatal(err)
	}
	if got := values(ex); !slices.Equal(got, []string{"domain-name evil.com"}) || len(ex.Skipped) != 1 {
		t.Errorf("kind domain: values %q, skipped %+v", got, ex.Skipped)
	}
	_, err = ExtractList(t.Context(), strings.NewReader("evil.com\n198.51.100.7\n"), ListOptions{Kind: KindDomain, Strict: true})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("strict: error %v, want one naming line 2", err)
	}
}
