package stix

import (
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// fastCanonical is the canonical form by Digest's own pass, and whether it took the value.
func fastCanonical(raw []byte) ([]byte, bool) {
	c := new(canonicalizer)
	end, ok := c.value(raw, skipWS(raw, 0), 0)
	if !ok || skipWS(raw, end) != len(raw) {
		return nil, false
	}
	return c.out, true
}

// checkAgainstJSONText fails when Digest's own pass takes a value and writes other bytes than
// jsontext's Canonicalize, or takes a value jsontext refuses; it reports whether the pass took it.
func checkAgainstJSONText(t *testing.T, raw []byte) bool {
	t.Helper()
	want := jsontext.Value(append([]byte(nil), raw...))
	werr := want.Canonicalize()
	got, ok := fastCanonical(raw)
	switch {
	case ok && werr != nil:
		t.Errorf("own pass took %q, which jsontext refuses: %v", raw, werr)
	case ok && string(got) != string(want):
		t.Errorf("canonical form of %q:\n own      %q\n jsontext %q", raw, got, want)
	}
	d, err := Digest(raw)
	if (err != nil) != (werr != nil) {
		t.Errorf("Digest(%q) error %v, jsontext %v", raw, err, werr)
	} else if err == nil && d != digestOf([]byte(want)) {
		t.Errorf("Digest(%q) differs from the SHA-256 of jsontext's canonical form", raw)
	}
	return ok
}

func digestOf(canonical []byte) [32]byte {
	d, err := digestJSONText(canonical)
	if err != nil {
		panic(err)
	}
	return d
}

func TestDigestAgreesWithJSONText(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `""`, `0`, `-7`, `123456789012345`, `true`, `false`, `null`,
		` { "b" : 1 , "a" : [ 1 , { "z" : null , "y" : "x" } ] } `,
		`{"type":"indicator","id":"indicator--x","pattern":"[file:name = 'a\\'b']","confidence":85}`,
		`{"a":"line\nbreak\ttab\"quote\\slash\/solidus\b\f\r"}`,
		`{"a":"\u0000\u001f\u007f\u00e9\u2028\ud83d\ude00 é 😀"}`,
		`{"a":"\u0041\u00C9"}`,
		`{"aa":1,"a":2,"b":3,"B":4,"_":5,"a-b":6,"a_b":7}`,
		`{"SHA-256":"x","MD5":"y","SHA-1":"z"}`,
		// Left to jsontext: numbers that are not short integers, escaped or non-ASCII names,
		// duplicates, lone surrogates, invalid UTF-8, control characters, trailing garbage.
		`{"a":1.0}`, `{"a":1e3}`, `{"a":-0}`, `{"a":0.1}`, `{"a":1234567890123456789}`, `{"a":007}`,
		`{"\u0061":1,"b":2}`, `{"é":1,"e":2}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, `{"a":"\udc00x"}`,
		"{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}", `{"a":1}x`, `{"a":}`, `{"a" 1}`, `[1,]`, `{"a":tru}`, `"\q"`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40),
	}
	took := 0
	for _, c := range cases {
		if checkAgainstJSONText(t, []byte(c)) {
			took++
		}
	}
	if took < 15 {
		t.Errorf("the own pass took only %d of the cases: the fast path is not being exercised", took)
	}
	// Every OASIS example object: all of them are within the fast path but those with
	// fractional numbers or non-ASCII names.
	took = 0
	objs := exampleObjects(t)
	for _, raw := range objs {
		if checkAgainstJSONText(t, raw) {
			took++
		}
	}
	if took < len(objs)*9/10 {
		t.Errorf("the own pass took %d of %d example objects", took, len(objs))
	}
}

func FuzzDigest(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":"\u0041","c":[1.0,2e0]}`, `{"a":"x\ny","b":[true,null,-3]}`, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<16 {
			return
		}
		checkAgainstJSONText(t, raw)
	})
}

func BenchmarkDigest(b *testing.B) {
	objs := smallMix(b)
	for _, impl := range []struct {
		name string
		fn   func([]byte) ([32]byte, error)
	}{{"own", Digest}, {"jsontext", digestJSONText}} {
		b.Run(impl.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if _, err := impl.fn(objs[n%len(objs)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1000, "µs/object")
		})
	}
}
