package pii

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// refCheckDigit is the My Number check digit written independently of CheckDigit: weights 6 5 4 3 2
// 7 6 5 4 3 2 on the 11 digits from the left.
func refCheckDigit(base string) int {
	w := []int{6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := range 11 {
		sum += int(base[i]-'0') * w[i]
	}
	if r := sum % 11; r > 1 {
		return 11 - r
	}
	return 0
}

func TestCheckDigit(t *testing.T) {
	for _, base := range []string{"12345678901", "00000000000", "99999999999", "31415926535", "27182818284", "10000000000", "00000000001"} {
		t.Run(base, func(t *testing.T) {
			if got, want := CheckDigit(base), refCheckDigit(base); got != want {
				t.Errorf("CheckDigit(%s) = %d, want %d", base, got, want)
			}
		})
	}
	// A value worked by hand: 1·6+2·5+3·4+4·3+5·2+6·7+7·6+8·5+9·4+0·3+1·2 = 212, 212 mod 11 = 3, 11-3 = 8.
	if got := CheckDigit("12345678901"); got != 8 {
		t.Errorf("CheckDigit(12345678901) = %d, want 8", got)
	}
	for _, bad := range []string{"", "1234567890", "123456789012", "1234567890a"} {
		if got := CheckDigit(bad); got != -1 {
			t.Errorf("CheckDigit(%q) = %d, want -1", bad, got)
		}
	}
}

// myNumber returns a valid My Number for an 11-digit base, and one with a wrong check digit.
func myNumber(base string) (valid, invalid string) {
	c := refCheckDigit(base)
	return fmt.Sprintf("%s%d", base, c), fmt.Sprintf("%s%d", base, (c+1)%10)
}

func rulesOf(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%s:%d+%d", f.Rule, f.Path, f.Offset, f.Length))
	}
	return out
}

func obj(desc string) []byte {
	b, err := jsontext.AppendQuote(nil, desc)
	if err != nil {
		panic(err)
	}
	return []byte(`{"type":"report","id":"report--00000000-0000-4000-8000-000000000001","description":` + string(b) + `}`)
}

func TestDetectors(t *testing.T) {
	v1, inv1 := myNumber("31415926535")
	v2, _ := myNumber("27182818284")
	spaced := v2[:4] + " " + v2[4:8] + " " + v2[8:]
	full := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + (r - '0')
		}
		return r
	}, v1)
	tests := []struct {
		name, text string
		want       []string // rule:offset+length of each finding in /description
	}{
		{"my number", "victim id " + v1 + " leaked", []string{"my-number:10+12"}},
		{"my number 4-4-4", "no. " + spaced, []string{"my-number:4+14"}},
		{"my number full-width", "番号" + full, []string{fmt.Sprintf("my-number:6+%d", len(full))}},
		{"my number wrong check digit", "id " + inv1, nil},
		{"my number inside a hash", "sha " + "ab" + v1 + "cd", nil},
		{"my number inside a longer number", "n=1" + v1, nil},
		{"my number mixed separators", v2[:4] + "-" + v2[4:8] + " " + v2[8:], nil},
		{"visa", "card 4111 1111 1111 1111 exp", []string{"payment-card:5+19"}},
		{"visa compact", "4111111111111111", []string{"payment-card:0+16"}},
		{"amex", "amex 378282246310005.", []string{"payment-card:5+15"}},
		{"jcb", "jcb 3530-1113-3330-0000", []string{"payment-card:4+19"}},
		{"mastercard 2-series", "mc 2223000048400011", []string{"payment-card:3+16"}},
		{"card then year", "4111111111111111 2025", []string{"payment-card:0+16"}},
		{"luhn fails", "4111111111111112", nil},
		{"unknown IIN", "9111111111111111", nil},
		{"jp mobile", "tel 090-1234-5678.", []string{"phone:4+13"}},
		{"jp landline", "03-1234-5678", []string{"phone:0+12"}},
		{"jp freephone", "0120-123-456", []string{"phone:0+12"}},
		{"jp paren", "(03)1234-5678", []string{"phone:0+13"}},
		{"jp mobile compact", "09012345678", []string{"phone:0+11"}},
		{"jp full-width", "０９０－１２３４－５６７８", []string{"phone:0+39"}},
		{"e164", "call +81 90 1234 5678 now", []string{"phone:5+16"}},
		{"e164 compact", "+819012345678", []string{"phone:0+13"}},
		{"nanp", "(202) 555-0143", []string{"phone:0+14"}},
		{"nanp dashes", "202-555-0143", []string{"phone:0+12"}},
		{"date", "2024-01-15 and 2024-0115-2024", nil},
		{"ip address", "203.0.113.45 and 10.20.30.40", nil},
		{"uuid", "00000000-0000-4000-8000-000000000001", nil},
		{"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil},
		{"timestamp", "2024-01-01T00:00:00.000Z", nil},
		{"version", "1.2.3-0901-2345-678", nil},
		{"personal email", "contact taro.yamada@example.co.jp please", []string{"email:8+25"}},
		{"role email", "report to abuse@example.net or soc@example.org", nil},
		{"two rules", "Taro " + v1 + ", 090-1234-5678, taro@example.jp", []string{"my-number:5+12", "phone:19+13", "email:34+15"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := Scan(obj(tc.text))
			var got []string
			for _, f := range fs {
				if f.Path != "/description" || f.InName {
					t.Errorf("finding at %s (name %v)", f.Path, f.InName)
				}
				got = append(got, fmt.Sprintf("%s:%d+%d", f.Rule, f.Offset, f.Length))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Scan(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestEmailContext(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"indicator pattern", `{"type":"indicator","name":"phish","pattern":"[email-addr:value = 'attacker@evil.example']"}`, nil},
		{"indicator name", `{"type":"indicator","name":"mail from taro@example.jp","pattern":"[email-addr:value = 'attacker@evil.example']"}`,
			[]string{"email@/name:10+15"}},
		{"pattern of a non-indicator", `{"pattern":"taro@example.jp","type":"x-thing"}`, []string{"email@/pattern:0+15"}},
		{"email-addr value", `{"type":"email-addr","value":"attacker@evil.example","display_name":"Hanako hanako@example.jp"}`,
			[]string{"email@/display_name:7+17"}},
		{"observed-data 2.0 objects", `{"type":"observed-data","objects":{"0":{"type":"email-addr","value":"a@evil.example"}}}`, nil},
		{"note content", `{"type":"note","content":"victim: hanako@example.jp"}`, []string{"email@/content:8+17"}},
		{"nested description", `{"type":"report","external_references":[{"description":"by jiro@example.jp"}]}`,
			[]string{"email@/external_references/0/description:3+15"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesOf(Scan([]byte(tc.raw))); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	v1, _ := myNumber("31415926535")
	key := bytes.Repeat([]byte{7}, 32)
	raw := []byte(`{"type":"note","id":"note--1",  "content":"My Number ` + v1 + ` / tel 090-1234-5678","abstract":"clean"}`)
	t.Run("clean input is returned as is", func(t *testing.T) {
		in := []byte(`{"type":"note","content":"nothing here"}`)
		out, fs, err := Apply(in, Policy{Mode: ModeBlock})
		if err != nil || len(fs) != 0 || !bytes.Equal(out, in) {
			t.Fatalf("Apply = %s, %v, %v", out, fs, err)
		}
	})
	t.Run("block", func(t *testing.T) {
		out, fs, err := Apply(raw, Policy{Mode: ModeBlock})
		if !errors.Is(err, ErrBlocked) || out != nil || len(fs) != 2 {
			t.Fatalf("Apply = %q, %v, %v", out, fs, err)
		}
		if strings.Contains(err.Error(), v1) {
			t.Errorf("the error %q shows the value", err)
		}
	})
	t.Run("redact", func(t *testing.T) {
		out, fs, err := Apply(raw, Policy{Mode: ModeRedact})
		if err != nil || len(fs) != 2 {
			t.Fatalf("Apply: %v %v", fs, err)
		}
		want := `{"type":"note","id":"note--1",  "content":"My Number [pii-redacted:my-number] / tel [pii-redacted:phone]","abstract":"clean"}`
		if string(out) != want {
			t.Errorf("got  %s\nwant %s", out, want)
		}
	})
	t.Run("hash", func(t *testing.T) {
		out, _, err := Apply(raw, Policy{Mode: ModeHash, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		tok := Token(key, RuleMyNumber, v1)
		if !bytes.Contains(out, []byte("[pii-hash:my-number:"+tok+"]")) || bytes.Contains(out, []byte(v1)) {
			t.Errorf("got %s", out)
		}
		// The same number written differently gives the same token; another key another token.
		spaced := v1[:4] + "-" + v1[4:8] + "-" + v1[8:]
		out2, _, err := Apply(obj("id "+spaced), Policy{Mode: ModeHash, Key: key})
		if err != nil || !bytes.Contains(out2, []byte(tok)) {
			t.Errorf("spaced: %s %v", out2, err)
		}
		out3, _, err := Apply(raw, Policy{Mode: ModeHash, Key: bytes.Repeat([]byte{8}, 32)})
		if err != nil || bytes.Contains(out3, []byte(tok)) {
			t.Errorf("other key: %s %v", out3, err)
		}
	})
	t.Run("escapes survive", func(t *testing.T) {
		in := []byte(`{"description":"\"q\"\t\u3042 ` + v1 + ` \\ end","other":"\u0041"}`)
		out, _, err := Apply(in, Policy{Mode: ModeRedact})
		if err != nil || !jsontext.Value(out).IsValid() {
			t.Fatalf("%s %v", out, err)
		}
		if !bytes.HasSuffix(out, []byte(`,"other":"\u0041"}`)) {
			t.Errorf("bytes outside the string changed: %s", out)
		}
		var m map[string]string
		if err := jsonUnmarshal(out, &m); err != nil || m["description"] != "\"q\"\tあ [pii-redacted:my-number] \\ end" {
			t.Errorf("%q %v", m["description"], err)
		}
	})
	t.Run("member name blocks", func(t *testing.T) {
		in := []byte(`{"x_contacts":{"taro@example.jp":"primary"}}`)
		out, fs, err := Apply(in, Policy{Mode: ModeRedact})
		if !errors.Is(err, ErrBlocked) || out != nil || len(fs) != 1 || !fs[0].InName {
			t.Errorf("%s %v %v", out, fs, err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, in := range []string{`{"a":`, `{"a":1}{"b":2}`, `{"a":1,"a":2}`, "\"\xff\"", ``} {
			out, _, err := Apply([]byte(in), Policy{Mode: ModeRedact})
			if !errors.Is(err, ErrBlocked) || out != nil {
				t.Errorf("Apply(%q) = %q, %v", in, out, err)
			}
			if fs := Scan([]byte(in)); len(fs) != 1 || fs[0].Rule != RuleMalformed {
				t.Errorf("Scan(%q) = %v", in, fs)
			}
		}
	})
	t.Run("size limit", func(t *testing.T) {
		if _, _, err := Apply(raw, Policy{Mode: ModeRedact, MaxBytes: 10}); !errors.Is(err, ErrBlocked) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad policy", func(t *testing.T) {
		for _, p := range []Policy{{}, {Mode: ModeHash, Key: []byte("short")}, {Mode: ModeRedact, Rules: []Rule{"nope"}}} {
			if _, _, err := Apply(raw, p); err == nil || errors.Is(err, ErrBlocked) {
				t.Errorf("Apply with %v: %v", p, err)
			}
		}
	})
	t.Run("rules subset", func(t *testing.T) {
		_, fs, err := Apply(raw, Policy{Mode: ModeRedact, Rules: []Rule{RulePhone}})
		if err != nil || len(fs) != 1 || fs[0].Rule != RulePhone {
			t.Errorf("%v %v", fs, err)
		}
	})
}

func TestFindingNeverHoldsTheValue(t *testing.T) {
	v1, _ := myNumber("12345678901")
	for _, f := range Scan(obj("x " + v1)) {
		if strings.Contains(f.String(), v1) || strings.Contains(f.LogValue().String(), v1) {
			t.Errorf("finding shows the value: %s", f)
		}
	}
	p := Policy{Mode: ModeHash, Key: []byte("0123456789abcdef0123456789abcdef-secret")}
	if strings.Contains(p.LogValue().String(), "secret") {
		t.Error("policy logs its key")
	}
}

// precheckCases hold personal data in every form the pre-check must not miss (escapes, full-width
// digits, short E.164 numbers, member names) and the common numeric runs it skips.
var precheckCases = []string{
	`{"description":"call +81312345678 now"}`,
	`{"description":"call +4930123456"}`,
	`{"description":"\u0030\u0039\u0030-1234-5678"}`,
	`{"description":"\uff10\uff19\uff10\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18"}`,
	`{"description":"０９０－１２３４－５６７８"}`,
	`{"description":"mail taro\u0040example.jp"}`,
	`{"090-1234-5678":true}`,
	`{"n":"4111 1111 1111 1111"}`,
	`{"n":"(202) 555-0143"}`,
	`{"description":"admin:\n090-1234-5678"}`,
	`{"description":"ref x_090-1234-5678 and mobile 090-1234-5678"}`,
	`{"created":"2024-03-01T10:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.7']",` +
		`"id":"indicator--9e15-1630-4482-8584-1234567890ab","hash":"a12345678901234567890b"}`,
}

func TestPrecheckAgreesWithFullScan(t *testing.T) {
	for _, c := range precheckCases {
		t.Run(c, func(t *testing.T) {
			full, err := scanTokens([]byte(c), ruleSet{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := scan([]byte(c), ruleSet{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(full) {
				t.Errorf("with the pre-check %d findings, without %d", len(got), len(full))
			}
		})
	}
	// The common case is skipped from its bytes: timestamps and addresses are no candidates.
	if mayHold([]byte(precheckCases[len(precheckCases)-1]), ruleSet{}) {
		t.Error("an object with only timestamps and an IPv4 address was not skipped")
	}
	// And the cases with personal data are found at all (the comparison above is not vacuous).
	for _, c := range precheckCases[:len(precheckCases)-1] {
		if len(Scan([]byte(c))) == 0 {
			t.Errorf("no finding in %s", c)
		}
	}
}

func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	hexKey := dir + "/hex.key"
	if err := os.WriteFile(hexKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := dir + "/short.key"
	if err := os.WriteFile(short, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy("hash", hexKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeHash || !bytes.Equal(p.Key, bytes.Repeat([]byte{0xab}, 32)) {
		t.Errorf("LoadPolicy(hash, hex key) = mode %v, key of %d bytes", p.Mode, len(p.Key))
	}
	if p, err := LoadPolicy("block", ""); err != nil || p.Mode != ModeBlock {
		t.Errorf("LoadPolicy(block) = %v, %v", p, err)
	}
	for _, c := range []struct{ mode, key, want string }{
		{"hash", "", "needs a key file"},
		{"hash", short, "at least 32 bytes"},
		{"hash", dir + "/missing", "no such file"},
		{"drop", "", "want block, redact or hash"},
	} {
		if _, err := LoadPolicy(c.mode, c.key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadPolicy(%q, %q) = %v, want an error with %q", c.mode, c.key, err, c.want)
		}
	}
}
