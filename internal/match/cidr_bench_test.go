package match_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/renkei-cti/renkei/internal/match"
)

// BenchmarkCIDR looks up uniformly random IPv4 and IPv6 addresses in 1M blocks.
func BenchmarkCIDR(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	bl := match.NewBuilder(1_000_000)
	for i := range 1_000_000 {
		v := r.Uint32()
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 16+r.IntN(17)).Masked()
		if err := bl.Add(match.Entry{Kind: match.KindCIDR, Value: p.String(), Ref: uint32(i)}); err != nil {
			b.Fatal(err)
		}
	}
	ix := bl.Build()
	qs := make([]match.Candidate, 1024)
	for i := range qs {
		v := r.Uint32()
		qs[i] = match.Candidate{Kind: match.KindIP, Value: netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(nil)}
	}
	s := ix.Snapshot()
	var sr match.Searcher
	cpu0 := cpuTime(b)
	for b.Loop() {
		s.Search(&sr, qs, func(int, []uint32) {})
	}
	b.ReportMetric(float64(b.N*len(qs))/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(b.N*len(qs))/(cpuTime(b)-cpu0).Seconds(), "lookups/cpu-s")
}
