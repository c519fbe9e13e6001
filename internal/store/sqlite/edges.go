package sqlite

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// The edges and observables of a version are kept in its row, in two small blobs, and found through
// the hashed keys of edge_keys and observable_keys, which point at an entry of a blob:
//
//	edges:       for each edge, source, type and target, each a uvarint length then the bytes;
//	             source is empty when it is the version's own object
//	observables: for each observable, kind then value, each a uvarint length then the bytes
//
// The entries are distinct, in the order the object lists them.

// maxRefs bounds the edges, and the observables, of one version: a key's reference holds the
// entry's index in 20 bits. Decoding with stix.DefaultLimits never comes near it.
const maxRefs = 1 << 20

// key is one row of id_keys, edge_keys or observable_keys.
type key struct{ hash, ref int64 }

func compareKeys(a, b key) int { return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.ref, b.ref)) }

// edgeRef and obsRef build the reference of a key; refVid recovers the version's row id.
func edgeRef(vid int64, n int, source bool) int64 {
	r := vid<<21 | int64(n)<<1
	if source {
		r |= 1
	}
	return r
}

func edgeRefParts(ref int64) (vid int64, n int, source bool) {
	return ref >> 21, int(ref>>1) & (maxRefs - 1), ref&1 == 1
}

func obsRef(vid int64, n int) int64 { return vid<<20 | int64(n) }

func obsRefParts(ref int64) (vid int64, n int) { return ref >> 20, int(ref) & (maxRefs - 1) }

// graphEdges returns the edges of obj that Related reports, each once, with the source "" when it
// is obj itself.
func graphEdges(obj *stix.Object) []stix.Edge {
	var out []stix.Edge
	var seen map[stix.Edge]bool // past linearDedup entries: a report of 100k refs must not cost 100k² compares
	for _, e := range obj.Edges {
		if store.HubEdge(e.Type) {
			continue
		}
		if e.Source == obj.ID {
			e.Source = ""
		}
		if dup(&seen, out, e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// linearDedup is the number of entries up to which dup searches the list rather than a set.
const linearDedup = 32

// dup reports whether x is in out (searched linearly while it is short, then through *seen, which
// it builds) and, when it is not, records it in *seen once that is in use.
func dup[T comparable](seen *map[T]bool, out []T, x T) bool {
	if *seen == nil {
		if len(out) < linearDedup {
			return slices.Contains(out, x)
		}
		*seen = make(map[T]bool, 2*len(out))
		for _, y := range out {
			(*seen)[y] = true
		}
	}
	if (*seen)[x] {
		return true
	}
	(*seen)[x] = true
	return false
}

// distinctObservables returns the observables of obj, each once.
func distinctObservables(obj *stix.Object) []stix.Observable {
	if len(obj.Observables) < 2 {
		return obj.Observables
	}
	out := make([]stix.Observable, 0, len(obj.Observables))
	var seen map[stix.Observable]bool
	for _, o := range obj.Observables {
		if !dup(&seen, out, o) {
			out = append(out, o)
		}
	}
	return out
}

// appendEdgeKeys adds the keys of a version's edges.
func appendEdgeKeys(keys []key, vid int64, edges []stix.Edge) []key {
	for n, e := range edges {
		keys = append(keys, key{fnv64(e.Target, "", false), edgeRef(vid, n, false)})
		if e.Source != "" {
			keys = append(keys, key{fnv64(e.Source, "", false), edgeRef(vid, n, true)})
		}
	}
	return keys
}

// appendObsKeys adds the keys of a version's observables.
func appendObsKeys(keys []key, vid int64, obs []stix.Observable) []key {
	for n, o := range obs {
		keys = append(keys, key{fnv64(o.Kind, o.Value, true), obsRef(vid, n)})
	}
	return keys
}

func appendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEdges returns the edges blob, nil when there are none.
func encodeEdges(edges []stix.Edge) []byte {
	if len(edges) == 0 {
		return nil
	}
	n := 0
	for _, e := range edges {
		n += len(e.Source) + len(e.Type) + len(e.Target) + 6
	}
	b := make([]byte, 0, n)
	for _, e := range edges {
		b = appendText(b, e.Source)
		b = appendText(b, e.Type)
		b = appendText(b, e.Target)
	}
	return b
}

// encodeObservables returns the observables blob, nil when there are none.
func encodeObservables(obs []stix.Observable) []byte {
	if len(obs) == 0 {
		return nil
	}
	n := 0
	for _, o := range obs {
		n += len(o.Kind) + len(o.Value) + 4
	}
	b := make([]byte, 0, n)
	for _, o := range obs {
		b = appendText(b, o.Kind)
		b = appendText(b, o.Value)
	}
	return b
}

var errBlob = errors.New("malformed")

// texts reads a blob of length-prefixed texts, calling fn with each group of k of them.
func texts(b []byte, k int, fn func(t []string) error) error {
	t := make([]string, k)
	for len(b) > 0 {
		for i := range t {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errBlob
			}
			t[i] = string(b[n : n+int(l)])
			b = b[n+int(l):]
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// decodeEdges reads an edges blob.
func decodeEdges(b []byte) ([]stix.Edge, error) {
	var out []stix.Edge
	err := texts(b, 3, func(t []string) error {
		out = append(out, stix.Edge{Source: t[0], Type: t[1], Target: t[2]})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edges: %w", err)
	}
	return out, nil
}

// decodeObservables reads an observables blob.
func decodeObservables(b []byte) ([]stix.Observable, error) {
	var out []stix.Observable
	err := texts(b, 2, func(t []string) error {
		out = append(out, stix.Observable{Kind: t[0], Value: t[1]})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("observables: %w", err)
	}
	return out, nil
}

// fnv64 is the 64-bit FNV-1a hash of a, then (when two) a NUL byte and b, as a signed integer. It is
// stored in the database: it must never change.
func fnv64(a, b string, two bool) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * prime
	}
	if two {
		h = (h ^ 0) * prime
		for i := 0; i < len(b); i++ {
			h = (h ^ uint64(b[i])) * prime
		}
	}
	return int64(h)
}

// idHash is the hash of an id in id_keys, object_versions.id_hash and edge_keys.
func idHash(id string) int64 { return fnv64(id, "", false) }
