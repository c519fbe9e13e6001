package misp

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
)

func FuzzDecodeAndConvert(f *testing.F) {
	f.Add([]byte(`{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","timestamp":"1","Attribute":[{"type":"ip-dst","value":"192.0.2.1","to_ids":true}]}}`))
	f.Add([]byte(`{"response":[{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","date":"2020-01-01","Object":[{"name":"file","Attribute":[{"type":"md5","value":"x"}]}]}}]}`))
	f.Add([]byte(`[{"uuid":"11111111-2222-4333-8444-555555555555","timestamp":"1","Attribute":[{"type":"domain|ip","value":"a|b","to_ids":"1"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := DecodeEvents(bytes.NewReader(data), Limits{MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		for _, ev := range evs {
			res, err := ToSTIX(ev, Options{})
			if err != nil {
				continue
			}
			for _, o := range res.Objects {
				if _, err := stix.Decode(o); err != nil {
					t.Fatalf("invalid object written: %v\n%s", err, o)
				}
			}
			c := res.Counts
			if c.Indicators+c.Observables+c.Notes+c.References+c.Vulnerabilities+c.Skipped != c.Attributes {
				t.Fatalf("counts do not add up: %+v", c)
			}
			if _, err := FromSTIX(res.Objects); err != nil {
				t.Fatalf("FromSTIX of our own output: %v", err)
			}
			out, err := ExportEvent(exportObjects(res.Objects), EventOptions{})
			if err != nil {
				t.Fatalf("ExportEvent of our own output: %v", err)
			}
			b, err := out.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeEvents(bytes.NewReader(b), Limits{}); err != nil {
				t.Fatalf("our export does not decode: %v\n%s", err, b)
			}
		}
	})
}

// bigEvent builds an event of n attributes of mixed types, a third with to_ids.
func bigEvent(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","info":"big","timestamp":"1704200000","distribution":"1",
		"Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},"Tag":[{"name":"tlp:green"}],"Attribute":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		var typ, val string
		switch i % 4 {
		case 0:
			typ, val = "ip-dst", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		case 1:
			typ, val = "domain", fmt.Sprintf("host%d.example", i)
		case 2:
			typ, val = "sha256", fmt.Sprintf("%064x", i)
		default:
			typ, val = "url", fmt.Sprintf("https://h%d.example/p", i)
		}
		fmt.Fprintf(&b, `{"uuid":"%08x-0000-4000-8000-%012x","type":"%s","category":"Network activity","value":"%s","to_ids":%v,"timestamp":"1704200000"}`,
			i, i, typ, val, i%3 == 0)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// BenchmarkToSTIX200k decodes and converts a 200k-attribute event (the issue's ≤ 2 s target covers
// the whole import; this is the MISP part).
func BenchmarkToSTIX200k(b *testing.B) {
	data := bigEvent(200000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		evs, err := DecodeEvents(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := ToSTIX(evs[0], Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Counts.Skipped != 0 {
			b.Fatalf("skipped %v", res.Skipped[:1])
		}
	}
}
