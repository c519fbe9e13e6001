package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

const benchBatch = 2000

// benchObjects builds n realistic indicator versions: about 700 bytes each, with 5 edges (creator,
// TLP marking, three related objects) and one or two observables.
func benchObjects(b *testing.B, n int, rng *rand.Rand) []store.NewVersion {
	b.Helper()
	creator := "identity--" + uuid.NewString()
	const tlp = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	vs := make([]store.NewVersion, n)
	for i := range vs {
		id := "indicator--" + uuid.NewString()
		ip := fmt.Sprintf("%d.%d.%d.%d", rng.IntN(223)+1, rng.IntN(256), rng.IntN(256), rng.IntN(256))
		dom := fmt.Sprintf("host-%d.example-%d.com", rng.IntN(1<<20), rng.IntN(1000))
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-03-01T10:00:00.000Z",`+
			`"modified":"2024-03-%02dT10:00:00.000Z","created_by_ref":%q,"object_marking_refs":[%q],`+
			`"name":"Malicious infrastructure %d","description":"Address and domain seen in a phishing campaign against `+
			`the energy sector; observed by several partners during the last week.","indicator_types":["malicious-activity"],`+
			`"pattern":"[ipv4-addr:value = '%s'] OR [domain-name:value = '%s']","pattern_type":"stix",`+
			`"valid_from":"2024-03-01T10:00:00Z","confidence":%d,"labels":["phishing","energy"],`+
			`"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"initial-access"}]}`,
			id, 1+rng.IntN(28), creator, tlp, i, ip, dom, rng.IntN(101))
		nv := newVersion(b, raw)
		nv.Object.Edges = []stix.Edge{
			{Source: id, Target: creator, Type: "created_by_ref"},
			{Source: id, Target: tlp, Type: "object_marking_refs"},
			{Source: id, Target: "malware--" + uuid.NewString(), Type: "indicates"},
			{Source: id, Target: "campaign--" + uuid.NewString(), Type: "x_campaign_ref"},
			{Source: id, Target: "infrastructure--" + uuid.NewString(), Type: "x_infrastructure_ref"},
		}
		nv.Object.Observables = []stix.Observable{{Kind: "ipv4-addr", Value: ip}}
		if i%2 == 0 {
			nv.Object.Observables = append(nv.Object.Observables, stix.Observable{Kind: "domain-name", Value: dom})
		}
		vs[i] = nv
	}
	return vs
}

// BenchmarkWrite measures durable batched writes of new objects (one op is one batch), with and
// without a collection, in batches of ingest's default size and of the recommended 10,000.
func BenchmarkWrite(b *testing.B) {
	for _, batch := range []int{benchBatch, 10000} {
		for _, withColl := range []bool{true, false} {
			name := fmt.Sprintf("collection=%t", withColl)
			if batch != benchBatch {
				name += fmt.Sprintf("/batch=%d", batch)
			}
			b.Run(name, func(b *testing.B) { benchWrite(b, batch, withColl) })
		}
	}
}

func benchWrite(b *testing.B, batch int, withColl bool) {
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	coll := ""
	if withColl {
		coll = uuid.NewString()
		if err := s.CreateCollection(b.Context(), store.Collection{ID: coll, Title: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// Objects are built ahead, outside the timer, a few batches at a time.
	pool := benchObjects(b, 8*batch, rng)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if i > 0 && i%8 == 0 {
			b.StopTimer()
			c := cpuTime()
			pool = benchObjects(b, 8*batch, rng)
			cpu0 += cpuTime() - c
			b.StartTimer()
		}
		vs := pool[(i%8)*batch : (i%8+1)*batch]
		out, err := s.Write(b.Context(), store.Batch{Collection: coll, Versions: vs})
		if err != nil {
			b.Fatal(err)
		}
		if out[0].Status != store.StatusAdded {
			b.Fatalf("status %v: %v", out[0].Status, out[0].Err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*batch)/1e3, "cpu-µs/object")
}

// BenchmarkWriteDuplicates measures re-importing objects already stored (one op is one batch of 2000).
func BenchmarkWriteDuplicates(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	vs := benchObjects(b, benchBatch, rand.New(rand.NewPCG(3, 4)))
	if _, err := s.Write(b.Context(), store.Batch{Versions: vs}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, err := s.Write(b.Context(), store.Batch{Versions: vs})
		if err != nil {
			b.Fatal(err)
		}
		if out[0].Status != store.StatusDuplicate {
			b.Fatalf("status %v", out[0].Status)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "objects/s")
}

// benchStore fills a store with n objects in one collection.
func benchStore(b *testing.B, n int) (*sqlite.Store, string) {
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	coll := uuid.NewString()
	if err := s.CreateCollection(b.Context(), store.Collection{ID: coll, Title: "bench"}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for done := 0; done < n; done += benchBatch {
		if _, err := s.Write(b.Context(), store.Batch{Collection: coll, Versions: benchObjects(b, min(benchBatch, n-done), rng)}); err != nil {
			b.Fatal(err)
		}
	}
	return s, coll
}

// BenchmarkList measures reading a collection in pages of 1000 (one op is one page).
func BenchmarkList(b *testing.B) {
	s, coll := benchStore(b, 20000)
	b.ReportAllocs()
	b.ResetTimer()
	var after store.Cursor
	for range b.N {
		p, err := s.List(b.Context(), store.Filter{Collection: coll}, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		after = p.Next
		if !p.More {
			after = store.Cursor{}
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "versions/s")
}

// BenchmarkScan measures streaming a whole collection (one op is the whole collection).
func BenchmarkScan(b *testing.B) {
	const n = 20000
	s, coll := benchStore(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		count := 0
		for _, err := range s.Scan(b.Context(), store.Filter{Collection: coll}) {
			if err != nil {
				b.Fatal(err)
			}
			count++
		}
		if count != n {
			b.Fatalf("scanned %d, want %d", count, n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "versions/s")
}

// cpuTime returns the CPU time of the process so far, in nanoseconds: unlike the wall clock, it does
// not count the time other processes on the machine take.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
