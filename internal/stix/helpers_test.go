package stix

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/testdata"
)

// bundleObjects splits a STIX bundle into the bytes of its objects, exactly as they appear. A
// file that holds a single object (not a bundle) gives that object.
func bundleObjects(t testing.TB, r io.Reader) [][]byte {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !isBundle(data) {
		return [][]byte{bytes.TrimSpace(data)}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		t.Fatalf("bundle: expected an object: %v", err)
	}
	var out [][]byte
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			t.Fatalf("bundle: %v", err)
		}
		if name.String() != "objects" {
			if err := dec.SkipValue(); err != nil {
				t.Fatalf("bundle: %v", err)
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			t.Fatalf("bundle: %v", err)
		}
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				t.Fatalf("bundle: %v", err)
			}
			out = append(out, bytes.Clone(v))
		}
		if _, err := dec.ReadToken(); err != nil {
			t.Fatalf("bundle: %v", err)
		}
	}
	return out
}

func isBundle(data []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if name.String() == "type" {
			tok, err := dec.ReadToken()
			return err == nil && tok.String() == "bundle"
		}
		if dec.SkipValue() != nil {
			return false
		}
	}
	return false
}

// bundleFile reads the objects of a bundle file, gzipped or not.
func bundleFile(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	return bundleObjects(t, r)
}

// exampleFiles lists the OASIS example bundles (STIX 2.1).
func exampleFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{
		testdata.Path(t, "stix-schemas", "examples"),
		testdata.Path(t, "stix-examples"),
	} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatal("no example files found")
	}
	return files
}

// exampleObjects returns every object of the 2.1 example bundles.
func exampleObjects(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range exampleFiles(t) {
		out = append(out, bundleFile(t, f)...)
	}
	return out
}

func jsonMarshal(m map[string]any) ([]byte, error) { return json.Marshal(m) }

// rawJSON embeds literal JSON text in a value that text() marshals.
func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }
