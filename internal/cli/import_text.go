package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/renkei-cti/renkei/internal/formats/text"
	"github.com/renkei-cti/renkei/internal/formats/warninglist"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// textFlags are the flags of `renkei import --format text`.
type textFlags struct {
	warninglists *string
	tlp          *string
	name         *string
}

func addTextFlags(f *flagSet) *textFlags {
	return &textFlags{
		warninglists: f.String("warninglists", "", "with --format text: a `directory` of MISP warninglists; values on them are flagged in the note"),
		tlp:          f.String("tlp", "", "with --format text: mark what is made `clear|green|amber|amber+strict|red` (default: unmarked, the node's AMBER, for the organisation only)"),
		name:         f.String("name", "", "with --format text: the report's `name` (default: the first heading of the text)"),
	}
}

var tlpByName = map[string]string{"clear": stix.TLP2Clear, "green": stix.TLP2Green, "amber": stix.TLP2Amber,
	"amber+strict": stix.TLP2AmberStrict, "red": stix.TLP2Red}

// runImportText extracts indicators from written reports and imports, per file, a report, its
// indicators, vulnerabilities and a note listing what was extracted, skipped and flagged, created by
// the node's organisation, for an analyst to review before sharing.
func runImportText(ctx context.Context, e *env, st store.Store, im *ingest.Importer, opt ingest.Options, files []string, tf *textFlags) error {
	var markings []string
	if *tf.tlp != "" {
		m, ok := tlpByName[strings.ToLower(*tf.tlp)]
		if !ok {
			return usageError("import", "--tlp %q: use clear, green, amber, amber+strict or red", *tf.tlp)
		}
		markings = []string{m}
	}
	node, err := st.NodeInfo(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	var flag func(k text.Kind, value string) []string
	if *tf.warninglists != "" {
		set, err := warninglist.LoadDir(ctx, *tf.warninglists, warninglist.Options{Logger: e.logger})
		if err != nil {
			return withHint(fmt.Errorf("import: warninglists: %w", err), "give a directory of MISP warninglist JSON files")
		}
		flag = func(k text.Kind, value string) []string {
			var names []string
			for _, h := range set.Check(k.Observable(), value) {
				names = append(names, h.ListName)
			}
			return names
		}
	}
	var total ingest.Report
	for _, name := range files {
		ex, err := extractFile(ctx, e, name)
		if err != nil {
			return fmt.Errorf("import: %s: %w", name, err)
		}
		objs, err := text.ToSTIX(ex, text.Options{Name: *tf.name, CreatedByRef: node.OwnerOrg, Markings: markings, Clock: e.now, Flag: flag})
		if err != nil {
			return fmt.Errorf("import: %s: %w", name, err)
		}
		rep, err := im.Import(ctx, bytes.NewReader(objs.Bundle()), opt)
		if err != nil {
			return fmt.Errorf("import: %s: %w", name, err)
		}
		fmt.Fprintf(e.stderr, "%s: %d indicators, %d vulnerabilities, %d flagged; review note %s\n",
			name, len(objs.Indicators), len(objs.Vulnerabilities), objs.Flagged, objs.NoteID)
		total.Accepted += rep.Accepted
		total.Duplicate += rep.Duplicate
		total.Rejected += rep.Rejected
	}
	return finishImport(e, total, nil)
}

// extractFile extracts the indicators of one report file, or of stdin for "-", and closes it.
func extractFile(ctx context.Context, e *env, name string) (*text.Extraction, error) {
	if name == "-" {
		return text.Extract(ctx, e.stdin, text.Limits{})
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, withHint(err, "give the path of a text report, or - for stdin")
	}
	defer fh.Close()
	return text.Extract(ctx, fh, text.Limits{})
}
