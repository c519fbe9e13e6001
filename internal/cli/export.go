package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

func runExport(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "export", "renkei export [--data DIR] [--type T,...] [--collection C] [--all-versions] [--format F [--as USER] [--internal] [--out DIR]]",
		`Write stored objects to stdout as one STIX bundle, each object exactly as stored. The bundle is
streamed: it is never held in memory whole. By default only the latest version of each object is
written (in its latest STIX form); --all-versions writes every version in every STIX form stored
(2.0 and 2.1), so that an export is a complete copy. --format csv, ip, cidr, domain, url, hash,
suricata, snort or zeek exports the active indicators instead (docs/EXPORT.md); --format misp writes
what may leave as one MISP event, active indicators as to_ids attributes (docs/MISP.md).`)
	dir := f.dataDir()
	types := f.String("type", "", "only objects of these `types`, comma-separated (e.g. indicator,malware)")
	collection := f.String("collection", "", "only objects in this `collection` (alias or id)")
	allVersions := f.Bool("all-versions", false, "write every version, not only the latest")
	ff := addFormatFlags(f) // --format and its flags: export_formats.go
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("export", "export takes no arguments, found %q", pos[0])
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	if !ff.stix() {
		return runExportFormat(ctx, e, st, ff, *collection, *types != "", *allVersions)
	}
	filter := store.Filter{Types: commaList(*types)}
	if *allVersions {
		filter.Versions = store.VersionMatch{Kind: store.VersionsAll}
		filter.SpecVersions = []string{stix.SpecVersion20, stix.SpecVersion21}
	}
	if *collection != "" {
		c, err := findCollection(ctx, st, *collection)
		if err != nil {
			return err
		}
		filter.Collection = c.ID
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	bw := newBundleWriter(w)
	for v, err := range st.Scan(ctx, filter) {
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := bw.add(v.Raw); err != nil {
			return fmt.Errorf("writing the output: %w", err)
		}
	}
	if err := bw.close(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	if err := flush(w); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d object versions\n", bw.n)
	return nil
}

// findCollection looks a collection up by alias or id, with a hint when it does not exist.
func findCollection(ctx context.Context, st store.Store, name string) (store.Collection, error) {
	c, err := st.Collection(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return c, withHint(fmt.Errorf("no collection %q", name), "'renkei collection list' shows the collections; 'renkei collection add ALIAS' makes one")
	}
	if err != nil {
		return c, fmt.Errorf("collection %q: %w", name, err)
	}
	return c, nil
}
