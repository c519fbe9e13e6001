package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/bench/gen"
	"github.com/renkei-cti/renkei/internal/stix"
)

func TestClearMarkedAndOwnedBy(t *testing.T) {
	g := gen.New(3)
	var raw []byte
	seenSCO, seenUnmarked := false, false
	for i := range 3000 {
		raw = g.Append(raw[:0])
		orig := bytes.Clone(raw)
		if !bytes.Contains(orig, []byte("object_marking_refs")) {
			seenUnmarked = true
		}
		cleared := clearMarked(bytes.Clone(raw))
		obj, err := stix.Decode(cleared)
		if err != nil {
			t.Fatalf("object %d: clearMarked made it invalid: %v\n%s", i, err, cleared)
		}
		var m struct {
			Markings []string `json:"object_marking_refs"`
		}
		if err := json.Unmarshal(cleared, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Markings) == 0 {
			t.Fatalf("object %d: no marking after clearMarked: %s", i, cleared)
		}
		for _, mk := range m.Markings {
			if mk != stix.TLP2Clear {
				t.Fatalf("object %d: marking %s left after clearMarked", i, mk)
			}
		}

		owned := ownedBy(orig, taxiiOrg)
		if c, _ := gen.CategoryOf(obj.Type); c == gen.CatObservable {
			seenSCO = true
			if owned != nil {
				t.Fatalf("object %d: an observable was kept by ownedBy", i)
			}
			continue
		}
		o, err := stix.Decode(owned)
		if err != nil {
			t.Fatalf("object %d: ownedBy made it invalid: %v\n%s", i, err, owned)
		}
		if o.CreatedByRef != taxiiOrg || o.ID != obj.ID {
			t.Fatalf("object %d: ownedBy gave creator %q id %q", i, o.CreatedByRef, o.ID)
		}
	}
	if !seenSCO || !seenUnmarked {
		t.Fatalf("the sample had no observable (%v) or no unmarked object (%v)", seenSCO, seenUnmarked)
	}
}

func TestEnvelopeSummary(t *testing.T) {
	tests := []struct {
		body  string
		more  bool
		next  string
		count int
		bad   bool
	}{
		{`{}`, false, "", 0, false},
		{`{"more":true,"next":"abc","objects":[{"a":[1,2]},{"b":{}}]}`, true, "abc", 2, false},
		{`{"objects":[{}],"more":false}`, false, "", 1, false},
		{`[]`, false, "", 0, true},
		{`{"objects":[{]}`, false, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			more, next, count, err := envelopeSummary([]byte(tt.body))
			if (err != nil) != tt.bad {
				t.Fatalf("error %v, want error %v", err, tt.bad)
			}
			if !tt.bad && (more != tt.more || next != tt.next || count != tt.count) {
				t.Errorf("got %v %q %d, want %v %q %d", more, next, count, tt.more, tt.next, tt.count)
			}
		})
	}
}

func TestStatusSuccesses(t *testing.T) {
	tests := []struct {
		body string
		want int
		bad  bool
	}{
		{`{"id":"x","successes":[{"id":"a"}],"success_count":12,"failure_count":0}`, 12, false},
		{`{"id":"x"}`, 0, true},
		{`{"success_count":"12"}`, 0, true},
		{`not json`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			got, err := statusSuccesses([]byte(tt.body))
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.bad)
			}
		})
	}
}

// TestTAXIIModeRuns runs the whole -taxii mode on a tiny collection: every figure is written, and the
// export checks that the collection holds exactly the objects imported.
func TestTAXIIModeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and imports objects")
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-taxii", "-sizes", "150,400", "-taxii-duration", "100ms", "-taxii-conns", "4",
		"-taxii-post-objects", "20", "-out", dir, "-tmp", dir}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\n%s", code, stderr.String())
	}
	f, err := os.Open(filepath.Join(dir, "taxii.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rows[1:] {
		got[r[0]+"@"+r[1]] = true
	}
	for _, size := range []string{"150", "400"} {
		for _, name := range []string{"taxii_export_seconds", "taxii_export_limit100_seconds", "taxii_get_next_pages_per_s",
			"taxii_get_next_p99_ms", "taxii_get_added_after_p50_ms", "taxii_post_1conn_objects_per_s", "taxii_post_4conn_objects_per_s"} {
			if !got[name+"@"+size] {
				t.Errorf("figure %s at %s objects missing from taxii.csv", name, size)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "taxii.png")); err != nil || fi.Size() == 0 {
		t.Errorf("taxii.png: %v", err)
	}
	if !strings.Contains(stdout.String(), "figure=taxii_get_next_pages_per_s size=400") {
		t.Errorf("stdout lacks the figures:\n%s", stdout.String())
	}
}

// TestKeptSize: -taxii-store reuses a folder only when it holds both a store and the size file the
// harness writes after growing the collection.
func TestKeptSize(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   map[string]string
		want    int
		wantErr bool
	}{
		{"empty folder", nil, -1, false},
		{"store and size", map[string]string{"renkei.db": "", "size": "1000000\n"}, 1000000, false},
		{"store without size", map[string]string{"renkei.db": ""}, 0, true},
		{"size not a number", map[string]string{"renkei.db": "", "size": "many"}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := keptSize(dir)
			if (err != nil) != c.wantErr || err == nil && got != c.want {
				t.Errorf("keptSize: %d, %v; want %d, error %t", got, err, c.want, c.wantErr)
			}
		})
	}
}
