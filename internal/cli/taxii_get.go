package cli

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/renkei-cti/renkei/internal/taxiiclient"
)

// maxPageRequest is the largest limit a get asks one page for.
const maxPageRequest = 1000

func runTaxiiGet(ctx context.Context, e *env, args []string) error {
	f, conn := newTaxiiFlags(e, "get", "renkei taxii get URL --collection ID [--id X,...] [--type T,...] [--added-after T] [--limit N] [connection flags]",
		`Print the objects of a collection as one STIX bundle, each object exactly as the server sent it,
following the server's pages. By default the server's defaults apply: the latest version of each
object, in its latest STIX version.`)
	collection := f.String("collection", "", "the collection's `id` (required)")
	ids := f.String("id", "", "only these object `ids`, comma-separated")
	types := f.String("type", "", "only objects of these `types`, comma-separated")
	addedAfter := f.String("added-after", "", "only objects added after this `timestamp` (RFC 3339, UTC)")
	limit := f.Int("limit", 0, "print at most `N` objects (0: all)")
	versions := f.String("version", "", "match[version]: first, last, all or timestamps, a comma-separated `list` (default: the server's, last)")
	specVersions := f.String("spec-version", "", "match[spec_version]: STIX `versions`, comma-separated (e.g. 2.0,2.1)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	raw, err := oneURL("get", pos)
	if err != nil {
		return err
	}
	if *collection == "" {
		return usageError("taxii", "taxii get needs --collection ID ('renkei taxii collections URL' lists them)")
	}
	if *limit < 0 {
		return usageError("taxii", "--limit %d: give a positive number, or 0 for all", *limit)
	}
	q := taxiiclient.Query{IDs: commaList(*ids), Types: commaList(*types), Versions: commaList(*versions), SpecVersions: commaList(*specVersions)}
	if *addedAfter != "" {
		t, err := time.Parse(time.RFC3339Nano, *addedAfter)
		if err != nil {
			return usageError("taxii", "--added-after %q is not an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00Z)", *addedAfter)
		}
		q.AddedAfter = t
	}
	if *limit > 0 {
		q.Limit = min(*limit, maxPageRequest)
	}
	cl, path, err := conn.client(e, raw)
	if err != nil {
		return err
	}
	root, err := apiRoot(ctx, cl, path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	bw := newBundleWriter(w)
	pages := 0
	var pageErr error
	for p, err := range cl.ObjectsNext(ctx, root, *collection, q) {
		if err != nil {
			pageErr = taxiiError(err)
			break
		}
		pages++
		for _, o := range p.Objects {
			if *limit > 0 && bw.n == *limit {
				break
			}
			if err := bw.add(o); err != nil {
				return fmt.Errorf("writing the output: %w", err)
			}
		}
		if *limit > 0 && bw.n == *limit {
			break
		}
	}
	if pageErr != nil && bw.n == 0 {
		return pageErr
	}
	// What was printed stays a valid bundle, even when a later page failed.
	if err := bw.close(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	if err := flush(w); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "got %d objects, %d pages\n", bw.n, pages)
	return pageErr
}
