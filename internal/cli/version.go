package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion returns the module version of the running binary ("(devel)" for a local build) and
// the VCS revision with its time, when the build recorded them.
func buildVersion() (version, revision string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", ""
	}
	version = bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if rev != "" {
		revision = rev + modified
		if at != "" {
			revision += " " + at
		}
	}
	return version, revision
}

func runVersion(_ context.Context, e *env, args []string) error {
	f := newFlags(e, "version", "renkei version", "Print the version of renkei, of the Go toolchain that built it, and the source revision.")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("version", "version takes no arguments, found %q", pos[0])
	}
	version, revision := buildVersion()
	fmt.Fprintf(e.stdout, "renkei %s\n", version)
	fmt.Fprintf(e.stdout, "go     %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if revision != "" {
		fmt.Fprintf(e.stdout, "commit %s\n", revision)
	}
	return nil
}
