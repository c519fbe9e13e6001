package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// runPattern is "renkei pattern check|match": grep-like tools for rule authors.
func runPattern(ctx context.Context, e *env, args []string) error {
	const usage = "renkei pattern check [PATTERN...] | renkei pattern match -p PATTERN | -f PATTERNS FILE..."
	if len(args) == 0 {
		return usageError("pattern", "pattern needs a subcommand: check or match")
	}
	switch args[0] {
	case "check":
		return runPatternCheck(ctx, e, args[1:])
	case "match":
		return runPatternMatch(ctx, e, args[1:])
	case "-h", "-help", "--help":
		fmt.Fprintf(e.stdout, "usage: %s\n\n%s\n", usage,
			"check: compile STIX patterns and print one JSON line for each.\nmatch: evaluate a STIX pattern against observed-data and print the ids of those that take part in a match.\nRun 'renkei pattern check -h' or 'renkei pattern match -h' for details.")
		return errHelp
	}
	return usageError("pattern", "unknown pattern subcommand %q (want check or match)", args[0])
}

// maxPatternLine is the longest line check reads from stdin; longer patterns are refused anyway.
const maxPatternLine = 1 << 20

func runPatternCheck(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "pattern check", "renkei pattern check [PATTERN...]",
		"Compile each STIX pattern given as an argument, or each line of stdin when there is none, and\n"+
			"print one JSON line per pattern: {\"pattern\":…,\"valid\":true|false,\"error\":…}. Blank lines of stdin\n"+
			"are skipped. Exit status 1 when any pattern is invalid.")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	total, invalid := 0, 0
	check := func(p string) error {
		type line struct {
			Pattern string `json:"pattern"`
			Valid   bool   `json:"valid"`
			Error   string `json:"error,omitempty"`
		}
		l := line{Pattern: p, Valid: true}
		if _, err := pattern.Compile(p); err != nil {
			l.Valid, l.Error = false, err.Error()
			invalid++
		}
		total++
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("pattern check: write: %w", err)
		}
		return nil
	}
	if len(pos) > 0 {
		for _, p := range pos {
			if err := check(p); err != nil {
				return err
			}
		}
	} else {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64<<10), maxPatternLine)
		for sc.Scan() {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := strings.TrimSuffix(sc.Text(), "\r")
			if strings.TrimSpace(p) == "" {
				continue
			}
			if err := check(p); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("a line of stdin is longer than %d bytes", maxPatternLine)
			}
			return &cliError{err: fmt.Errorf("pattern check: %w", err), code: ExitUsage}
		}
	}
	if invalid > 0 {
		return withHint(fmt.Errorf("pattern check: %d of %d patterns are invalid", invalid, total),
			"each invalid pattern's line gives the position, what was found and what was expected")
	}
	return nil
}

func runPatternMatch(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "pattern match", "renkei pattern match -p PATTERN | -f PATTERNS FILE...",
		"Evaluate a STIX pattern against the observed-data in the files (- for stdin): each a bundle, an\n"+
			"array of bundles or an array of objects, STIX 2.1 (object_refs) or 2.0 (objects). Print the ids of\n"+
			"the observed-data that take part in a match, one per line, in input order.\n"+
			"With -f, evaluate every pattern of a file (one per line; blank lines and lines starting with #\n"+
			"are skipped) and print one JSON line per pattern that matches, in the file's order:\n"+
			"{\"line\":N,\"pattern\":…,\"observed_data\":[ids…]}. Only the patterns one of whose values, blocks,\n"+
			"literals or object types the observed-data holds are evaluated (match.PatternSet).\n"+
			"Exit status 0 on a match, 1 on none, 2 on an error (a bad pattern or bad input).")
	pat := f.String("p", "", "the STIX `pattern` to evaluate")
	file := f.String("f", "", "a `file` of STIX patterns, one per line, to evaluate all at once")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if (*pat == "") == (*file == "") {
		return usageError("pattern match", "pattern match needs -p PATTERN or -f FILE, not both")
	}
	if len(pos) == 0 {
		return usageError("pattern match", "pattern match needs at least one FILE (- for stdin)")
	}
	var (
		p   *pattern.Pattern
		set *patternFile
	)
	if *pat != "" {
		if p, err = pattern.Compile(*pat); err != nil {
			return &cliError{err: fmt.Errorf("pattern match: %w", err), hint: "run 'renkei pattern check' on the pattern", code: ExitUsage}
		}
	} else if set, err = readPatternFile(*file); err != nil {
		return err
	}
	var objs []map[string]any
	for _, name := range pos {
		if err := ctx.Err(); err != nil {
			return err
		}
		got, err := readObjectsFile(e, name)
		if err != nil {
			return &cliError{err: fmt.Errorf("pattern match: %s: %w", name, err), code: ExitUsage}
		}
		objs = append(objs, got...)
	}
	obs, err := pattern.ObservationsFromObjects(objs)
	if err != nil {
		return &cliError{err: fmt.Errorf("pattern match: %w", err), code: ExitUsage}
	}
	if set != nil {
		return set.match(e, obs)
	}
	res, err := p.Match(obs)
	if err != nil {
		return &cliError{err: fmt.Errorf("pattern match: %w", err), code: ExitUsage}
	}
	if !res.Matched {
		return &cliError{err: fmt.Errorf("pattern match: no match in %d observed-data", len(obs)), code: ExitFailure}
	}
	w := bufio.NewWriter(e.stdout)
	for _, i := range res.Observations {
		fmt.Fprintln(w, observationID(obs, i))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("pattern match: write: %w", err)
	}
	return nil
}

func readObjectsFile(e *env, name string) ([]map[string]any, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	return pattern.ReadObjects(r, pattern.DefaultInputLimits)
}

// observationID names observed-data i for the output.
func observationID(obs []pattern.Observation, i int) string {
	if id := obs[i].ID; id != "" {
		return id
	}
	return fmt.Sprintf("(observed-data number %d, without an id)", i+1)
}

// patternFile is the patterns of `pattern match -f`, compiled into a set, with their lines.
type patternFile struct {
	set   *match.PatternSet
	texts []string
	lines []int
}

// readPatternFile reads and compiles a file of patterns; any invalid pattern is an error naming its
// line.
func readPatternFile(name string) (*patternFile, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, &cliError{err: fmt.Errorf("pattern match: %w", err), code: ExitUsage}
	}
	defer fh.Close()
	pf := &patternFile{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), maxPatternLine)
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if len(pf.texts) == maxPatternFile {
			return nil, &cliError{err: fmt.Errorf("pattern match: %s has more than %d patterns", name, maxPatternFile), code: ExitUsage}
		}
		pf.texts, pf.lines = append(pf.texts, t), append(pf.lines, n)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", maxPatternLine)
		}
		return nil, &cliError{err: fmt.Errorf("pattern match: %s: %w", name, err), code: ExitUsage}
	}
	if len(pf.texts) == 0 {
		return nil, &cliError{err: fmt.Errorf("pattern match: %s holds no pattern", name), code: ExitUsage}
	}
	var bad []match.PatternError
	if pf.set, bad = match.CompilePatterns(pf.texts, match.PatternSetOptions{}); len(bad) > 0 {
		return nil, &cliError{err: fmt.Errorf("pattern match: %s: %d of %d patterns are invalid; the first, line %d: %w",
			name, len(bad), len(pf.texts), pf.lines[bad[0].Index], bad[0].Err), hint: "run 'renkei pattern check' on the file's lines", code: ExitUsage}
	}
	return pf, nil
}

// maxPatternFile bounds the patterns of one -f file.
const maxPatternFile = 10_000_000

// match evaluates the set's patterns against the observations, as -p evaluates one: each pattern
// one of whose triggers an observation holds (PatternMatcher.Candidates) is evaluated with
// pattern.Match over all of them, so FOLLOWEDBY, WITHIN and REPEATS join observations as with -p.
func (pf *patternFile) match(e *env, obs []pattern.Observation) error {
	m := pf.set.NewMatcher()
	var cands, some []int32
	seen := make([]bool, pf.set.Len())
	for i := range obs {
		some = m.Candidates(some[:0], &obs[i])
		for _, c := range some {
			if !seen[c] {
				seen[c] = true
				cands = append(cands, c)
			}
		}
	}
	slices.Sort(cands)
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	matched := 0
	for _, c := range cands {
		res, err := pf.set.Pattern(int(c)).Match(obs)
		if err != nil {
			return &cliError{err: fmt.Errorf("pattern match: line %d: %w", pf.lines[c], err), code: ExitUsage}
		}
		if !res.Matched {
			continue
		}
		type line struct {
			Line         int      `json:"line"`
			Pattern      string   `json:"pattern"`
			ObservedData []string `json:"observed_data"`
		}
		l := line{Line: pf.lines[c], Pattern: pf.texts[c]}
		for _, i := range res.Observations {
			l.ObservedData = append(l.ObservedData, observationID(obs, i))
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("pattern match: write: %w", err)
		}
		matched++
	}
	if matched == 0 {
		return &cliError{err: fmt.Errorf("pattern match: none of %d patterns matches the %d observed-data (%d evaluated)",
			len(pf.texts), len(obs), len(cands)), code: ExitFailure}
	}
	return nil
}
