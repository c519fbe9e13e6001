package match_test

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/renkei-cti/renkei/internal/match"
)

// BenchmarkCIDR looks up uniformly random addresses in 1M blocks: v4 in 1M IPv4 blocks (/16 to
// /32); v6 and mixed in the bench harness's set (a fifth IPv6 /32 to /64 blocks under 2001::/16 to
// 200f::/16), with IPv6 addresses drawn under the same /16s, and in mixed half IPv4 addresses.
func BenchmarkCIDR(b *testing.B) {
	v4 := func(r *rand.Rand) netip.Addr {
		v := r.Uint32()
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	v6 := func(r *rand.Rand) [16]byte {
		var a [16]byte
		a[0], a[1] = 0x20, byte(1+r.IntN(15))
		for j := 2; j < 16; j++ {
			a[j] = byte(r.Uint32())
		}
		return a
	}
	build := func(r *rand.Rand, share6 int) *match.Index {
		bl := match.NewBuilder(1_000_000)
		for i := range 1_000_000 {
			p := netip.PrefixFrom(v4(r), 16+r.IntN(17)).Masked()
			if share6 > 0 && i%share6 == 0 {
				p = netip.PrefixFrom(netip.AddrFrom16(v6(r)), 32+r.IntN(33)).Masked()
			}
			if err := bl.Add(match.Entry{Kind: match.KindCIDR, Value: p.String(), Ref: uint32(i)}); err != nil {
				b.Fatal(err)
			}
		}
		return bl.Build()
	}
	// Each round looks up the next 1024 of 1M queries, so that the table is not in the cache.
	const nq, batch = 1 << 20, 1024
	run := func(b *testing.B, ix *match.Index, qs []match.Candidate) {
		s := ix.Snapshot()
		var sr match.Searcher
		cpu0 := cpuTime(b)
		i := 0
		for b.Loop() {
			s.Search(&sr, qs[i:i+batch], func(int, []uint32) {})
			i = (i + batch) % nq
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lookups/s")
		b.ReportMetric(float64(b.N*batch)/(cpuTime(b)-cpu0).Seconds(), "lookups/cpu-s")
	}
	// runParallel is run on every core (GOMAXPROCS goroutines, each its own Searcher and place in
	// the queries): the figure the "on 2 cores" asks for.
	runParallel := func(b *testing.B, ix *match.Index, qs []match.Candidate) {
		s := ix.Snapshot()
		var next atomic.Int64
		cpu0 := cpuTime(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var sr match.Searcher
			i := int(next.Add(nq/4)) % nq &^ (batch - 1)
			for pb.Next() {
				s.Search(&sr, qs[i:i+batch], func(int, []uint32) {})
				i = (i + batch) % nq
			}
		})
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lookups/s")
		b.ReportMetric(float64(b.N*batch)/(cpuTime(b)-cpu0).Seconds(), "lookups/cpu-s")
	}
	r := rand.New(rand.NewPCG(1, 1))
	b.Run("v4", func(b *testing.B) {
		ix := build(r, 0)
		qs := make([]match.Candidate, nq)
		for i := range qs {
			qs[i] = match.Candidate{Kind: match.KindIP, Value: v4(r).AppendTo(nil)}
		}
		contiguous(qs)
		run(b, ix, qs)
	})
	ix := build(r, 5)
	for _, tt := range []struct {
		name     string
		v6       func(i int) bool
		parallel bool
	}{{"v6", func(int) bool { return true }, false}, {"mixed", func(i int) bool { return i%2 == 1 }, false},
		{"mixed-all-cores", func(i int) bool { return i%2 == 1 }, true}} {
		b.Run(tt.name, func(b *testing.B) {
			qs := make([]match.Candidate, nq)
			for i := range qs {
				a := v4(r)
				if tt.v6(i) {
					a = netip.AddrFrom16(v6(r))
				}
				qs[i] = match.Candidate{Kind: match.KindIP, Value: a.AppendTo(nil)}
			}
			contiguous(qs)
			if tt.parallel {
				runParallel(b, ix, qs)
			} else {
				run(b, ix, qs)
			}
		})
	}
}

// contiguous moves the values of qs into one buffer, one after the other, as a log reader's
// chunk holds them.
func contiguous(qs []match.Candidate) {
	n := 0
	for _, q := range qs {
		n += len(q.Value) + 1
	}
	buf := make([]byte, 0, n)
	for i, q := range qs {
		start := len(buf)
		buf = append(buf, q.Value...)
		qs[i].Value = buf[start:len(buf):len(buf)]
		buf = append(buf, ' ')
	}
}
