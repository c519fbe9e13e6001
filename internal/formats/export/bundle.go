package export

import (
	"bytes"
	"io"

	"github.com/google/uuid"
)

// bundleNamespace is the UUIDv5 namespace of export bundle ids (a random UUID fixed for renkei).
var bundleNamespace = uuid.MustParse("4b7c2e7e-8f0b-4f1e-9a55-2d1b6f3c9e10")

// WriteBundle writes the set as one STIX 2.1 bundle, each object's bytes as they leave (as stored,
// or as the personal-data guard rewrote them), in the set's order. The bundle's id is a UUIDv5 of
// the ids and modified times of the objects, so the same objects give the same bytes.
func WriteBundle(w io.Writer, set *ObjectSet) error {
	var key bytes.Buffer
	for _, o := range set.Objects {
		key.WriteString(o.ID)
		key.WriteByte(' ')
		key.WriteString(o.Modified)
		key.WriteByte('\n')
	}
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","id":"bundle--` + uuid.NewSHA1(bundleNamespace, key.Bytes()).String() + `","objects":[`)
	for i, o := range set.Objects {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.Raw)
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}
