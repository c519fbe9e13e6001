package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/renkei-cti/renkei/internal/config"
)

// flagSet is a subcommand's flags with its usage text.
type flagSet struct {
	*flag.FlagSet
	cmd   string
	usage string // e.g. "renkei get [--data DIR] [--versions] ID"
	about string // a few sentences
	e     *env
}

func newFlags(e *env, cmd, usage, about string) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, cmd: cmd, usage: usage, about: about, e: e}
}

// dataDir adds the --data flag, defaulting to $RENKEI_DATA, else config.DefaultDataDir.
func (f *flagSet) dataDir() *string {
	return f.String("data", config.DataDirFrom(f.e.getenv),
		"the node's data `directory` (default from $"+config.EnvDataDir+", else ./"+config.DefaultDataDir+")")
}

// parse parses args, allowing flags after positional arguments ("get ID --versions"); "--" ends the
// flags. -h prints the usage to stdout and returns errHelp.
func (f *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printUsage(f.e.stdout)
				return nil, errHelp
			}
			return nil, usageError(f.cmd, "%s %v", f.cmd+":", err)
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// Parse stops at "--" (consumed) or at the first non-flag argument.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (f *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", f.usage, f.about)
	var b strings.Builder
	f.SetOutput(&b)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", b.String())
	}
}

// commaList splits "a,b, c" into its non-empty items.
func commaList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
