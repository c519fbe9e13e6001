package cli

import (
	"io"

	"github.com/google/uuid"
)

// bundleWriter streams a STIX bundle: the objects are written as they come, each exactly as stored.
// A bundle with no objects leaves the objects property out (when present it must hold at least one).
type bundleWriter struct {
	w   io.Writer
	n   int
	err error
}

func newBundleWriter(w io.Writer) *bundleWriter {
	b := &bundleWriter{w: w}
	b.write([]byte(`{"type":"bundle","id":"bundle--` + uuid.NewString() + `"`))
	return b
}

func (b *bundleWriter) write(p []byte) {
	if b.err == nil {
		_, b.err = b.w.Write(p)
	}
}

// add writes one object's raw JSON.
func (b *bundleWriter) add(raw []byte) error {
	if b.n == 0 {
		b.write([]byte(",\"objects\":[\n"))
	} else {
		b.write([]byte(",\n"))
	}
	b.write(raw)
	b.n++
	return b.err
}

// close ends the bundle and a line.
func (b *bundleWriter) close() error {
	if b.n > 0 {
		b.write([]byte("\n]}\n"))
	} else {
		b.write([]byte("}\n"))
	}
	return b.err
}
