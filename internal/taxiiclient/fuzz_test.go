package taxiiclient

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// FuzzDecodeEnvelope: the envelope decoder never panics, and every object it returns is a JSON object
// found verbatim in the input.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"more":true,"next":"a","objects":[{"type":"indicator"}]}`, `{"objects":[{"a":1}, {"b":[1,2]}],"x_custom":{"y":null}}`,
		`{"objects":[1]}`, `[]`, `{"more":"x"}`, `{"objects":[{"a":"\u00e9"}]} `, `{"objects":[{"a":1,"a":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Page
		if err := decodeEnvelope(bytes.NewReader(data), &p); err != nil {
			return
		}
		for i, o := range p.Objects {
			if o.Kind() != '{' || !jsontext.Value(o).IsValid(jsontext.AllowDuplicateNames(true)) {
				t.Fatalf("objects[%d] = %s is not a JSON object", i, o)
			}
			if !bytes.Contains(data, o) {
				t.Fatalf("objects[%d] = %s is not in the input", i, o)
			}
		}
		if strings.TrimSpace(string(data)) == "" {
			t.Fatal("an empty body decoded")
		}
	})
}

// BenchmarkDecodeEnvelope decodes a page of 100 objects of about 1 KiB each.
func BenchmarkDecodeEnvelope(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"more":true,"next":"abc","objects":[`)
	for i := range 100 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","description":%q}`,
			i, strings.Repeat("lorem ipsum ", 60))
	}
	buf.WriteString(`]}`)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var p Page
		if err := decodeEnvelope(bytes.NewReader(data), &p); err != nil || len(p.Objects) != 100 {
			b.Fatal(err, len(p.Objects))
		}
	}
}
