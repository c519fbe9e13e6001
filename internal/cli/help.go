package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/renkei-cti/renkei/internal/config"
)

func printHelp(w io.Writer) {
	fmt.Fprint(w, `renkei: a federated exchange for cyber threat intelligence (STIX 2.1 over TAXII 2.1)

usage: renkei <command> [flags] [arguments]

commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, `
Every command that uses a node takes --data DIR; the default is $%s, else ./%s.
Run 'renkei <command> -h' for a command's flags.

exit status: 0 success, 1 failure, 2 usage error
`, config.EnvDataDir, config.DefaultDataDir)
}

func runHelp(ctx context.Context, e *env, args []string) error {
	switch len(args) {
	case 0:
		printHelp(e.stdout)
		return nil
	case 1:
		for _, c := range commands() {
			if c.name == args[0] && c.name != "help" {
				// Every command prints its usage for -h and returns errHelp.
				return c.run(ctx, e, []string{"-h"})
			}
		}
		return usageError("help", "unknown command %q", args[0])
	}
	return usageError("help", "help takes at most one command name")
}
