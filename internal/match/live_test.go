package match

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLive(t *testing.T) {
	l := NewLive(build(t, Entry{KindDomain, "a.example", 1}, Entry{KindIPv4, "192.0.2.1", 2}))
	look := func(k Kind, v string) []uint32 {
		got := l.Snapshot().Lookup(nil, k, v)
		slices.Sort(got)
		return got
	}
	s1, err := l.Apply([]Entry{{KindDomain, "b.example", 3}, {KindSHA1, "bad", 9}}, []uint32{2})
	if err == nil || !strings.Contains(err.Error(), `sha1 "bad"`) {
		t.Errorf("Apply error %v, want one naming the bad entry", err)
	}
	if got := look(KindDomain, "x.b.example"); !slices.Equal(got, []uint32{3}) {
		t.Errorf("added: %v", got)
	}
	if got := look(KindIP, "192.0.2.1"); len(got) != 0 {
		t.Errorf("revoked: %v", got)
	}
	s2, err := l.Apply([]Entry{{KindDomain, "a.example", 4}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := look(KindDomain, "a.example"); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("base and delta: %v", got)
	}
	if l.Pending() != 2 || l.Seq() != s2 || s2 != s1+1 {
		t.Errorf("pending %d seq %d", l.Pending(), l.Seq())
	}
	// A new base that covers update s1 only: s2 is applied again on top of it.
	if err := l.Replace(build(t, Entry{KindDomain, "a.example", 1}, Entry{KindDomain, "b.example", 3}), s1); err != nil {
		t.Fatal(err)
	}
	if got := look(KindDomain, "a.example"); !slices.Equal(got, []uint32{1, 4}) {
		t.Errorf("after replace: %v", got)
	}
	if got := look(KindIP, "192.0.2.1"); len(got) != 0 {
		t.Errorf("after replace, revoked: %v", got)
	}
	if l.Pending() != 1 {
		t.Errorf("pending %d after replace, want 1", l.Pending())
	}
	if err := l.Replace(build(t), s2+1); err == nil {
		t.Error("Replace beyond the last update: no error")
	}
}

// TestLiveConcurrent looks up while updates are applied and bases replaced (run with -race): every
// lookup sees a consistent snapshot, where ref 1 is always there and ref 2 exactly when its
// snapshot says so.
func TestLiveConcurrent(t *testing.T) {
	l := NewLive(build(t, Entry{KindDomain, "stable.example", 1}))
	var stop atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for range 3 {
		wg.Go(func() {
			var sr Searcher
			for !stop.Load() {
				s := l.Snapshot()
				got := s.Lookup(nil, KindDomain, "www.stable.example")
				if !slices.Contains(got, 1) {
					errc <- fmt.Errorf("ref 1 missing at seq %d: %v", s.Seq(), got)
					return
				}
				n := 0
				s.Search(&sr, []Candidate{{KindDomain, []byte("moving.example")}}, func(_ int, refs []uint32) { n += len(refs) })
				if want := int(s.Seq() % 2); n != want {
					errc <- fmt.Errorf("seq %d: %d refs for moving.example, want %d", s.Seq(), n, want)
					return
				}
			}
		})
	}
	for i := range 200 {
		// Odd updates add moving.example (ref 2, then 4, …); even ones revoke it.
		if i%2 == 0 {
			if _, err := l.Apply([]Entry{{KindDomain, "moving.example", uint32(2 + i)}}, nil); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := l.Apply(nil, []uint32{uint32(2 + i - 1)}); err != nil {
				t.Fatal(err)
			}
		}
		if i%50 == 49 {
			seq := l.Seq()
			if err := l.Replace(build(t, Entry{KindDomain, "stable.example", 1}), seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestMatcher(t *testing.T) {
	ix := build(t,
		Entry{KindDomain, "evil.example", 1},
		Entry{KindCIDR, "198.51.100.0/24", 2},
		Entry{KindURL, "http://bad.example/x", 3},
		Entry{KindSHA256, strings.Repeat("a", 64), 4},
	)
	var log strings.Builder
	var want []string
	for i := 1; i <= 3000; i++ {
		switch i % 100 {
		case 7:
			fmt.Fprintf(&log, "Nov 23 06:00:%02d q www.evil.example from 10.0.0.1\n", i%60)
			want = append(want, fmt.Sprintf("%d domain www.evil.example [1]", i))
		case 13:
			fmt.Fprintf(&log, "GET http://bad.example/x 198.51.100.%d notevil.example\n", i%250)
			want = append(want, fmt.Sprintf("%d url http://bad.example/x [3]", i), fmt.Sprintf("%d ipv4 198.51.100.%d [2]", i, i%250))
		case 21:
			fmt.Fprintf(&log, "mail from x@Evil.Example hash %s\n", strings.Repeat("A", 64))
			want = append(want, fmt.Sprintf("%d domain Evil.Example [1]", i), fmt.Sprintf("%d hash %s [4]", i, strings.Repeat("A", 64)))
		default:
			fmt.Fprintf(&log, "line %d benign.example 192.0.2.%d\n", i, i%250)
		}
	}
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			m := &Matcher{Source: ix, Workers: workers, Read: ReadOptions{ChunkSize: 512}, Year: 2026}
			var got []string
			st, err := m.Run(t.Context(), strings.NewReader(log.String()), Text{}, func(h *Hit) error {
				got = append(got, fmt.Sprintf("%d %s %s %v", h.Line, h.Kind, h.Value, h.Refs))
				if h.Line%100 == 7 && (h.Time.Year() != 2026 || h.Time.Second() != int(h.Line%60)) {
					t.Errorf("line %d: time %v", h.Line, h.Time)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("hits differ: got %d, want %d\nfirst got %q\nfirst want %q", len(got), len(want), got[:min(3, len(got))], want[:3])
			}
			if st.Lines != 3000 || st.HitLines != 90 || st.Hits != int64(len(want)) || st.Bytes != int64(log.Len()) {
				t.Errorf("stats %+v", st)
			}
		})
	}
	t.Run("emit error", func(t *testing.T) {
		stopErr := errors.New("stop")
		n := 0
		m := &Matcher{Source: ix, Read: ReadOptions{ChunkSize: 256}}
		_, err := m.Run(t.Context(), strings.NewReader(log.String()), Text{}, func(*Hit) error {
			n++
			if n == 5 {
				return stopErr
			}
			return nil
		})
		if !errors.Is(err, stopErr) || n != 5 {
			t.Errorf("error %v after %d hits", err, n)
		}
	})
	t.Run("line error", func(t *testing.T) {
		m := &Matcher{Source: ix, Read: ReadOptions{ChunkSize: 64}}
		input := strings.Repeat("{\"q\":\"evil.example\"}\n", 50) + "{bad\n"
		_, err := m.Run(t.Context(), strings.NewReader(input), JSONLines{Fields: map[string]Kind{"q": KindDomain}}, func(*Hit) error { return nil })
		var le *LineError
		if !errors.As(err, &le) || le.Line != 51 {
			t.Errorf("error %v, want a *LineError at line 51", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		m := &Matcher{Source: ix}
		if _, err := m.Run(ctx, strings.NewReader(log.String()), Text{}, func(*Hit) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// TestMatcherAgreesWithRead checks the parallel, batched path against Read and Lookup one by one.
func TestMatcherAgreesWithRead(t *testing.T) {
	var entries []Entry
	for i := range 3000 {
		entries = append(entries, synthLike(i))
	}
	ix := build(t, entries...)
	var log bytes.Buffer
	for i := range 4000 {
		e := entries[(i*37)%len(entries)]
		if i%3 == 0 {
			fmt.Fprintf(&log, "t %s x\n", e.Value)
		} else {
			fmt.Fprintf(&log, "t other%d.example 10.9.%d.%d\n", i, i%256, i%200)
		}
	}
	var want []string
	err := Read(t.Context(), bytes.NewReader(log.Bytes()), Text{}, ReadOptions{}, func(ev *Event) error {
		for _, c := range ev.Cands {
			cs := []Candidate{c}
			if h, k := derivedHost(c); h != nil {
				cs = append(cs, Candidate{k, h})
			}
			for _, c := range cs {
				refs := ix.Lookup(nil, c.Kind, string(c.Value))
				slices.Sort(refs)
				if refs = slices.Compact(refs); len(refs) > 0 {
					want = append(want, fmt.Sprintf("%d %s %v", ev.Line, c.Value, refs))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	m := &Matcher{Source: ix, Read: ReadOptions{ChunkSize: 1000}}
	if _, err := m.Run(t.Context(), bytes.NewReader(log.Bytes()), Text{}, func(h *Hit) error {
		got = append(got, fmt.Sprintf("%d %s %v", h.Line, h.Value, h.Refs))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 1000 || !slices.Equal(got, want) {
		t.Errorf("matcher %d hits, lookups %d", len(got), len(want))
	}
}

func synthLike(i int) Entry {
	switch i % 5 {
	case 0:
		return Entry{KindDomain, fmt.Sprintf("d%d.example", i), uint32(i)}
	case 1:
		return Entry{KindIPv4, fmt.Sprintf("10.9.%d.%d", i%256, i%200), uint32(i)}
	case 2:
		return Entry{KindCIDR, fmt.Sprintf("10.9.%d.0/28", i%256), uint32(i)}
	case 3:
		return Entry{KindURL, fmt.Sprintf("http://u%d.example/p", i), uint32(i)}
	}
	return Entry{KindMD5, fmt.Sprintf("%032x", i), uint32(i)}
}
