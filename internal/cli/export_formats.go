package cli

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/renkei-cti/renkei/internal/formats/export"
	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// formatFlags are the flags of 'renkei export' for the formats other than a STIX bundle.
type formatFlags struct {
	format   *string
	as       *string
	internal *bool
	out      *string
	piiMode  *string
	piiKey   *string
}

func addFormatFlags(f *flagSet) *formatFlags {
	var names []string
	for _, x := range export.Formats() {
		names = append(names, string(x))
	}
	return &formatFlags{
		format: f.String("format", "stix", "output `format`: stix (a bundle of every object), or the active indicators as "+strings.Join(names, ", ")),
		as:     f.String("as", "", "with --format other than stix: export what this `user` may read (default: the operator's view)"),
		internal: f.Bool("internal", false, "with --format other than stix: the destination is inside the organisation, "+
			"so TLP:AMBER+STRICT and TLP:RED indicators are included"),
		out:     f.String("out", "", "write the files into this `directory` (needed for suricata: rules, datasets, hash lists)"),
		piiMode: f.String("pii", "redact", "personal-data guard: block, redact or hash"),
		piiKey:  f.String("pii-key", "", "with --pii hash: a `file` holding the node's hash key (at least 32 bytes; hex is decoded)"),
	}
}

// stix reports whether the STIX bundle export was asked for.
func (ff *formatFlags) stix() bool { return *ff.format == "stix" }

// runExportFormat exports the active indicators in one of the formats of package export.
func runExportFormat(ctx context.Context, e *env, st store.Store, ff *formatFlags, collection string, typesSet, allVersions bool) error {
	format, err := export.ParseFormat(*ff.format)
	if err != nil {
		return usageError("export", "%v", err)
	}
	if typesSet || allVersions {
		return usageError("export", "--type and --all-versions apply to --format stix only")
	}
	if format.MultiFile() && *ff.out == "" {
		return withHint(fmt.Errorf("--format %s writes several files", format), "add --out DIR")
	}
	pol, err := piiPolicy(*ff.piiMode, *ff.piiKey)
	if err != nil {
		return usageError("export", "%v", err)
	}
	o := export.Options{Now: e.now(), Internal: *ff.internal, DefaultTLP: policy.DefaultTLP, PII: pol}
	filter := store.Filter{Types: []string{"indicator"}}
	if collection != "" {
		c, err := findCollection(ctx, st, collection)
		if err != nil {
			return err
		}
		filter.Collection = c.ID
	}
	var seq iter.Seq2[store.Version, error] = st.Scan(ctx, filter)
	if *ff.as != "" {
		v, err := cliViewer(ctx, st, *ff.as)
		if err != nil {
			return err
		}
		filter.Scope = policy.StoreScope(v)
		seq = func(yield func(store.Version, error) bool) {
			for ver, err := range st.Scan(ctx, filter) {
				if err == nil && !policy.CanVersion(v, policy.ActionRead, &ver).Allow {
					continue
				}
				if !yield(ver, err) || err != nil {
					return
				}
			}
		}
	}
	set, err := export.Collect(ctx, seq, o)
	if err != nil {
		return err
	}
	rep := set.Report
	files, err := export.Files(format, set, export.WriteOptions{}, &rep)
	if err != nil {
		return err
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
	fmt.Fprintf(e.stderr, "exported %d indicators (%d values) as %s, skipped %d", rep.Exported, rep.Values, format, rep.Skipped())
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

// piiPolicy builds the personal-data policy of the flags.
func piiPolicy(mode, keyFile string) (*pii.Policy, error) {
	m, err := pii.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	p := &pii.Policy{Mode: m}
	if m == pii.ModeHash {
		if keyFile == "" {
			return nil, errors.New("--pii hash needs --pii-key FILE")
		}
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("--pii-key: %w", err)
		}
		k := []byte(strings.TrimSpace(string(b)))
		if dec, err := hex.DecodeString(string(k)); err == nil {
			k = dec
		}
		p.Key = k
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
