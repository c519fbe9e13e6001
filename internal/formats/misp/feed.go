package misp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/go-json-experiment/json"
)

// Fetcher gives the files of a MISP feed by name ("manifest.json", "<uuid>.json"). The CLI provides
// one over HTTPS; FSFetcher reads a directory.
type Fetcher interface {
	Fetch(ctx context.Context, name string) (io.ReadCloser, error)
}

// FSFetcher reads a feed from a file system (os.DirFS of a feed directory).
type FSFetcher struct{ FS fs.FS }

// Fetch opens name in the file system.
func (f FSFetcher) Fetch(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return f.FS.Open(name)
}

// FeedState remembers the events of a feed already read: event uuid → timestamp and SHA-256 of the
// event file. The CLI keeps it in a state file between runs.
type FeedState struct {
	Events map[string]FeedEntry `json:"events"`
}

// FeedEntry is one event already read.
type FeedEntry struct {
	Timestamp string `json:"timestamp"`
	SHA256    string `json:"sha256"`
}

// LoadFeedState reads a state written by FeedState.Save; an empty reader gives an empty state.
func LoadFeedState(r io.Reader) (*FeedState, error) {
	data, err := readLimited(r, 64<<20)
	if err != nil {
		return nil, err
	}
	st := &FeedState{Events: map[string]FeedEntry{}}
	if len(data) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("misp: feed state: %w", err)
	}
	if st.Events == nil {
		st.Events = map[string]FeedEntry{}
	}
	return st, nil
}

// Save writes the state as JSON (sorted, so the same state gives the same bytes).
func (s *FeedState) Save(w io.Writer) error {
	b, err := marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// manifestEntry is what ReadFeed reads of a manifest entry.
type manifestEntry struct {
	Timestamp Flex   `json:"timestamp"`
	Info      string `json:"info"`
}

// FeedReport sums up one read of a feed.
type FeedReport struct {
	Listed    int // events in the manifest
	Read      int // events fetched and handed over
	Unchanged int // events skipped: same timestamp as last time, or same bytes
	Failed    []string
}

// MaxFeedEvents bounds the events of a manifest.
const MaxFeedEvents = 1 << 20

// ReadFeed reads a MISP feed: manifest.json, then each event newer than in state (by timestamp,
// then by content hash), in uuid order, calling fn with it. After fn succeeds the state records the
// event. An event that cannot be fetched or decoded is listed in FeedReport.Failed and not
// recorded, so the next run tries it again; an error from fn or the context stops the read.
func ReadFeed(ctx context.Context, f Fetcher, state *FeedState, lim Limits, fn func(ctx context.Context, ev *Event) error) (FeedReport, error) {
	lim = lim.withDefaults()
	var rep FeedReport
	if state.Events == nil {
		state.Events = map[string]FeedEntry{}
	}
	mf, err := f.Fetch(ctx, "manifest.json")
	if err != nil {
		return rep, fmt.Errorf("misp: feed manifest: %w", err)
	}
	data, err := readLimited(mf, lim.MaxBytes)
	if cerr := mf.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return rep, fmt.Errorf("misp: feed manifest: %w", err)
	}
	var manifest map[string]manifestEntry
	if err := json.Unmarshal(data, &manifest); err != nil {
		return rep, fmt.Errorf("misp: feed manifest.json: %w: %w", ErrFormat, err)
	}
	if len(manifest) > MaxFeedEvents {
		return rep, fmt.Errorf("misp: feed manifest lists %d events, more than the limit of %d: %w", len(manifest), MaxFeedEvents, ErrLimit)
	}
	rep.Listed = len(manifest)
	ids := make([]string, 0, len(manifest))
	for id := range manifest {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if !validUUID(id) {
			rep.Failed = append(rep.Failed, fmt.Sprintf("%q: not an event uuid", id))
			continue
		}
		ts := string(manifest[id].Timestamp)
		if old, ok := state.Events[id]; ok && old.Timestamp == ts && ts != "" {
			rep.Unchanged++
			continue
		}
		body, err := fetchAll(ctx, f, id+".json", lim.MaxBytes)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return rep, err
			}
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])
		if old, ok := state.Events[id]; ok && old.SHA256 == h {
			state.Events[id] = FeedEntry{Timestamp: ts, SHA256: h}
			rep.Unchanged++
			continue
		}
		evs, err := decodeEventsBytes(body, lim)
		if err == nil && (len(evs) != 1 || evs[0].UUID != id) {
			err = fmt.Errorf("file %s.json does not hold event %s alone", id, id)
		}
		if err != nil {
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		if err := fn(ctx, evs[0]); err != nil {
			return rep, fmt.Errorf("misp: feed event %s: %w", id, err)
		}
		state.Events[id] = FeedEntry{Timestamp: ts, SHA256: h}
		rep.Read++
	}
	return rep, nil
}

func fetchAll(ctx context.Context, f Fetcher, name string, max int64) ([]byte, error) {
	rc, err := f.Fetch(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readLimited(rc, max)
}
