package cli

import (
	"bytes"
	"context"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
)

// seedMarkings imports the predefined definitions every node holds from init on, as one JSON array:
// the TLP 1.0 and 2.0 marking definitions and renkei's identity, extension-definition and
// distribution marking definitions (policy.Definitions).
func seedMarkings(ctx context.Context, im *ingest.Importer) error {
	var raws [][]byte
	for _, d := range stix.BuiltinMarkings() {
		raws = append(raws, d.JSON)
	}
	for _, d := range policy.Definitions() {
		raws = append(raws, []byte(d.JSON))
	}
	arr := append(append([]byte("["), bytes.Join(raws, []byte(","))...), ']')
	return importStrict(ctx, im, arr, "the TLP and distribution marking definitions")
}
