package match_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// bruteForce evaluates every pattern of s on o.
func bruteForce(s *match.PatternSet, o *pattern.Observation) []int32 {
	var out []int32
	for i := range s.Len() {
		if p := s.Pattern(i); p != nil && p.MatchOne(o) {
			out = append(out, int32(i))
		}
	}
	return out
}

func readObs(t *testing.T, js string) []pattern.Observation {
	t.Helper()
	obs, err := pattern.ReadObservations(strings.NewReader(js), pattern.DefaultInputLimits)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// TestPatternSetAgreesWithBruteForce compares the set with evaluating every pattern on every
// observation, on the generated mix (every trigger kind, STIX 2.1 and 2.0 observed-data).
func TestPatternSetAgreesWithBruteForce(t *testing.T) {
	const npat, nobs = 1000, 2000
	texts := synth.STIXPatterns(npat, 7)
	// The mix has two range comparisons in 10,000: a few more, so that this set has some.
	texts[10] = "[file:size > 5000000]"
	texts[11] = "[process:pid > 30000 AND process:command_line LIKE '%.exe%']"
	texts[12] = "[domain-name:value NOT LIKE '%.com']"
	var buf bytes.Buffer
	planted, err := synth.STIXObservations(&buf, 0, nobs, npat, 7, 20)
	if err != nil {
		t.Fatal(err)
	}
	obs := readObs(t, buf.String())
	if len(obs) != nobs {
		t.Fatalf("%d observations read, want %d", len(obs), nobs)
	}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepCompiled=%v", keep), func(t *testing.T) {
			agreeWithBruteForce(t, texts, obs, planted, keep)
		})
	}
}

func agreeWithBruteForce(t *testing.T, texts []string, obs []pattern.Observation, planted int, keep bool) {
	nobs := len(obs)
	s, errs := match.CompilePatterns(texts, match.PatternSetOptions{KeepCompiled: keep})
	if len(errs) > 0 {
		t.Fatalf("%d patterns did not compile, first: %v (%q)", len(errs), errs[0], texts[errs[0].Index])
	}
	st := s.Stats()
	if st.Exact == 0 || st.CIDR == 0 || st.Literal == 0 || st.Range == 0 || st.TypeGated == 0 {
		t.Fatalf("the mix should have every kind of trigger: %+v", st)
	}
	m := s.NewMatcher()
	hits := 0
	for i := range obs {
		got := m.Match(nil, &obs[i])
		want := bruteForce(s, &obs[i])
		if !slices.Equal(got, want) {
			t.Fatalf("observation %d (%s): got %v, want %v", i, obs[i].ID, got, want)
		}
		if slices.ContainsFunc(got, func(i int32) bool { return i < 10 || i > 12 }) {
			hits++
		}
	}
	// Most planted values match (FOLLOWEDBY and some REPEATS cannot on one observation); the
	// three range patterns put in above match far more often and are not counted.
	if hits < planted*8/10 || hits > planted+nobs/100 {
		t.Fatalf("%d observations matched, %d planted", hits, planted)
	}
	if m.Evals > int64(4*planted+3*nobs+nobs/10) { // the three range patterns: at most once each
		t.Errorf("%d full evaluations for %d observations (%d planted): the triggers do not filter", m.Evals, nobs, planted)
	}
}

// TestPatternSetCases covers each kind of trigger and the evaluator's rules the set must follow
// (case, NFC, references, lists, CIDR families, NOT, octets).
func TestPatternSetCases(t *testing.T) {
	patterns := []string{
		0:  "[domain-name:value = 'evil.example']",
		1:  "[domain-name:value IN ('a.example', 'b.example')]",
		2:  "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]",
		3:  "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
		4:  "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
		5:  "[url:value LIKE 'http%://evil.example/%']",
		6:  "[process:command_line MATCHES '(?i)MIMIKATZ.*sekurlsa']",
		7:  "[domain-name:value LIKE '%caf\u00e9%']",
		8:  "[domain-name:value NOT = 'good.example']",
		9:  "[domain-name:resolves_to_refs[*].value = '203.0.113.9']",
		10: "[file:size > 1000]",
		11: "[artifact:payload_bin = b'aGVsbG8=']",
		12: "[file:name = 'a.exe'] OR [url:value = 'http://x.example/']",
		13: "[domain-name:value = 'Evil.Example']",
		14: "[email-message:from_ref.value = 'x@evil.example' AND email-message:subject LIKE 'Invoice%']",
		15: "[ipv4-addr:value = '198.51.100.7'] REPEATS 3 TIMES",
		16: "[process:command_line MATCHES 'abc']",
		17: "[process:command_line MATCHES 'x(foo|bar)bazq']",
		18: "[process:command_line MATCHES '(?i)zsssz']",
		19: "[x509-certificate:validity_not_after < t'2016-01-01T00:00:00Z']",
		20: "[process:pid <= 4]",
		21: "[file:size >= 5000.5]",
		22: "[file:size < 4999]",
	}
	s, errs := match.CompilePatterns(append(patterns, "[bad"), match.PatternSetOptions{Workers: 2})
	if len(errs) != 1 || errs[0].Index != len(patterns) {
		t.Fatalf("errors %v, want one for pattern %d", errs, len(patterns))
	}
	tests := []struct {
		name string
		obs  string
		want []int32
	}{
		{"exact 2.1", `[{"type":"observed-data","id":"observed-data--1","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"object_refs":["domain-name--1"]},{"type":"domain-name","id":"domain-name--1","value":"evil.example"}]`, []int32{0, 8}},
		{"case differs", `[{"type":"observed-data","id":"observed-data--1","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"object_refs":["domain-name--1"]},{"type":"domain-name","id":"domain-name--1","value":"EVIL.example"}]`, []int32{8}},
		{"IN and 2.0", `{"type":"observed-data","id":"observed-data--2","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"domain-name","value":"b.example"},"1":{"type":"domain-name","value":"good.example"}}}`, []int32{1, 8}},
		{"reference and CIDR", `{"type":"observed-data","id":"observed-data--3","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":4,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.7"},"1":{"type":"network-traffic","dst_ref":"0","dst_port":443}}}`, []int32{2, 3, 15}},
		{"wrong port", `{"type":"observed-data","id":"observed-data--3","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.7"},"1":{"type":"network-traffic","dst_ref":"0","dst_port":80}}}`, []int32{3}},
		{"block inside block", `{"type":"observed-data","id":"observed-data--4","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.128/25"},"1":{"type":"ipv6-addr","value":"2001:db8:1::1"},"2":{"type":"ipv4-addr","value":"198.51.0.0/16"}}}`, []int32{3, 4}},
		{"IPv4 in IPv6 block", `{"type":"observed-data","id":"observed-data--4","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv6-addr","value":"::ffff:198.51.100.7"}}}`, nil},
		{"LIKE", `{"type":"observed-data","id":"observed-data--5","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"url","value":"https://evil.example/a"},"1":{"type":"url","value":"https://evil.example.org/a"}}}`, []int32{5}},
		{"MATCHES folded", `{"type":"observed-data","id":"observed-data--6","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"process","command_line":"c:\\t\\MimiKatz.exe sekurlsa::logonpasswords"}}}`, []int32{6}},
		{"MATCHES fold to Kelvin sign and long s", `{"type":"observed-data","id":"observed-data--6","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"process","command_line":"mimi\u212aatz sekurlsa z\u017fssz"}}}`, []int32{6, 18}},
		{"MATCHES short and alternation", `{"type":"observed-data","id":"observed-data--6","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"process","command_line":"zzabc xbarbazq"}}}`, []int32{16, 17}},
		{"LIKE after NFC", `{"type":"observed-data","id":"observed-data--7","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"domain-name","value":"le-cafe\u0301.example"}}}`, []int32{7, 8}},
		{"refs list", `[{"type":"observed-data","id":"observed-data--8","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"object_refs":["domain-name--8","ipv4-addr--8"]},{"type":"domain-name","id":"domain-name--8","value":"good.example","resolves_to_refs":["ipv4-addr--8"]},{"type":"ipv4-addr","id":"ipv4-addr--8","value":"203.0.113.9"}]`, []int32{9}},
		{"type-gated and octets", `{"type":"observed-data","id":"observed-data--9","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"file","name":"a.exe","size":5000},"1":{"type":"artifact","payload_bin":"aGVsbG8="}}}`, []int32{10, 11, 12}},
		{"e-mail", `{"type":"observed-data","id":"observed-data--10","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"email-addr","value":"x@evil.example"},"1":{"type":"email-message","from_ref":"0","subject":"Invoice 12","is_multipart":false}}}`, []int32{14}},
		{"ranges", `{"type":"observed-data","id":"observed-data--12","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"x509-certificate","validity_not_after":"2015-12-31T23:59:59.5Z"},"1":{"type":"process","pid":4},"2":{"type":"file","size":5000.5},"3":{"type":"x509-certificate","validity_not_after":"2020-01-01T00:00:00Z"}}}`, []int32{10, 19, 20, 21}},
		{"ranges out", `{"type":"observed-data","id":"observed-data--12","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"x509-certificate","validity_not_after":"2016-01-01T00:00:00Z"},"1":{"type":"process","pid":5},"2":{"type":"file","size":4999},"3":{"type":"file","size":"4"}}}`, []int32{10}},
		{"nothing", `{"type":"observed-data","id":"observed-data--11","first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"objects":{"0":{"type":"mutex","name":"x"}}}`, nil},
	}
	m := s.NewMatcher()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := readObs(t, tt.obs)
			if len(obs) != 1 {
				t.Fatalf("%d observations", len(obs))
			}
			got := m.Match(nil, &obs[0])
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if want := bruteForce(s, &obs[0]); !slices.Equal(got, want) {
				t.Errorf("got %v, every pattern evaluated gives %v", got, want)
			}
		})
	}
	st := s.Stats()
	if st.Invalid != 1 || st.TypeGated != 3 || st.Range != 5 || st.Literal < 3 || st.CIDR != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestCandidatesCoverJoinedMatches: patterns that match only a set of observations together
// (FOLLOWEDBY, AND between observation expressions, REPEATS over several) are candidates of at least
// one of the set's observations, so that `renkei pattern match -f` evaluates every pattern that
// matches the set.
func TestCandidatesCoverJoinedMatches(t *testing.T) {
	texts := synth.STIXPatterns(600, 11)
	texts = append(texts,
		"[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'] FOLLOWEDBY [domain-name:value = 'joined.example']",
		"[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'] AND [domain-name:value LIKE '%.example']",
		"([ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [file:size > 100]) REPEATS 2 TIMES",
	)
	var buf bytes.Buffer
	if _, err := synth.STIXObservations(&buf, 0, 400, 600, 11, 20); err != nil {
		t.Fatal(err)
	}
	obs := readObs(t, buf.String())
	extra := readObs(t, `[
	 {"type":"observed-data","spec_version":"2.1","id":"observed-data--00000000-0000-4000-8000-00000000000a","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",
	  "first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:00Z","number_observed":1,"object_refs":["file--00000000-0000-4000-8000-00000000000b"]},
	 {"type":"file","spec_version":"2.1","id":"file--00000000-0000-4000-8000-00000000000b","hashes":{"MD5":"d41d8cd98f00b204e9800998ecf8427e"},"size":5},
	 {"type":"observed-data","spec_version":"2.1","id":"observed-data--00000000-0000-4000-8000-00000000000c","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",
	  "first_observed":"2024-01-01T00:01:00Z","last_observed":"2024-01-01T00:01:00Z","number_observed":1,"object_refs":["domain-name--00000000-0000-4000-8000-00000000000d"]},
	 {"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-00000000000d","value":"joined.example"},
	 {"type":"observed-data","spec_version":"2.1","id":"observed-data--00000000-0000-4000-8000-00000000000e","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z",
	  "first_observed":"2024-01-01T00:02:00Z","last_observed":"2024-01-01T00:02:00Z","number_observed":1,"object_refs":["ipv4-addr--00000000-0000-4000-8000-00000000000f"]},
	 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-00000000000f","value":"203.0.113.9"}]`)
	s, errs := match.CompilePatterns(texts, match.PatternSetOptions{})
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	m := s.NewMatcher()
	for start := 0; start < len(obs); start += 40 {
		group := append(slices.Clone(obs[start:min(start+40, len(obs))]), extra...)
		cand := map[int32]bool{}
		for i := range group {
			for _, c := range m.Candidates(nil, &group[i]) {
				cand[c] = true
			}
		}
		joined := 0
		for i := range s.Len() {
			res, err := s.Pattern(i).Match(group)
			if err != nil {
				t.Fatal(err)
			}
			if res.Matched && !cand[int32(i)] {
				t.Fatalf("group at %d: pattern %d (%s) matches the group but is no observation's candidate", start, i, texts[i])
			}
			if res.Matched && i >= 600 {
				joined++
			}
		}
		if joined != 3 {
			t.Fatalf("group at %d: %d of the 3 joined patterns matched: the test data is wrong", start, joined)
		}
	}
}
