package match

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/renkei-cti/renkei/internal/store"
)

// StoreReader is what a Compiled index is compiled from and checked against: the objects, and the
// organisations (whether each is hosted here decides the OwnerLocal of every label).
type StoreReader interface {
	store.Objects
	ListOrganisations(ctx context.Context) ([]store.Organisation, error)
}

// StoreState is what an index depends on in a store besides the indicator versions it read
// (Compiled.LastStored): the labels of those versions change when a marking definition they wait
// for is stored, and their OwnerLocal when the organisations hosted here change.
type StoreState struct {
	LastMarking time.Time // the latest Stored time of a marking definition; zero when none
	Orgs        uint64    // XXH64 of the organisations' ids, each with whether it is remote
}

// ReadStoreState reads the StoreState of st. It reads every marking definition (there are few).
func ReadStoreState(ctx context.Context, st StoreReader) (StoreState, error) {
	var s StoreState
	for v, err := range st.Scan(ctx, store.Filter{Types: []string{"marking-definition"}}) {
		if err != nil {
			return s, fmt.Errorf("reading marking definitions: %w", err)
		}
		if v.Stored.After(s.LastMarking) {
			s.LastMarking = v.Stored
		}
	}
	var err error
	if s.Orgs, err = orgsHash(ctx, st); err != nil {
		return s, err
	}
	return s, nil
}

func orgsHash(ctx context.Context, st StoreReader) (uint64, error) {
	orgs, err := st.ListOrganisations(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading organisations: %w", err)
	}
	slices.SortFunc(orgs, func(a, b store.Organisation) int { return cmp.Compare(a.ID, b.ID) })
	h := xxhash.New()
	for _, o := range orgs {
		remote := "L"
		if o.Remote {
			remote = "R"
		}
		// The lengths are bounded by the store; a NUL cannot be in an id.
		if _, err := h.WriteString(o.ID + "\x00" + remote + "\x00"); err != nil {
			return 0, fmt.Errorf("hashing organisations: %w", err)
		}
	}
	return h.Sum64(), nil
}

// Stale reports why c no longer is the index st would compile at time at, or "" when it still is.
// It costs three small queries: an indicator version or a marking definition stored since, and
// the organisations.
func (c *Compiled) Stale(ctx context.Context, st StoreReader, at time.Time) (string, error) {
	switch {
	case at.Before(c.At):
		return fmt.Sprintf("compiled for %s, after %s", c.At.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339)), nil
	case !c.NextChange.IsZero() && !at.Before(c.NextChange):
		return fmt.Sprintf("an indicator's valid_from or valid_until passed at %s", c.NextChange.UTC().Format(time.RFC3339)), nil
	}
	newer := func(typ string, after time.Time) (bool, error) {
		page, err := st.List(ctx, store.Filter{Types: []string{typ}, AddedAfter: after}, store.Cursor{}, 1)
		if err != nil {
			return false, fmt.Errorf("looking for new versions of %s: %w", typ, err)
		}
		return len(page.Versions) > 0, nil
	}
	for _, q := range []struct {
		typ   string
		after time.Time
		why   string
	}{
		{"indicator", c.LastStored, "indicators were stored since"},
		{"marking-definition", c.State.LastMarking, "marking definitions were stored since"},
	} {
		ok, err := newer(q.typ, q.after)
		if err != nil {
			return "", err
		}
		if ok {
			return q.why, nil
		}
	}
	h, err := orgsHash(ctx, st)
	if err != nil {
		return "", err
	}
	if h != c.State.Orgs {
		return "the organisations changed", nil
	}
	return "", nil
}

// LoadOptions control Load.
type LoadOptions struct {
	// Path is the index file; "" compiles in memory and writes nothing.
	Path string
	// Rebuild compiles even when the file is usable.
	Rebuild bool
	// NoWrite leaves the file as it is when the index had to be compiled (e.g. an index for
	// another time than now).
	NoWrite bool
	Compile CompileOptions // Compile.At is the time the index must hold for (zero: now)
	Open    OpenOptions
}

// LoadInfo says how Load came by its index.
type LoadInfo struct {
	Loaded   bool   // read from the file
	Why      string // why it was compiled instead ("" when loaded)
	Written  bool   // the compiled index was written to the file
	WriteErr error  // why it could not be written (the index is usable all the same)
	Took     time.Duration
}

// Load returns the index of the active indicators of st at o.Compile.At: the one in the file at
// o.Path when it is usable and not stale, else a freshly compiled one, which it writes to the
// file. A file that cannot be read is a reason to compile, not an error; a compiled index that
// cannot be written is logged and returned all the same.
func Load(ctx context.Context, st StoreReader, o LoadOptions) (*Compiled, LoadInfo, error) {
	start := time.Now()
	var info LoadInfo
	if o.Compile.At.IsZero() {
		o.Compile.At = time.Now()
	}
	switch {
	case o.Path == "":
		info.Why = "no index file"
	case o.Rebuild:
		info.Why = "rebuild asked for"
	default:
		c, err := OpenFile(o.Path, o.Open)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			info.Why = "no index file yet"
		case err != nil:
			info.Why = err.Error()
		default:
			why, err := c.Stale(ctx, st, o.Compile.At)
			if err != nil {
				return nil, info, errors.Join(err, c.Close())
			}
			if why == "" {
				info.Loaded, info.Took = true, time.Since(start)
				return c, info, nil
			}
			info.Why = why
			if err := c.Close(); err != nil {
				return nil, info, err
			}
		}
	}
	// The state before the scan: what changes during it makes the index stale, not wrong.
	state, err := ReadStoreState(ctx, st)
	if err != nil {
		return nil, info, fmt.Errorf("compile indicators: %w", err)
	}
	c, err := Compile(ctx, st, o.Compile)
	if err != nil {
		return nil, info, err
	}
	c.State = state
	if o.Path != "" && !o.NoWrite {
		if err := c.WriteFile(o.Path); err != nil {
			info.WriteErr = err
			if o.Compile.Logger != nil {
				o.Compile.Logger.Warn("match: the index could not be written; it will be compiled again next time", "err", err)
			}
		} else {
			info.Written = true
		}
	}
	info.Took = time.Since(start)
	return c, info, nil
}
