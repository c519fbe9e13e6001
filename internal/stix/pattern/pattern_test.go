package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/testdata"
)

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 70) + "[a:b = 1]" + strings.Repeat(")", 70)
	many := "[" + strings.Repeat("a:b = 1 OR ", 1100) + "a:b = 1]"
	long := "[a:b = '" + strings.Repeat("x", 70<<10) + "']"
	tests := []struct {
		name, pattern, want string
	}{
		{"depth", deep, "at most 64 nested"},
		{"comparisons", many, "at most 1024 comparisons"},
		{"length", long, "at most 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.pattern)
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a *SyntaxError containing %q", err, tt.want)
			}
		})
	}
	// Within the limits, the same shapes compile.
	for _, p := range []string{strings.Repeat("(", 60) + "[a:b = 1]" + strings.Repeat(")", 60), "[" + strings.Repeat("a:b = 1 OR ", 1000) + "a:b = 1]"} {
		if _, err := Compile(p); err != nil {
			t.Errorf("%.40s...: %v", p, err)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := Compile("[a:b = 1]\n  AND [c:d = é]")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.Offset != 23 || se.Line != 2 || se.Column != 14 || se.Found != `the character 'é'` {
		t.Errorf("got %+v", *se)
	}
}

func TestIndexKeys(t *testing.T) {
	tests := []struct {
		pattern  string
		want     []string // type|path|op|value|required
		complete bool
	}{
		{"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
			[]string{"file|hashes.'SHA-256'|=|aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f|true"}, true},
		{"[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'evil.example']",
			[]string{"ipv4-addr|value|=|198.51.100.1|false", "domain-name|value|=|evil.example|false"}, true},
		{"[domain-name:value = 'a.example' AND domain-name:resolves_to_refs[*].value LIKE '10.%']",
			[]string{"domain-name|value|=|a.example|true"}, true},
		{"[url:value IN ('http://a/', 'http://b/')] FOLLOWEDBY [file:name = 'x.exe'] WITHIN 60 SECONDS",
			[]string{"url|value|IN|http://a/|false", "url|value|IN|http://b/|false", "file|name|=|x.exe|true"}, true},
		{"[file:size > 10]", nil, false},
		{"[file:name NOT = 'x']", nil, false},
		{"[a:x = 1] OR [b:y LIKE 'z%']", []string{"a|x|=|1|false"}, false},
		{"[a:x = 1] AND [b:y LIKE 'z%']", []string{"a|x|=|1|true"}, true},
		{"[a:x = h'ff00' OR a:y = true OR a:z = 1.5]", []string{"a|x|=|\xff\x00|false", "a|y|=|true|false"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p := MustCompile(tt.pattern)
			var got []string
			for _, k := range p.IndexKeys() {
				got = append(got, fmt.Sprintf("%s|%s|%s|%s|%v", k.ObjectType, k.Path, k.Op, k.Value, k.Required))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if c := p.IndexComplete(); c != tt.complete {
				t.Errorf("IndexComplete = %v, want %v", c, tt.complete)
			}
		})
	}
}

// TestLogObservations evaluates observations built the way a log reader builds them: decoded
// values, Go integer types, no ids.
func TestLogObservations(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	line := func(sec int, domain, ip string, port int64) Observation {
		ts := at.Add(time.Duration(sec) * time.Second)
		return Observation{First: ts, Last: ts, Count: 1, Objects: []Object{
			{Ref: "0", Props: map[string]any{"type": "network-traffic", "dst_ref": "1", "dst_port": port}},
			{Ref: "1", Props: map[string]any{"type": "domain-name", "value": domain}},
			{Ref: "2", Props: map[string]any{"type": "ipv4-addr", "value": ip}},
		}}
	}
	obs := []Observation{line(0, "a.example", "10.0.0.1", 443), line(10, "evil.example", "10.0.0.2", 8443), line(20, "evil.example", "10.0.0.3", 443), line(4000, "evil.example", "10.0.0.4", 80)}
	tests := []struct {
		pattern string
		want    []int
	}{
		{"[network-traffic:dst_ref.value = 'evil.example' AND network-traffic:dst_port = 443]", []int{2}},
		{"[network-traffic:dst_port IN (443, 8443)]", []int{0, 1, 2}},
		{"[ipv4-addr:value ISSUBSET '10.0.0.0/30']", []int{0, 1, 2}},
		{"[domain-name:value = 'evil.example'] REPEATS 2 TIMES WITHIN 60 SECONDS", []int{1, 2}},
		{"[domain-name:value = 'evil.example'] REPEATS 3 TIMES WITHIN 60 SECONDS", nil},
		{"[domain-name:value = 'a.example'] FOLLOWEDBY [network-traffic:dst_port = 80]", []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			r, err := MustCompile(tt.pattern).Match(obs)
			if err != nil {
				t.Fatal(err)
			}
			if r.Matched != (tt.want != nil) || fmt.Sprint(r.Observations) != fmt.Sprint(tt.want) {
				t.Errorf("matched %v %v, want %v", r.Matched, r.Observations, tt.want)
			}
		})
	}
	if !MustCompile("[domain-name:value = 'a.example']").MatchOne(&obs[0]) {
		t.Error("MatchOne: no match")
	}
}

// TestStepLimit checks that MaxSteps stops an evaluation with ErrStepLimit.
func TestStepLimit(t *testing.T) {
	obs := linearInput(200)
	p := MustCompile(linearPattern)
	_, err := p.MatchWithLimits(obs, EvalLimits{MaxSteps: 100})
	if !errors.Is(err, ErrStepLimit) {
		t.Fatalf("err = %v, want ErrStepLimit", err)
	}
	if _, err := p.MatchWithLimits(obs, EvalLimits{MaxSteps: 1 << 40}); err != nil {
		t.Fatal(err)
	}
}

const linearPattern = "([x:kind = 'a'] FOLLOWEDBY [x:kind = 'b']) WITHIN 30 SECONDS AND [x:kind = 'c'] REPEATS 3 TIMES WITHIN 20 SECONDS OR [x:kind = 'a'] AND [x:kind = 'a'] AND [x:kind = 'b'] OR ([x:kind MATCHES '^[ab]$'] FOLLOWEDBY [x:kind = 'c']) REPEATS 4 TIMES"

// linearInput builds n observations, one a second, cycling through kinds a, b, c, d.
func linearInput(n int) []Observation {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]Observation, n)
	for i := range obs {
		ts := at.Add(time.Duration(i) * time.Second)
		obs[i] = Observation{First: ts, Last: ts, Count: 1 + i%2, Objects: []Object{{Ref: "0", Props: map[string]any{"type": "x", "kind": string(rune('a' + i%4))}}}}
	}
	return obs
}

// TestEvaluationStepsGrowLinearly counts evaluation steps (not time) for growing inputs: per
// observation they stay within a small factor (sorting adds a log factor).
func TestEvaluationStepsGrowLinearly(t *testing.T) {
	p := MustCompile(linearPattern)
	var perObs []float64
	for _, n := range []int{250, 1000, 4000, 16000} {
		r, err := p.Match(linearInput(n))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Matched {
			t.Fatalf("n=%d: no match", n)
		}
		perObs = append(perObs, float64(r.Steps)/float64(n))
	}
	t.Logf("steps per observation: %.1f", perObs)
	for i := 1; i < len(perObs); i++ {
		if perObs[i] > perObs[0]*1.6 {
			t.Errorf("steps per observation grew from %.1f to %.1f: not linear", perObs[0], perObs[i])
		}
	}
}

// TestSharedExamplePatterns compiles every indicator pattern in the OASIS examples of the shared
// test data, when it is there.
func TestSharedExamplePatterns(t *testing.T) {
	root := testdata.Dir(t)
	n := 0
	for _, dir := range []string{"stix-examples", "stix-schemas"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var v any
			if json.Unmarshal(b, &v) != nil {
				return nil
			}
			forEachIndicator(v, func(pat string) {
				n++
				if _, err := Compile(pat); err != nil {
					t.Errorf("%s: %q: %v", path, pat, err)
				}
			})
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Skip("no indicator patterns in the shared test data")
	}
	t.Logf("%d indicator patterns compiled", n)
}

func forEachIndicator(v any, f func(string)) {
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "indicator" && (v["pattern_type"] == nil || v["pattern_type"] == "stix") {
			if p, ok := v["pattern"].(string); ok {
				f(p)
			}
		}
		for _, x := range v {
			forEachIndicator(x, f)
		}
	case []any:
		for _, x := range v {
			forEachIndicator(x, f)
		}
	}
}
