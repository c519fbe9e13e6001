package cli

import (
	"context"
	"fmt"
)

func runCheck(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "check", "renkei check [--data DIR]",
		"Verify the store's integrity and list every problem found. Exit status 1 when there is any.")
	dir := f.dataDir()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("check", "check takes no arguments, found %q", pos[0])
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	rep, err := st.Check(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "problem: %s\n", p)
	}
	if n := len(rep.Problems); n > 0 {
		return withHint(fmt.Errorf("check: %d problems in %d versions checked", n, rep.VersionsChecked),
			"restore the data directory from a backup, or re-import the affected objects")
	}
	fmt.Fprintf(e.stdout, "checked %d object versions: no problems\n", rep.VersionsChecked)
	return nil
}
