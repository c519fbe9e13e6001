// Package cli owns renkei's command line: one file per subcommand, each with its own flag set, and
// Main, which dispatches to them and turns their errors into an "error: …" line, an optional
// "hint: …" line and an exit code (0 success, 1 failure, 2 usage).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// env is what a command may touch of the outside world.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time
	logger *slog.Logger // for commands other than serve: warnings and errors, on stderr
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"init", "create a node: data directory, database, first organisation, admin token", runInit},
		{"serve", "run the node's HTTP server (--demo: a throw-away node full of demo data)", runServe},
		{"import", "import STIX bundles, objects or arrays of objects from files or stdin", runImport},
		{"get", "print an object as stored (--versions: every version, as a bundle)", runGet},
		{"export", "write stored objects to stdout as one STIX bundle, streamed", runExport},
		{"taxii", "talk to a TAXII 2.1 server: discover, collections, get, pull, push", runTaxii},
		{"collection", "add or list collections", runCollection},
		{"org", "add or list organisations", runOrg},
		{"user", "add, list or disable users", runUser},
		{"token", "create, list or revoke API tokens", runToken},
		{"group", "add sharing groups, add members, list them", runGroup},
		{"stats", "count what the node holds", runStats},
		{"check", "verify the store's integrity", runCheck},
		{"pattern", "check STIX patterns, or match one against observed-data in files", runPattern},
		{"correlate", "who else reported a value, or a report's values, or everything shared: IPs, domains, URLs, e-mail addresses, hashes", runCorrelate},
		{"match", "match logs against the active indicators; print hits, optionally store sightings", runMatch},
		{"version", "print the version of renkei and of Go", runVersion},
		{"help", "show help for renkei or for a command", runHelp},
	}
}

// Main runs the command line args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
		getenv: os.Getenv,
		now:    time.Now,
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return e.exit(dispatch(ctx, e, args))
}

func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		printHelp(e.stderr)
		return &cliError{err: errors.New("no command given"), hint: "run 'renkei help' to list the commands", code: ExitUsage}
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	return &cliError{err: fmt.Errorf("unknown command %q", name), hint: "run 'renkei help' to list the commands", code: ExitUsage}
}

// cliError carries an exit code and a hint with an error.
type cliError struct {
	err  error
	hint string
	code int
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// withHint marks err as a failure (exit 1) with a hint for the user.
func withHint(err error, hint string) error {
	return &cliError{err: err, hint: hint, code: ExitFailure}
}

// usageError is a mistake in how the command was called (exit 2).
func usageError(cmd, format string, args ...any) error {
	return &cliError{
		err:  fmt.Errorf(format, args...),
		hint: fmt.Sprintf("run 'renkei %s -h' for usage", cmd),
		code: ExitUsage,
	}
}

// errHelp: the user asked for help, which was printed; exit 0.
var errHelp = errors.New("help requested")

// exit prints err, if any, and returns the exit code.
func (e *env) exit(err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return ExitOK
	}
	code, hint := ExitFailure, ""
	var ce *cliError
	if errors.As(err, &ce) {
		code, hint = ce.code, ce.hint
	}
	if errors.Is(err, context.Canceled) {
		hint = "interrupted"
	}
	fmt.Fprintf(e.stderr, "error: %v\n", err)
	if hint != "" {
		fmt.Fprintf(e.stderr, "hint: %s\n", hint)
	}
	return code
}
