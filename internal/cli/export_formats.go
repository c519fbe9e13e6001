package cli

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/formats/export"
	"github.com/renkei-cti/renkei/internal/formats/misp"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// formatFlags are the flags of 'renkei export' for the formats other than a STIX bundle.
type formatFlags struct {
	format    *string
	as        *string
	internal  *bool
	out       *string
	piiMode   *string
	piiKey    *string
	eventUUID *string
	eventInfo *string
}

func addFormatFlags(f *flagSet) *formatFlags {
	var names []string
	for _, x := range export.Formats() {
		names = append(names, string(x))
	}
	return &formatFlags{
		format: f.String("format", "stix", "output `format`: stix (a bundle of every object), misp (one MISP event), or the active indicators as "+strings.Join(names, ", ")),
		as:     f.String("as", "", "with --format other than stix: export what this `user` may read (default: the operator's view)"),
		internal: f.Bool("internal", false, "with --format other than stix: the destination is inside the organisation, "+
			"so TLP:AMBER+STRICT and TLP:RED indicators are included"),
		out:       f.String("out", "", "write the files into this `directory` (needed for suricata: rules, datasets, hash lists)"),
		piiMode:   f.String("pii", "redact", "personal-data guard: block, redact or hash"),
		piiKey:    f.String("pii-key", "", "with --pii hash: a `file` holding the node's hash key (at least 32 bytes; hex is decoded)"),
		eventUUID: f.String("event-uuid", "", "with --format misp: the event's `uuid` (default: the exported report's, else derived from the objects exported)"),
		eventInfo: f.String("event-info", "", "with --format misp: the event's `info` when it is not a report's (default \"renkei export\")"),
	}
}

// stix reports whether the STIX bundle export was asked for.
func (ff *formatFlags) stix() bool { return *ff.format == "stix" }

// runExportFormat exports the active indicators in one of the formats of package export, or what
// the viewer may read as one MISP event.
func runExportFormat(ctx context.Context, e *env, st store.Store, ff *formatFlags, collection string, typesSet, allVersions bool) error {
	isMISP := *ff.format == "misp"
	var format export.Format
	if !isMISP {
		var err error
		if format, err = export.ParseFormat(*ff.format); err != nil {
			return usageError("export", "%v, or misp", err)
		}
		if *ff.eventUUID != "" || *ff.eventInfo != "" {
			return usageError("export", "--event-uuid and --event-info apply to --format misp only")
		}
	} else if u := *ff.eventUUID; u != "" {
		if _, err := uuid.Parse(u); err != nil || len(u) != 36 {
			return usageError("export", "--event-uuid %q is not a UUID", u)
		}
	}
	if typesSet || allVersions {
		return usageError("export", "--type and --all-versions apply to --format stix only")
	}
	if format.MultiFile() && *ff.out == "" {
		return withHint(fmt.Errorf("--format %s writes several files", format), "add --out DIR")
	}
	if *ff.piiMode == "hash" && *ff.piiKey == "" {
		return usageError("export", "--pii hash needs --pii-key FILE")
	}
	pol, err := pii.LoadPolicy(*ff.piiMode, *ff.piiKey)
	if err != nil {
		return usageError("export", "%v", err)
	}
	o := export.Options{Now: e.now(), Internal: *ff.internal, DefaultTLP: policy.DefaultTLP, PII: pol}
	types := []string{"indicator"}
	if isMISP {
		types = misp.ExportTypes()
	}
	seq, err := exportVersions(ctx, st, *ff.as, collection, types)
	if err != nil {
		return err
	}
	var (
		rep   export.Report
		files []export.File
	)
	if isMISP {
		if files, rep, err = exportMISP(ctx, seq, o, misp.EventOptions{UUID: *ff.eventUUID, Info: *ff.eventInfo}); err != nil {
			return err
		}
	} else {
		set, err := export.Collect(ctx, seq, o)
		if err != nil {
			return err
		}
		rep = set.Report
		if files, err = export.Files(format, set, export.WriteOptions{}, &rep); err != nil {
			return err
		}
	}
	if *ff.out != "" {
		if err := os.MkdirAll(*ff.out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(*ff.out, f.Name), f.Data, 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
		}
	} else {
		w := bufio.NewWriterSize(e.stdout, 64<<10)
		if _, err := w.Write(files[0].Data); err != nil {
			return fmt.Errorf("writing the output: %w", err)
		}
		if err := flush(w); err != nil {
			return err
		}
	}
	if isMISP {
		fmt.Fprintf(e.stderr, "exported %d STIX objects as a MISP event of %d attributes, skipped %d", rep.Exported, rep.Values, rep.Skipped())
	} else {
		fmt.Fprintf(e.stderr, "exported %d indicators (%d values) as %s, skipped %d", rep.Exported, rep.Values, format, rep.Skipped())
	}
	if rep.Redacted > 0 {
		fmt.Fprintf(e.stderr, ", personal data rewritten in %d", rep.Redacted)
	}
	fmt.Fprintln(e.stderr)
	reasons := make([]string, 0, len(rep.Counts))
	for r := range rep.Counts {
		reasons = append(reasons, string(r))
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(e.stderr, "  skipped %d: %s\n", rep.Counts[export.Reason(r)], r)
	}
	return nil
}

// exportVersions scans the versions of the given types an export reads: the operator's view, or
// with as a user's, each version checked with policy.CanVersion.
func exportVersions(ctx context.Context, st store.Store, as, collection string, types []string) (iter.Seq2[store.Version, error], error) {
	filter := store.Filter{Types: types}
	if collection != "" {
		c, err := findCollection(ctx, st, collection)
		if err != nil {
			return nil, err
		}
		filter.Collection = c.ID
	}
	if as == "" {
		return st.Scan(ctx, filter), nil
	}
	v, err := cliViewer(ctx, st, as)
	if err != nil {
		return nil, err
	}
	filter.Scope = policy.StoreScope(v)
	return func(yield func(store.Version, error) bool) {
		for ver, err := range st.Scan(ctx, filter) {
			if err == nil && !policy.CanVersion(v, policy.ActionRead, &ver).Allow {
				continue
			}
			if !yield(ver, err) || err != nil {
				return
			}
		}
	}, nil
}

// exportMISP collects the objects an event export carries and writes them as one MISP event.
func exportMISP(ctx context.Context, seq iter.Seq2[store.Version, error], o export.Options, eo misp.EventOptions) ([]export.File, export.Report, error) {
	set, err := export.CollectObjects(ctx, seq, o)
	if err != nil {
		return nil, export.Report{}, err
	}
	b, rep, err := misp.WriteExport(set, eo)
	if err != nil {
		return nil, rep, err
	}
	return []export.File{{Name: "renkei-misp.json", Data: b}}, rep, nil
}
