package gen

import (
	"bufio"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxObjectBytes bounds one object read by Each.
const MaxObjectBytes = 16 << 20

// Each reads a bundle from r and calls fn with the JSON text of each object in "objects", in order.
// The slice passed to fn is only valid until fn returns. Each is a small reader for the benchmark
// harness and tests; the node's own ingest pipeline lives in internal/ingest.
func Each(r io.Reader, fn func(raw []byte) error) error {
	dec := jsontext.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	tok, err := dec.ReadToken()
	if err != nil {
		return fmt.Errorf("gen: reading the bundle: %w", err)
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("gen: the input is not a JSON object but starts with %s", tok.Kind())
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("gen: reading the bundle: %w", err)
		}
		if name.String() != "objects" {
			if err := dec.SkipValue(); err != nil {
				return fmt.Errorf("gen: reading the bundle's %q: %w", name.String(), err)
			}
			continue
		}
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
			return fmt.Errorf("gen: the bundle's objects are not an array (%v)", err)
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			v, err := dec.ReadValue()
			if err != nil {
				return fmt.Errorf("gen: reading object %d at byte %d: %w", i, dec.InputOffset(), err)
			}
			if len(v) > MaxObjectBytes {
				return fmt.Errorf("gen: object %d is %d bytes, more than %d", i, len(v), MaxObjectBytes)
			}
			if err := fn(v); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return fmt.Errorf("gen: reading the end of the objects: %w", err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return fmt.Errorf("gen: reading the end of the bundle: %w", err)
	}
	return nil
}
