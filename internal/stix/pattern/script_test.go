package pattern

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestScripts runs the cases in testdata/*.txt. A file is a sequence of blocks:
//
//	# a comment
//	data NAME          a named input: JSON lines up to "end", read by ReadObservations
//	...
//	end
//	check PATTERN      the pattern must compile ("valid") or fail ("error SUBSTRING")
//	  valid
//	eval NAME PATTERN  evaluate PATTERN on the data set NAME
//	  match ID...      it matches, and exactly these observed-data take part ("match" alone: any)
//	  nomatch          it does not match
//	  error SUBSTRING  it does not compile, with SUBSTRING in the error
//
// The pattern is the rest of the line; the expectation is the next line, indented.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no script files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	data := map[string][]Observation{}
	line := 0
	next := func() (string, bool) {
		for sc.Scan() {
			line++
			l := sc.Text()
			if s := strings.TrimSpace(l); s == "" || strings.HasPrefix(s, "#") {
				continue
			}
			return l, true
		}
		return "", false
	}
	cases := 0
	for {
		l, ok := next()
		if !ok {
			break
		}
		at := file + ":" + itoa(line)
		switch {
		case strings.HasPrefix(l, "data "):
			name := strings.TrimSpace(strings.TrimPrefix(l, "data "))
			var js strings.Builder
			for {
				if !sc.Scan() {
					t.Fatalf("%s: data %s has no end", at, name)
				}
				line++
				if strings.TrimSpace(sc.Text()) == "end" {
					break
				}
				js.WriteString(sc.Text() + "\n")
			}
			obs, err := ReadObservations(strings.NewReader(js.String()), DefaultInputLimits)
			if err != nil {
				t.Fatalf("%s: data %s: %v", at, name, err)
			}
			data[name] = obs
		case l == "check", strings.HasPrefix(l, "check "), strings.HasPrefix(l, "eval "):
			verb, rest, _ := strings.Cut(l, " ")
			var obs []Observation
			if verb == "eval" {
				name, pat, _ := strings.Cut(rest, " ")
				var ok bool
				if obs, ok = data[name]; !ok {
					t.Fatalf("%s: no data set %q", at, name)
				}
				rest = pat
			}
			pat := rest
			exp, ok := next()
			if !ok || !strings.HasPrefix(exp, " ") {
				t.Fatalf("%s: %s without an indented expectation", at, verb)
			}
			cases++
			checkCase(t, at, verb, pat, obs, strings.TrimSpace(exp))
		default:
			t.Fatalf("%s: unexpected line %q", at, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cases == 0 {
		t.Fatalf("%s: no cases", file)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func checkCase(t *testing.T, at, verb, pat string, obs []Observation, exp string) {
	t.Helper()
	word, arg, _ := strings.Cut(exp, " ")
	p, err := Compile(pat)
	if word == "error" {
		if err == nil {
			t.Errorf("%s: %s compiled, want an error containing %q", at, pat, arg)
		} else if !strings.Contains(err.Error(), arg) {
			t.Errorf("%s: %s: error %q does not contain %q", at, pat, err, arg)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %s: %v", at, pat, err)
		return
	}
	// Every compiled pattern renders to text that compiles to the same rendering.
	if p2, err := Compile(p.String()); err != nil || p2.String() != p.String() {
		t.Errorf("%s: String() %q does not round-trip: %v", at, p.String(), err)
	}
	switch word {
	case "valid":
		if verb != "check" {
			t.Errorf("%s: valid is for check", at)
		}
		return
	case "match", "nomatch":
	default:
		t.Fatalf("%s: unknown expectation %q", at, exp)
	}
	res, err := p.Match(obs)
	if err != nil {
		t.Errorf("%s: %s: %v", at, pat, err)
		return
	}
	if word == "nomatch" {
		if res.Matched {
			t.Errorf("%s: %s matched %v, want no match", at, pat, ids(obs, res.Observations))
		}
		return
	}
	if !res.Matched {
		t.Errorf("%s: %s did not match", at, pat)
		return
	}
	if want := strings.Fields(arg); len(want) > 0 {
		got := ids(obs, res.Observations)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s matched %v, want %v", at, pat, got, want)
		}
	}
}

func ids(obs []Observation, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, obs[i].ID)
	}
	return out
}
