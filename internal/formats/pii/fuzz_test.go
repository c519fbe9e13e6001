package pii

import (
	"bytes"
	"errors"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"description":"123456789018 090-1234-5678 taro@example.jp 4111 1111 1111 1111"}`,
		`{"type":"indicator","pattern":"[email-addr:value = 'a@b.example']","name":"+81 3 1234 5678"}`,
		`["０９０－１２３４－５６７８", {"k":"(202) 555-0143"}]`,
		`{"a":"\u0030\u0039\u0030-1234-5678"}`,
		`{"x@y.example":1}`, `"4111111111111111"`, `{`, `null`,
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
		f.Add([]byte(s), uint8(3))
	}
	key := bytes.Repeat([]byte{1}, 32)
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8) {
		m := Mode(mode%3 + 1)
		p := Policy{Mode: m, Key: key}
		fs := Scan(raw)
		out, found, err := Apply(raw, p)
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("Apply error that is not ErrBlocked: %v", err)
			}
			if out != nil {
				t.Fatalf("blocked, yet bytes came out: %q", out)
			}
			return
		}
		if !jsontext.Value(out).IsValid() {
			t.Fatalf("Apply output is not valid JSON: %q", out)
		}
		if m == ModeBlock && len(found) > 0 {
			t.Fatalf("block mode returned bytes with findings")
		}
		if len(found) < len(fs) {
			t.Fatalf("Apply found %d, Scan %d", len(found), len(fs))
		}
		if m != ModeBlock && len(found) > 0 {
			if again := Scan(out); len(again) != 0 {
				t.Fatalf("redacted output still has findings %v: %q", again, out)
			}
		}
	})
}

// FuzzPrecheck: the byte-level pre-check (mayHold) never hides a finding that decoding every string
// would give.
func FuzzPrecheck(f *testing.F) {
	for _, s := range precheckCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !jsontext.Value(raw).IsValid() {
			return
		}
		full, err := scanTokens(raw, ruleSet{})
		if err != nil {
			return
		}
		got, err := scan(raw, ruleSet{}, 0)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		if len(got) != len(full) {
			t.Fatalf("with the pre-check %d findings, without %d: %q", len(got), len(full), raw)
		}
	})
}

// FuzzSegments: running the numeric detectors only on the runs segments keeps finds what running
// them on the whole string finds.
func FuzzSegments(f *testing.F) {
	for _, s := range precheckCases {
		f.Add(s)
	}
	f.Add("x15-1630-4482-8584-y 090-1234-5678 +81 3 1234 5678 (03)1234-5678 4111-1111-1111-1111")
	whole := func(s string, yield func(lo, hi int)) { yield(0, len(s)) }
	f.Fuzz(func(t *testing.T, s string) {
		got, want := detect(s, ruleSet{}), detectIn(s, ruleSet{}, whole)
		if len(got) != len(want) {
			t.Fatalf("%q: %d matches from the runs, %d from the whole string", s, len(got), len(want))
		}
	})
}
