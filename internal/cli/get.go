package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/renkei-cti/renkei/internal/store"
)

func runGet(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "get", "renkei get [--data DIR] [--versions] ID",
		`Print the latest version of the object ID exactly as stored, followed by a newline.
With --versions, print every stored version, oldest first, as one STIX bundle.`)
	dir := f.dataDir()
	all := f.Bool("versions", false, "print every version as a bundle")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("get", "get takes exactly one object id, found %d arguments", len(pos))
	}
	id := pos[0]
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	vs, err := st.Versions(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(vs) == 0) {
		return withHint(fmt.Errorf("no object %s in %s", id, *dir), "ids look like indicator--<uuid>; 'renkei export' lists what is stored")
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", id, err)
	}
	w := bufio.NewWriter(e.stdout)
	if !*all {
		w.Write(vs[len(vs)-1].Raw)
		w.WriteByte('\n')
		return flush(w)
	}
	bw := newBundleWriter(w)
	for _, v := range vs {
		if err := bw.add(v.Raw); err != nil {
			return err
		}
	}
	if err := bw.close(); err != nil {
		return err
	}
	return flush(w)
}

func flush(w *bufio.Writer) error {
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
