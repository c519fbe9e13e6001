package match

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type cand struct {
	Kind  Kind
	Value string
}

// readAll reads input and returns the candidates of each line and the times, by line number.
func readAll(t *testing.T, f Format, input string, o ReadOptions) (map[int64][]cand, map[int64]time.Time, error) {
	t.Helper()
	got := map[int64][]cand{}
	times := map[int64]time.Time{}
	err := Read(t.Context(), strings.NewReader(input), f, o, func(ev *Event) error {
		for _, c := range ev.Cands {
			got[ev.Line] = append(got[ev.Line], cand{c.Kind, string(c.Value)})
		}
		if ts, ok := ev.Timestamp(2026); ok {
			times[ev.Line] = ts
		}
		return nil
	})
	return got, times, err
}

func TestText(t *testing.T) {
	tests := []struct {
		line string
		want []cand
		time string
	}{
		{"Nov 23 06:20:10 dnsmasq[401]: query[A] WWW.Evil.Example from 10.0.0.5",
			[]cand{{KindDomain, "WWW.Evil.Example"}, {KindIPv4, "10.0.0.5"}}, "2026-11-23T06:20:10Z"},
		{"1763877600.125    12 10.1.2.3 TCP_MISS/200 5120 GET http://evil.example/a/b.php?id=1, - HIER_DIRECT/93.184.216.34 text/html",
			[]cand{{KindIPv4, "10.1.2.3"}, {KindURL, "http://evil.example/a/b.php?id=1"}, {KindIPv4, "93.184.216.34"}}, "2025-11-23T06:00:00.125Z"},
		{"2026-01-02T03:04:05Z fw SRC=2001:db8::1 DST=[2001:db8::2]:443 host.example:8080 1.2.3.4:53",
			[]cand{{KindIPv6, "2001:db8::1"}, {KindIPv6, "2001:db8::2"}, {KindDomain, "host.example"}, {KindIPv4, "1.2.3.4"}}, "2026-01-02T03:04:05Z"},
		{"from=<Bad.Guy@evil.example> sha=D41D8CD98F00B204E9800998ECF8427E and 0123456789abcdef",
			[]cand{{KindEmail, "Bad.Guy@evil.example"}, {KindHash, "D41D8CD98F00B204E9800998ECF8427E"}}, ""},
		{"version 1.2.3 at 12:30:00, file report.pdf.", []cand{{KindDomain, "report.pdf"}}, ""},
		{"(see evil.example.) and 'x.y'", []cand{{KindDomain, "evil.example"}}, ""},
		{"", nil, ""},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, times, err := readAll(t, Text{}, tt.line+"\n", ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[1], tt.want) {
				t.Errorf("candidates\n got %v\nwant %v", got[1], tt.want)
			}
			var want time.Time
			if tt.time != "" {
				want, _ = time.Parse(time.RFC3339Nano, tt.time)
			}
			if !times[1].Equal(want) {
				t.Errorf("time %v, want %v", times[1], want)
			}
		})
	}
}

func TestReadLines(t *testing.T) {
	// CRLF, no final newline, and lines split across small chunks keep their numbers and offsets.
	input := "a 1.1.1.1\r\n\nb 2.2.2.2\nc 3.3.3.3"
	type at struct {
		line, off int64
		v         string
	}
	var got []at
	err := Read(t.Context(), strings.NewReader(input), Text{}, ReadOptions{ChunkSize: 4}, func(ev *Event) error {
		for _, c := range ev.Cands {
			got = append(got, at{ev.Line, ev.Offset, string(c.Value)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []at{{1, 0, "1.1.1.1"}, {3, 12, "2.2.2.2"}, {4, 22, "3.3.3.3"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name   string
		f      Format
		input  string
		o      ReadOptions
		line   int64
		errHas string
	}{
		{"long line", Text{}, "ok\n" + strings.Repeat("x", 100) + "\n", ReadOptions{MaxLine: 50, ChunkSize: 16}, 2, "longer than 50"},
		{"long last line", Text{}, "ok\nok\n" + strings.Repeat("x", 100), ReadOptions{MaxLine: 50}, 3, "longer than 50"},
		{"bad json", JSONLines{Fields: map[string]Kind{"a": KindIP}}, "{\"a\":\"1.1.1.1\"}\n\n{\"a\":\n", ReadOptions{}, 3, "invalid JSON"},
		{"json array", JSONLines{}, "[1]\n", ReadOptions{}, 1, "not a JSON object"},
		{"json two values", JSONLines{}, "{} {}\n", ReadOptions{}, 1, "more than one"},
		{"json too deep", JSONLines{MaxDepth: 3}, `{"a":{"b":{"c":{"d":1}}}}` + "\n", ReadOptions{}, 1, "deeper than 3"},
		{"zeek before fields", Zeek{}, "1.2\tx\n", ReadOptions{}, 1, "before the #fields"},
		{"zeek field count", Zeek{}, "#separator \\x09\n#fields\tts\tquery\n1.0\ta.example\textra\n", ReadOptions{}, 3, "more fields"},
		{"zeek too few", Zeek{}, "#separator \\x09\n#fields\tts\tquery\n1.0\n", ReadOptions{}, 3, "1 fields"},
		{"zeek separator", Zeek{}, "#separator xx\n", ReadOptions{}, 1, "#separator"},
		{"csv quote", CSV{Columns: map[string]Kind{"1": KindDomain}}, "a.example\n\"b.example\n", ReadOptions{}, 2, "does not end on its line"},
		{"csv after quote", CSV{Columns: map[string]Kind{"1": KindDomain}}, "\"a\"b,c\n", ReadOptions{}, 1, "after the closing quote"},
		{"csv header", CSV{HasHeader: true, Columns: map[string]Kind{"domain": KindDomain}}, "host,ip\n", ReadOptions{}, 1, "none of the mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(t, tt.f, tt.input, tt.o)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *LineError", err)
			}
			if le.Line != tt.line || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q at line %d, want line %d and %q", err, le.Line, tt.line, tt.errHas)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("error %q does not start with its line", err)
			}
		})
	}
}

func TestJSONLines(t *testing.T) {
	f := JSONLines{Fields: map[string]Kind{"query": KindDomain, "id.orig_h": KindIP, "answers": KindIP, "src.ip": KindIP, "port": KindOther},
		TimeField: "ts"}
	input := `{"ts":1763877600.5,"id.orig_h":"10.0.0.1","query":"Evil.Example","answers":["1.2.3.4","5.6.7.8"],"port":53}
{"ts":"2026-11-23T06:00:00Z","src":{"ip":"192.0.2.9","name":"x"},"query":"esc\u0061ped.example","other":{"query":"no.example"}}
`
	got, times, err := readAll(t, f, input, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want1 := []cand{{KindIP, "10.0.0.1"}, {KindDomain, "Evil.Example"}, {KindIP, "1.2.3.4"}, {KindIP, "5.6.7.8"}, {KindOther, "53"}}
	want2 := []cand{{KindIP, "192.0.2.9"}, {KindDomain, "escaped.example"}}
	if !slices.Equal(got[1], want1) || !slices.Equal(got[2], want2) {
		t.Errorf("got\n%v\n%v\nwant\n%v\n%v", got[1], got[2], want1, want2)
	}
	if !times[1].Equal(time.Unix(1763877600, 5e8)) || !times[2].Equal(time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("times %v", times)
	}
}

func TestZeek(t *testing.T) {
	input := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tquery\tanswers\n" +
		"#types\ttime\tstring\taddr\tport\taddr\tstring\tvector[string]\n" +
		"1763877600.000001\tCx1\t10.0.0.1\t5353\t10.0.0.53\tevil.example\tcname.example,192.0.2.1\n" +
		"1763877601.000000\tCx2\t10.0.0.1\t5353\t10.0.0.53\t-\t(empty)\n" +
		"#close\t2026-11-23-06-00-00\n" +
		"#separator \\x09\n#path\thttp\n#fields\tts\tid.orig_h\thost\turi\treferrer\tuser_agent\n" +
		"1763877602.5\t10.0.0.2\tEvil.Example\t/a?b=1\thttp://ref.example/\tMozilla\n" +
		"#fields\tts\tfuid\ttx_hosts\tmd5\tsha1\n" +
		"1763877603\tF1\t192.0.2.5,192.0.2.6\td41d8cd98f00b204e9800998ecf8427e\t-\n"
	got, times, err := readAll(t, Zeek{}, input, ReadOptions{ChunkSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]cand{
		8:  {{KindIP, "10.0.0.1"}, {KindIP, "10.0.0.53"}, {KindDomain, "evil.example"}, {KindDomain, "cname.example"}, {KindIP, "192.0.2.1"}},
		9:  {{KindIP, "10.0.0.1"}, {KindIP, "10.0.0.53"}},
		14: {{KindIP, "10.0.0.2"}, {KindDomain, "Evil.Example"}, {KindURL, "http://ref.example/"}, {KindURL, "http://Evil.Example/a?b=1"}},
		16: {{KindIP, "192.0.2.5"}, {KindIP, "192.0.2.6"}, {KindHash, "d41d8cd98f00b204e9800998ecf8427e"}},
	}
	for line, w := range want {
		if !slices.Equal(got[line], w) {
			t.Errorf("line %d:\n got %v\nwant %v", line, got[line], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("candidates on lines %v, want %d lines", got, len(want))
	}
	if !times[14].Equal(time.Unix(1763877602, 5e8)) {
		t.Errorf("time of line 14: %v", times[14])
	}
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name  string
		f     CSV
		input string
		want  map[int64][]cand
	}{
		{"header", CSV{HasHeader: true, Columns: map[string]Kind{"domain": KindDomain, "ip": KindIP}, TimeColumn: "when"},
			"when,domain,note,ip\n2026-11-23T06:00:00Z,evil.example,\"a, \"\"quoted\"\" note\",192.0.2.1\n1763877600,,x,\n",
			map[int64][]cand{2: {{KindDomain, "evil.example"}, {KindIP, "192.0.2.1"}}}},
		{"numbered", CSV{Comma: ';', Columns: map[string]Kind{"2": KindURL}},
			"x;\"http://evil.example/;x\"\ny;z\n",
			map[int64][]cand{1: {{KindURL, "http://evil.example/;x"}}, 2: {{KindURL, "z"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := readAll(t, tt.f, tt.input, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for line, w := range tt.want {
				if !slices.Equal(got[line], w) {
					t.Errorf("line %d: got %v, want %v", line, got[line], w)
				}
			}
		})
	}
}
