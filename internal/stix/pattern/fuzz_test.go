package pattern

import (
	"strings"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
	"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar']) WITHIN 300 SECONDS",
	"[x:a = 1 AND x:b[*].c NOT IN (1, 2) OR x:d LIKE 'a%_'] REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
	"[x:a MATCHES '^(a|b)+$' AND x:c_ref.d ISSUBSET '10.0.0.0/8'] AND [x:a = b'AAE=' OR x:e_hex = h'ff'] OR [NOT EXISTS x:z]",
	"[x:a > 1.5] FOLLOWEDBY ([x:a < -2] AND [x:a >= t'2020-01-01T00:00:00.123Z']) REPEATS 3 TIMES",
	"/* c */ [x:'a b'.c[0] != true] // d",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Compile(s)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
			}
			return
		}
		// A compiled pattern renders to text that compiles to the same rendering.
		q, err := Compile(p.String())
		if err != nil {
			t.Fatalf("%q renders as %q, which does not compile: %v", s, p.String(), err)
		}
		if q.String() != p.String() {
			t.Fatalf("%q: rendering %q is not stable: %q", s, p.String(), q.String())
		}
		_ = p.IndexKeys()
		_ = p.IndexComplete()
	})
}

var fuzzData = `[
{"type":"observed-data","id":"o1","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:05Z","number_observed":3,
 "objects":{"0":{"type":"x","a":1,"b":[{"c":1},{"c":"2"}],"c_ref":"1","e_hex":"ff","f_bin":"AAE="},"1":{"type":"ipv4-addr","value":"10.1.2.3","d":"10.0.0.0/16"}}},
{"type":"observed-data","id":"o2","first_observed":"2020-01-01T00:00:10Z","last_observed":"2020-01-01T00:00:10Z","number_observed":1,
 "objects":{"0":{"type":"x","a":-2.5,"d":"abc","z":null}}}]`

func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, 2)
	}
	base, err := ReadObservations(strings.NewReader(fuzzData), DefaultInputLimits)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, copies int) {
		p, err := Compile(s)
		if err != nil {
			return
		}
		copies = 1 + (copies&0xff)%16
		var obs []Observation
		for i := 0; i < copies; i++ {
			for _, o := range base {
				o.First = o.First.Add(time.Duration(i) * time.Second)
				o.Last = o.Last.Add(time.Duration(i) * time.Second)
				obs = append(obs, o)
			}
		}
		r, err := p.Match(obs)
		if err != nil {
			t.Fatal(err)
		}
		// No run is longer than linear in its input: a generous bound on steps per observation
		// and comparison.
		if limit := int64(len(obs)+1) * int64(len(p.Comparisons())+1) * 200000; r.Steps > limit {
			t.Fatalf("%d steps for %d observations", r.Steps, len(obs))
		}
		for _, i := range r.Observations {
			if i < 0 || i >= len(obs) {
				t.Fatalf("observation index %d out of range", i)
			}
		}
	})
}
