package warninglist

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
)

// Options control Load.
type Options struct {
	Logger *slog.Logger // nil: slog.DiscardHandler
	Limits Limits       // zero fields: DefaultLimits' values
}

// ListFile is the name of a list's file in the MISP layout (lists/<slug>/list.json).
const ListFile = "list.json"

// LoadDir is Load on os.DirFS(dir).
func LoadDir(ctx context.Context, dir string, opts Options) (*Set, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("warninglists: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("warninglists: %s is not a directory", dir)
	}
	return Load(ctx, os.DirFS(dir), opts)
}

// Load reads every file named list.json in fsys (at any depth, in lexical order) and indexes them in
// one Set. A file that is not a valid warninglist makes it fail; so does finding no list at all.
func Load(ctx context.Context, fsys fs.FS, opts Options) (*Set, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := opts.Limits.withDefaults()
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() && path.Base(p) == ListFile {
			files = append(files, p)
			if len(files) > lim.MaxLists {
				return fmt.Errorf("%w: more than %d lists", ErrLimit, lim.MaxLists)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("warninglists: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("warninglists: no %s file found", ListFile)
	}
	slices.Sort(files)
	lists := make([]*List, 0, len(files))
	total := 0
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("warninglists: %w", err)
		}
		l, err := parseFile(fsys, p, lim)
		if err != nil {
			return nil, err
		}
		total += len(l.Entries)
		if total > lim.MaxTotal {
			return nil, fmt.Errorf("%w: the lists hold more than %d entries in all (at %s)", ErrLimit, lim.MaxTotal, p)
		}
		lists = append(lists, l)
	}
	set := NewSet(lists...)
	for _, l := range set.lists {
		if l.SkippedCount > 0 {
			log.LogAttrs(ctx, slog.LevelWarn, "warninglist entries skipped",
				slog.String("list", l.Source), slog.Int("skipped", l.SkippedCount), slog.Any("examples", l.Skipped))
		}
	}
	log.LogAttrs(ctx, slog.LevelDebug, "warninglists loaded", slog.Int("lists", len(lists)), slog.Int("entries", total))
	return set, nil
}

func parseFile(fsys fs.FS, p string, lim Limits) (*List, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("warninglists: %w", err)
	}
	l, err := Parse(f, p, lim)
	if cerr := f.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("warninglists: close %s: %w", p, cerr)
	}
	return l, err
}
