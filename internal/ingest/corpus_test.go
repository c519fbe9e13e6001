package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
	"github.com/renkei-cti/renkei/internal/testdata"
)

// TestRealWorldCorpus imports every shared example file and both ATT&CK bundles into a real store, with
// no rejection, then checks that every object comes back with its original bytes, byte for byte, both
// by id (what `renkei get` uses) and by a full scan (what `renkei export` uses).
func TestRealWorldCorpus(t *testing.T) {
	dir := testdata.Dir(t)
	var files []string
	for _, root := range []string{"stix-schemas/examples", "stix-examples", "attack"} {
		err := filepath.WalkDir(filepath.Join(dir, root), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) < 15 {
		t.Fatalf("found only %d files under %s", len(files), dir)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "renkei.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	im := New(st, nil)

	want := map[string][][]byte{} // id → every distinct byte form seen
	total := 0
	for _, f := range files {
		content := readMaybeGzip(t, f)
		rep, err := im.Import(t.Context(), bytes.NewReader(content), Options{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, e := range rep.Errors {
			if i == 5 {
				t.Errorf("%s: … and %d more rejections", filepath.Base(f), rep.Rejected-i)
				break
			}
			t.Errorf("%s: %v", filepath.Base(f), e)
		}
		s := newSplitter(bytes.NewReader(content), 0)
		n := 0
		for {
			o, err := s.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			id := idOf(t, o.raw)
			want[id] = append(want[id], o.raw)
			n++
		}
		if rep.Accepted+rep.Duplicate != n {
			t.Errorf("%s: %d objects, but %d accepted and %d duplicate", filepath.Base(f), n, rep.Accepted, rep.Duplicate)
		}
		total += n
	}
	if total < 26000 {
		t.Fatalf("only %d objects in the corpus; is ATT&CK missing?", total)
	}

	// By id: every form received is one of the stored versions' bytes. (A few example files share
	// objects; a duplicate keeps the first bytes received, so the later copy must be byte-identical
	// or canonically equal — then the stored bytes are the first copy's.)
	stored := 0
	for id, forms := range want {
		vs, err := st.Versions(t.Context(), id)
		stored += len(vs)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !bytes.Equal(vs[0].Raw, forms[0]) && !anyEqual(vs, forms[0]) {
			t.Errorf("%s: stored bytes differ from the bytes received", id)
		}
	}

	// By scan (what `renkei export --all-versions` does): every stored form of every version comes back
	// once, with bytes that were received.
	seen := 0
	all := store.Filter{Versions: store.VersionMatch{Kind: store.VersionsAll}, SpecVersions: []string{"2.0", "2.1"}}
	for v, err := range st.Scan(t.Context(), all) {
		if err != nil {
			t.Fatal(err)
		}
		forms, ok := want[v.ID]
		if !ok {
			continue // the built-in objects a store may hold
		}
		found := false
		for _, f := range forms {
			found = found || bytes.Equal(f, v.Raw)
		}
		if !found {
			t.Errorf("%s: scanned bytes were never received", v.ID)
		}
		seen++
	}
	if seen != stored {
		t.Errorf("scan returned %d versions of the corpus's objects, the store holds %d", seen, stored)
	}
}

func anyEqual(vs []store.Version, raw []byte) bool {
	for _, v := range vs {
		if bytes.Equal(v.Raw, raw) {
			return true
		}
	}
	return false
}

func idOf(t *testing.T, raw []byte) string {
	t.Helper()
	i := bytes.Index(raw, []byte(`"id"`))
	if i < 0 {
		t.Fatalf("no id in %.80s", raw)
	}
	rest := raw[i+4:]
	q1 := bytes.IndexByte(rest, '"')
	q2 := bytes.IndexByte(rest[q1+1:], '"')
	return string(rest[q1+1 : q1+1+q2])
}

func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
