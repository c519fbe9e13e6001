package text

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func extract(t *testing.T, src string) *Extraction {
	t.Helper()
	ex, err := Extract(t.Context(), strings.NewReader(src), Limits{})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return ex
}

func values(ex *Extraction) []string {
	var out []string
	for _, m := range ex.Matches {
		out = append(out, string(m.Kind)+" "+m.Value)
	}
	return out
}

func skipped(ex *Extraction) []string {
	var out []string
	for _, s := range ex.Skipped {
		out = append(out, s.Text)
	}
	return out
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		want  []string // "kind value", in order of first occurrence
		skips []string // texts skipped (with a reason in the note)
	}{
		{"plain ipv4", "Beacon to 203.0.113.77, then sleep.", []string{"ipv4-addr 203.0.113.77"}, nil},
		{"ipv4 with port", "C2: 203.0.113.77:8443.", []string{"ipv4-addr 203.0.113.77"}, nil},
		{"ipv4 cidr", "Block 198.51.100.0/24 and 198.51.100.9/32 and 198.51.100.77/25.",
			[]string{"ipv4-cidr 198.51.100.0/24", "ipv4-addr 198.51.100.9", "ipv4-cidr 198.51.100.0/25"}, nil},
		{"ipv4 bad octet", "Typo 10.0.0.256 in the log.", nil, []string{"10.0.0.256"}},
		{"ipv4 leading zero", "Octal-looking 010.1.1.1 is not accepted.", nil, []string{"010.1.1.1"}},
		{"version numbers", "Agent version 10.0.0.1, ver. 1.0.0.9, build 4.3.2.1, v1.2.3.4 and firmware: 7.1.0.2.",
			nil, []string{"10.0.0.1", "1.0.0.9", "4.3.2.1", "v1.2.3.4", "7.1.0.2"}},
		{"oid and longer dotted runs", "OID 1.3.6.1.4.1.311 and 1.2.3.4.5 and 2024.03.19.", nil, nil},
		{"ipv4 glued to letters", "abc1.2.3.4 1.2.3.4abc x_1.2.3.4", nil, nil},
		{"reverse dns is not an address", "PTR 4.3.2.1.in-addr.arpa", []string{"domain-name 4.3.2.1.in-addr.arpa"}, nil},
		{"ipv6", "Seen from 2001:db8::1 and [2001:DB8:0:0:0:0:0:2]:443 and fe80::1%eth0.",
			[]string{"ipv6-addr 2001:db8::1", "ipv6-addr 2001:db8::2"}, nil},
		{"ipv6 cidr", "Range 2001:db8:abcd::/48.", []string{"ipv6-cidr 2001:db8:abcd::/48"}, nil},
		{"ipv4-mapped ipv6 is one value", "Mapped ::ffff:192.0.2.1 here.", []string{"ipv6-addr ::ffff:192.0.2.1"}, nil},
		{"not ipv6", "std::vector, Foo::Bar, 12:30:45, 00:1a:2b:3c:4d:5e, a:b", nil, nil},
		{"domains", "Resolved evil-c2.com, cdn.evil-c2.co.uk. and WWW.EVIL-C2.NET!",
			[]string{"domain-name evil-c2.com", "domain-name cdn.evil-c2.co.uk", "domain-name www.evil-c2.net"}, nil},
		{"private suffix", "Pages site evil.github.io.", []string{"domain-name evil.github.io"}, nil},
		{"public suffix alone", "The .co.uk zone and co.uk itself.", nil, []string{"co.uk"}},
		{"file names", "Dropped invoice.pdf, setup.exe and svchost.dll.", nil, []string{"invoice.pdf", "setup.exe", "svchost.dll"}},
		{"ambiguous suffixes", "Ran install.sh, run.py and update.zip; fetched payload[.]zip.",
			[]string{"domain-name payload.zip"}, []string{"install.sh", "run.py", "update.zip"}},
		{"product names", "Built on ASP.NET and Socket.IO; hosted at socket[.]io.", []string{"domain-name socket.io"}, []string{"ASP.NET", "Socket.IO"}},
		{"paths", `Wrote C:\Users\Public\evil.com and /tmp/evil.com.`, nil, nil},
		{"abbreviations", "e.g. this, i.e. that, U.S. and a.m.", nil, nil},
		{"urls", "Get http://evil.com/a?b=c#d, (https://evil.com/x_(y)) and <ftp://files.evil.com/kit.tgz>.",
			[]string{"url http://evil.com/a?b=c#d", "url https://evil.com/x_(y)", "url ftp://files.evil.com/kit.tgz"}, nil},
		{"url in markdown link", "See [the panel](https://panel.evil.com/login).", []string{"url https://panel.evil.com/login"}, nil},
		{"url host case", "HTTPS://Panel.Evil.COM/Login", []string{"url https://panel.evil.com/Login"}, nil},
		{"url with ip host", "http://198.51.100.7:8080/gate.php", []string{"url http://198.51.100.7:8080/gate.php"}, nil},
		{"url bad host", "http://setup.exe/run", nil, []string{"http://setup.exe/run"}},
		{"url quoted", "Payload 'https://evil.com/a'.", []string{"url https://evil.com/a"}, nil},
		{"unknown scheme", "smb://evil.com/share", []string{"domain-name evil.com"}, nil},
		{"emails", "From Billing.Dept+x@Invoice-Portal.com and @handle and user@localhost.",
			[]string{"email-addr billing.dept+x@invoice-portal.com"}, nil},
		{"md5 sha1 sha256 sha512", "44D88612FEA8A8F36DE82E1278ABB02F 3395856ce81f2b7382dee72602f798b642f14140 " +
			"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f " +
			"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
			[]string{"hash:MD5 44d88612fea8a8f36de82e1278abb02f", "hash:SHA-1 3395856ce81f2b7382dee72602f798b642f14140",
				"hash:SHA-256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
				"hash:SHA-512 cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"}, nil},
		{"hashes inside longer runs", "0275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f " +
			"44d88612fea8a8f36de82e1278abb02fa x44d88612fea8a8f36de82e1278abb02f 44d88612fea8a8f36de82e1278abb02f_1", nil, nil},
		{"hash in url and file name", "https://www.virustotal.com/gui/file/275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f and 44d88612fea8a8f36de82e1278abb02f.exe",
			[]string{"url https://www.virustotal.com/gui/file/275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
				"hash:SHA-256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "hash:MD5 44d88612fea8a8f36de82e1278abb02f"},
			[]string{"44d88612fea8a8f36de82e1278abb02f.exe"}},
		{"decimal digits are not a hash", "Order 12345678901234567890123456789012.", nil, []string{"12345678901234567890123456789012"}},
		{"cve", "CVE-2021-44228, cve-2023-4966 and CVE-2024-1234567; not CVE-21-1 nor CVE-1998-0001.",
			[]string{"cve CVE-2021-44228", "cve CVE-2023-4966", "cve CVE-2024-1234567"}, []string{"CVE-21-1", "CVE-1998-0001"}},
		{"attack", "T1059, T1059.001 and T0866; not T123, T12345, T1059.1, t1059 or XT1059.",
			[]string{"attack-technique T1059", "attack-technique T1059.001", "attack-technique T0866"}, nil},
		{"duplicates are counted once", "evil.com then evil[.]com then EVIL.COM", []string{"domain-name evil.com"}, nil},
		{"japanese prose", "攻撃者はevil.example.co.jpを使用し、http://evil.example.co.jp/aにアクセス。宛先は198.51.100.7でした。",
			[]string{"domain-name evil.example.co.jp", "url http://evil.example.co.jp/a", "ipv4-addr 198.51.100.7"}, nil},
		{"latin letters are word characters", "café.com évil.com", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := extract(t, tt.text)
			if got := values(ex); !slices.Equal(got, tt.want) {
				t.Errorf("values\n got %q\nwant %q", got, tt.want)
			}
			if got := skipped(ex); !slices.Equal(got, tt.skips) {
				t.Errorf("skipped\n got %q\nwant %q", got, tt.skips)
			}
			for _, s := range ex.Skipped {
				if s.Reason == "" || s.Line != 1 || s.Column < 1 {
					t.Errorf("skip %+v lacks a reason or a position", s)
				}
			}
		})
	}
}

func TestDefanged(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"evil[.]com", "domain-name evil.com"},
		{"evil(.)com", "domain-name evil.com"},
		{"evil{.}com", "domain-name evil.com"},
		{"evil[dot]com", "domain-name evil.com"},
		{"evil(DOT)com", "domain-name evil.com"},
		{"evil [dot] com", "domain-name evil.com"},
		{"evil [ . ] com", "domain-name evil.com"},
		{`evil\.com`, "domain-name evil.com"},
		{"198[.]51[.]100[.]7", "ipv4-addr 198.51.100.7"},
		{"198.51.100(.)7", "ipv4-addr 198.51.100.7"},
		{"hxxp://evil[.]com/a", "url http://evil.com/a"},
		{"hXXps://evil[.]com/a", "url https://evil.com/a"},
		{"hxtp://evil[.]com/a", "url http://evil.com/a"},
		{"h**ps://evil.com/a", "url https://evil.com/a"},
		{"hxxp[:]//evil[.]com", "url http://evil.com"},
		{"hxxp[://]evil[.]com", "url http://evil.com"},
		{"http[:]//evil.com[/]x", "url http://evil.com/x"},
		{"fxp://files[.]evil[.]com/kit", "url ftp://files.evil.com/kit"},
		{"user[@]evil[.]com", "email-addr user@evil.com"},
		{"user(at)evil(dot)com", "email-addr user@evil.com"},
		{"user [at] evil [dot] com", "email-addr user@evil.com"},
		{"user{@}evil.com", "email-addr user@evil.com"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			ex := extract(t, "see "+tt.text+" now")
			if got := values(ex); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("values %q, want [%q]", got, tt.want)
			}
			m := ex.Matches[0]
			if !m.Defanged {
				t.Errorf("match %+v not marked defanged", m)
			}
			if m.Original != tt.text {
				t.Errorf("Original %q, want %q", m.Original, tt.text)
			}
			if m.Column != 5 {
				t.Errorf("Column %d, want 5", m.Column)
			}
		})
	}
	t.Run("not defanged", func(t *testing.T) {
		ex := extract(t, "evil.com")
		if len(ex.Matches) != 1 || ex.Matches[0].Defanged {
			t.Errorf("%+v", ex.Matches)
		}
	})
}

func TestRefang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hxxps://evil[.]com[/]a", "https://evil.com/a"},
		{"a [.] b", "a.b"},
		{"a(dot)b(at)c", "a.b@c"},
		{"[.)", "."},
		{"hxxpfoo", "hxxpfoo"},             // not a scheme
		{"shxxp://x", "shxxp://x"},         // not at a word start
		{"[..]", "[..]"},                   // not a defang token
		{"a\\.", "a\\."},                   // a backslash-dot needs letters on both sides
		{"(at the time)", "(at the time)"}, // "at" must be the whole bracketed text
		{"日本[.]jp", "日本.jp"},
	}
	for _, tt := range tests {
		if got := Refang(tt.in); got != tt.want {
			t.Errorf("Refang(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPositions(t *testing.T) {
	src := "# Title line\r\n\r\nfirst 198.51.100.7\r\n日本語 evil[.]com and evil.com again\n\tcve-2021-44228"
	ex := extract(t, src)
	type pos struct {
		v            string
		line, col, n int
	}
	var got []pos
	for _, m := range ex.Matches {
		got = append(got, pos{m.Value, m.Line, m.Column, m.Count})
	}
	want := []pos{{"198.51.100.7", 3, 7, 1}, {"evil.com", 4, 5, 2}, {"CVE-2021-44228", 5, 2, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("positions %v, want %v", got, want)
	}
	if ex.Title != "Title line" || ex.Lines != 5 || ex.Bytes != int64(len(src)) || ex.SHA256 != sha256.Sum256([]byte(src)) {
		t.Errorf("title %q, lines %d, bytes %d, digest %x", ex.Title, ex.Lines, ex.Bytes, ex.SHA256)
	}
}

func TestTitle(t *testing.T) {
	tests := []struct{ text, want string }{
		{"\n\n  First line  \nsecond\n", "First line"},
		{"intro\n## Real heading ##\n# Later heading\n", "Real heading"},
		{"#hashtag\n", "#hashtag"},
		{"####### seven is not a heading\n", "####### seven is not a heading"},
		{"", ""},
		{strings.Repeat("x", 300), strings.Repeat("x", 199) + "…"},
	}
	for _, tt := range tests {
		if got := extract(t, tt.text).Title; got != tt.want {
			t.Errorf("title of %q = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Run("max bytes", func(t *testing.T) {
		_, err := Extract(t.Context(), strings.NewReader(strings.Repeat("a", 100)), Limits{MaxBytes: 99})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v, want ErrTooLarge", err)
		}
		if _, err := Extract(t.Context(), strings.NewReader(strings.Repeat("a", 99)), Limits{MaxBytes: 99}); err != nil {
			t.Fatalf("exactly at the limit: %v", err)
		}
	})
	t.Run("long line", func(t *testing.T) {
		src := "evil.com\n" + strings.Repeat("x", 5000) + " other.com\nlast.com"
		ex, err := Extract(t.Context(), strings.NewReader(src), Limits{MaxLineBytes: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if got := values(ex); !slices.Equal(got, []string{"domain-name evil.com", "domain-name last.com"}) {
			t.Errorf("values %q", got)
		}
		if len(ex.Skipped) != 1 || ex.Skipped[0].Line != 2 || !strings.Contains(ex.Skipped[0].Reason, "longer than 1024") ||
			!strings.HasPrefix(ex.Skipped[0].Text, "xxxx") {
			t.Errorf("skipped %+v", ex.Skipped)
		}
		if ex.Lines != 3 {
			t.Errorf("lines %d", ex.Lines)
		}
	})
	t.Run("max indicators", func(t *testing.T) {
		ex, err := Extract(t.Context(), strings.NewReader("a.com b.com a.com c.com d.com"), Limits{MaxIndicators: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := values(ex); !slices.Equal(got, []string{"domain-name a.com", "domain-name b.com"}) || ex.Dropped != 2 || !ex.Truncated() {
			t.Errorf("values %q, dropped %d", got, ex.Dropped)
		}
		if ex.Matches[0].Count != 2 {
			t.Errorf("a.com counted %d times", ex.Matches[0].Count)
		}
	})
	t.Run("max skipped", func(t *testing.T) {
		ex, err := Extract(t.Context(), strings.NewReader("a.exe b.exe a.exe c.exe"), Limits{MaxSkipped: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := skipped(ex); !slices.Equal(got, []string{"a.exe", "b.exe"}) || ex.SkippedTotal != 4 {
			t.Errorf("skipped %q, total %d", got, ex.SkippedTotal)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Extract(ctx, strings.NewReader("evil.com"), Limits{}); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		_, err := Extract(t.Context(), io.MultiReader(strings.NewReader("evil.com\n"), errReader{boom}), Limits{})
		if !errors.Is(err, boom) {
			t.Errorf("error %v", err)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestValidate(t *testing.T) {
	tests := []struct {
		kind    Kind
		in      string
		want    string
		wantK   Kind
		wantErr bool
	}{
		{KindIPv4, " 192.0.2.1 ", "192.0.2.1", KindIPv4, false},
		{KindIPv4, "2001:DB8::1", "2001:db8::1", KindIPv6, false},
		{KindIPv4, "192.0.2.256", "", KindIPv4, true},
		{KindIPv6, "fe80::1%eth0", "", KindIPv6, true},
		{KindIPv4CIDR, "192.0.2.77/24", "192.0.2.0/24", KindIPv4CIDR, false},
		{KindIPv4CIDR, "2001:db8::1/32", "2001:db8::/32", KindIPv6CIDR, false},
		{KindIPv4CIDR, "192.0.2.0/33", "", KindIPv4CIDR, true},
		{KindDomain, "Evil.COM.", "evil.com", KindDomain, false},
		{KindDomain, "setup.exe", "", KindDomain, true},
		{KindDomain, "co.uk", "", KindDomain, true},
		{KindDomain, "-evil.com", "", KindDomain, true},
		{KindDomain, "ev_il.com", "", KindDomain, true},
		{KindDomain, strings.Repeat("a", 64) + ".com", "", KindDomain, true},
		{KindURL, "HTTP://Evil.Com:8080/A?b", "http://evil.com:8080/A?b", KindURL, false},
		{KindURL, "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x", KindURL, false},
		{KindURL, "http://user:pw@evil.com/", "http://user:pw@evil.com/", KindURL, false},
		{KindURL, "javascript://evil.com", "", KindURL, true},
		{KindURL, "http://evil.com/a b", "", KindURL, true},
		{KindURL, "http://evil.com:80a/", "", KindURL, true},
		{KindURL, "http://999.1.1.1/", "", KindURL, true},
		{KindEmail, "A.B+c@Evil.com", "a.b+c@evil.com", KindEmail, false},
		{KindEmail, ".a@evil.com", "", KindEmail, true},
		{KindEmail, "a@setup.exe", "", KindEmail, true},
		{KindMD5, "44D88612FEA8A8F36DE82E1278ABB02F", "44d88612fea8a8f36de82e1278abb02f", KindMD5, false},
		{KindSHA1, "44d88612fea8a8f36de82e1278abb02f", "", KindSHA1, true},
		{KindSHA256, strings.Repeat("g", 64), "", KindSHA256, true},
		{KindCVE, "cve-2021-44228", "CVE-2021-44228", KindCVE, false},
		{KindCVE, "CVE-2021-123", "", KindCVE, true},
		{KindCVE, "CVE-2021-01234", "", KindCVE, true}, // a leading zero only in four digits
		{KindCVE, "CVE-2021-0123", "CVE-2021-0123", KindCVE, false},
		{KindATTACK, "t1059.001", "T1059.001", KindATTACK, false},
		{KindATTACK, "T1059.01", "", KindATTACK, true},
		{Kind("ssdeep"), "x", "", Kind("ssdeep"), true},
		{KindDomain, "  ", "", KindDomain, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" "+tt.in, func(t *testing.T) {
			k, got, err := Validate(tt.kind, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || k != tt.wantK {
				t.Errorf("Validate = %s %q, want %s %q", k, got, tt.wantK, tt.want)
			}
			if err == nil {
				if k2, again, err := Validate(k, got); err != nil || again != got || k2 != k {
					t.Errorf("normalised value does not validate to itself: %s %q %v", k2, again, err)
				}
			}
		})
	}
}

func TestClassifyAndParseKind(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Kind
	}{
		{"192.0.2.1", KindIPv4}, {"2001:db8::1", KindIPv6}, {"192.0.2.0/24", KindIPv4CIDR}, {"2001:db8::/32", KindIPv6CIDR},
		{"evil.com", KindDomain}, {"http://evil.com/", KindURL}, {"a@evil.com", KindEmail},
		{"44d88612fea8a8f36de82e1278abb02f", KindMD5}, {strings.Repeat("a", 40), KindSHA1}, {strings.Repeat("b", 64), KindSHA256},
		{strings.Repeat("c", 128), KindSHA512}, {"CVE-2021-44228", KindCVE}, {"T1059.001", KindATTACK},
	} {
		if k, _, err := Classify(tt.in); err != nil || k != tt.want {
			t.Errorf("Classify(%q) = %s, %v; want %s", tt.in, k, err, tt.want)
		}
	}
	for _, bad := range []string{"", "setup.exe", "1.2.3", "hello", "10.0.0.256", "a@b"} {
		if k, v, err := Classify(bad); err == nil {
			t.Errorf("Classify(%q) = %s %q, want an error", bad, k, v)
		}
	}
	for name, want := range map[string]Kind{"IP": KindIPv4, "ip-dst": KindIPv4, "Domain": KindDomain, "hostname": KindDomain,
		"SHA256": KindSHA256, "sha-1": KindSHA1, "email-src": KindEmail, "cidr": KindIPv4CIDR, "technique": KindATTACK, "hash:SHA-256": KindSHA256} {
		if k, err := ParseKind(name); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %s, %v; want %s", name, k, err, want)
		}
	}
	if _, err := ParseKind("ssdeep"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ParseKind(ssdeep) error %v", err)
	}
	for _, k := range Kinds {
		if k.IsIndicator() != (k.Observable() != "") {
			t.Errorf("kind %s: IsIndicator %v but Observable %q", k, k.IsIndicator(), k.Observable())
		}
	}
}
