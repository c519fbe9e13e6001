package stix

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/renkei-cti/renkei/internal/testdata"
)

// TestDecodeExamples decodes every object of the OASIS examples: none may be rejected.
func TestDecodeExamples(t *testing.T) {
	for _, file := range exampleFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			objs := bundleFile(t, file)
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, raw := range objs {
				obj, err := Decode(raw)
				if err != nil {
					t.Errorf("rejected: %v", err)
					continue
				}
				checkDecoded(t, raw, obj)
				if obj.SpecVersion != SpecVersion21 {
					t.Errorf("%s: spec version %q, want 2.1", obj.ID, obj.SpecVersion)
				}
			}
		})
	}
}

// TestDecodeMISPConverterOutput decodes the STIX 2.1 that misp-stix produces for its test events.
func TestDecodeMISPConverterOutput(t *testing.T) {
	dir := testdata.Path(t, "misp", "events", "misp-stix")
	for _, name := range []string{"test_event1_stix21.json", "test_event2_stix21.json"} {
		t.Run(name, func(t *testing.T) {
			for _, raw := range bundleFile(t, filepath.Join(dir, name)) {
				obj, err := Decode(raw)
				if err != nil {
					t.Errorf("rejected: %v", err)
					continue
				}
				checkDecoded(t, raw, obj)
			}
		})
	}
}

// TestDecodeATTACK decodes both ATT&CK bundles: every object must be accepted.
func TestDecodeATTACK(t *testing.T) {
	cases := []struct {
		file    string
		objects int
		version string
	}{
		{"enterprise-attack.json.gz", 24771, SpecVersion20},
		{"ics-attack.json.gz", 1826, SpecVersion21},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			if testing.Short() && c.objects > 10000 {
				t.Skip("large bundle skipped in -short mode")
			}
			objs := bundleFile(t, testdata.Path(t, "attack", c.file))
			if len(objs) != c.objects {
				t.Fatalf("bundle has %d objects, want %d", len(objs), c.objects)
			}
			rejected := 0
			kinds := map[Kind]int{}
			edges := 0
			for _, raw := range objs {
				obj, err := Decode(raw)
				if err != nil {
					if rejected++; rejected <= 10 {
						t.Errorf("rejected: %v", err)
					}
					continue
				}
				checkDecoded(t, raw, obj)
				if obj.SpecVersion != c.version {
					t.Errorf("%s: spec version %q, want %q", obj.ID, obj.SpecVersion, c.version)
				}
				kinds[obj.Kind]++
				edges += len(obj.Edges)
			}
			if rejected > 0 {
				t.Fatalf("%d of %d objects rejected", rejected, len(objs))
			}
			if kinds[KindSRO] == 0 || kinds[KindSDO] == 0 || kinds[KindMeta] == 0 {
				t.Errorf("kinds %v: want SDOs, SROs and marking definitions", kinds)
			}
			if edges < len(objs) {
				t.Errorf("only %d edges for %d objects", edges, len(objs))
			}
		})
	}
}

// checkDecoded checks what every accepted object must satisfy.
func checkDecoded(t *testing.T, raw []byte, obj *Object) {
	t.Helper()
	if obj.ID == "" || obj.Type == "" || obj.Kind == 0 {
		t.Errorf("accepted object without id, type or kind: %+v", obj)
	}
	if !bytes.Equal(obj.Raw, raw) || len(raw) > 0 && &obj.Raw[0] != &raw[0] {
		t.Errorf("%s: Raw is not the input slice", obj.ID)
	}
	if idType(obj.ID) != obj.Type {
		t.Errorf("%s: id does not name type %s", obj.ID, obj.Type)
	}
	for _, e := range obj.Edges {
		if e.Source == "" || e.Target == "" || e.Type == "" {
			t.Errorf("%s: incomplete edge %+v", obj.ID, e)
		}
	}
	var ve *ValidationError
	if _, err := Decode(raw); errors.As(err, &ve) {
		t.Errorf("second decode differs: %v", err)
	}
}

// TestDecodeConcurrently decodes the examples from several goroutines at once (validators are
// pooled): every result must equal the one of a serial decode.
func TestDecodeConcurrently(t *testing.T) {
	objs := exampleObjects(t)
	objs = append(objs, []byte(text(t, with(validIndicator, "confidence", 101))))
	type result struct {
		id    string
		edges int
		obs   int
		err   string
	}
	decode := func(raw []byte) result {
		obj, err := Decode(raw)
		if err != nil {
			return result{err: err.Error()}
		}
		return result{id: obj.ID, edges: len(obj.Edges), obs: len(obj.Observables)}
	}
	want := make([]result, len(objs))
	for i, raw := range objs {
		want[i] = decode(raw)
	}
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := range objs {
				j := (i + g*7) % len(objs)
				if got := decode(objs[j]); got != want[j] {
					errs <- fmt.Sprintf("object %d: got %+v, want %+v", j, got, want[j])
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
