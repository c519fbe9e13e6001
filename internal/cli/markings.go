package cli

import (
	"bytes"
	"context"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/stix"
)

// seedMarkings imports the built-in TLP marking definitions (TLP 1.0 and 2.0) that every node holds
// from init on, as one JSON array.
func seedMarkings(ctx context.Context, im *ingest.Importer) error {
	defs := stix.BuiltinMarkings()
	raws := make([][]byte, len(defs))
	for i, d := range defs {
		raws[i] = d.JSON
	}
	arr := append(append([]byte("["), bytes.Join(raws, []byte(","))...), ']')
	return importStrict(ctx, im, arr, "the TLP marking definitions")
}
