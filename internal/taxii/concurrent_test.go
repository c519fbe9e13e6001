package taxii_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/taxii"
)

// pagingMode is how a reader walks a collection: with the server's next values, or with added_after
// set to the previous page's X-TAXII-Date-Added-Last.
type pagingMode int

const (
	byNext pagingMode = iota
	byAddedAfter
)

func (m pagingMode) String() string {
	if m == byNext {
		return "next"
	}
	return "added_after"
}

// passResult is one complete walk of a collection.
type passResult struct {
	keys  []string // id@modified of every object returned, in order
	pages int
}

// walk pages through the objects endpoint of a collection as one user until the server says there
// is no more. It checks every page on the way: status, content type, date headers present and in
// increasing order from page to page, and no page that claims more while returning nothing.
func walk(ctx context.Context, c *http.Client, base, path, user, token string, mode pagingMode, limit int) (passResult, error) {
	var (
		res      passResult
		cursor   string // next value or added_after timestamp
		prevLast string
	)
	for res.pages = 0; ; res.pages++ {
		if res.pages > 100000 {
			return res, errors.New("more than 100000 pages: the walk does not end")
		}
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if cursor != "" {
			if mode == byNext {
				q.Set("next", cursor)
			} else {
				q.Set("added_after", cursor)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+q.Encode(), nil)
		if err != nil {
			return res, err
		}
		req.Header.Set("Accept", taxii.MediaTAXII)
		req.SetBasicAuth(user, token)
		resp, err := c.Do(req)
		if err != nil {
			return res, fmt.Errorf("page %d: %w", res.pages, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return res, fmt.Errorf("page %d: %w", res.pages, err)
		}
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("page %d: status %d: %s", res.pages, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != taxii.MediaTAXII {
			return res, fmt.Errorf("page %d: Content-Type %q", res.pages, ct)
		}
		var env struct {
			More    bool   `json:"more"`
			Next    string `json:"next"`
			Objects []struct {
				ID       string `json:"id"`
				Modified string `json:"modified"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return res, fmt.Errorf("page %d: %w: %s", res.pages, err, body)
		}
		for _, o := range env.Objects {
			res.keys = append(res.keys, o.ID+"@"+o.Modified)
		}
		first, last := resp.Header.Get(taxii.HeaderDateAddedFirst), resp.Header.Get(taxii.HeaderDateAddedLast)
		if len(env.Objects) > 0 {
			// The headers have a fixed width (microseconds, Z): text order is time order.
			switch {
			case first == "" || last == "":
				return res, fmt.Errorf("page %d: %d objects but date headers %q and %q", res.pages, len(env.Objects), first, last)
			case first > last:
				return res, fmt.Errorf("page %d: %s %s after %s %s", res.pages, taxii.HeaderDateAddedFirst, first, taxii.HeaderDateAddedLast, last)
			case prevLast != "" && first <= prevLast:
				return res, fmt.Errorf("page %d starts at %s, not after the previous page's end %s", res.pages, first, prevLast)
			}
			prevLast = last
		}
		if !env.More {
			return res, nil
		}
		switch {
		case len(env.Objects) == 0:
			// Possible only if every form of the store's page was withheld; the fixture has none.
			return res, fmt.Errorf("page %d: more is true but the page is empty", res.pages)
		case mode == byNext && env.Next == "":
			return res, fmt.Errorf("page %d: more is true but there is no next", res.pages)
		case mode == byNext:
			cursor = env.Next
		default:
			cursor = last
		}
	}
}

// ackSet is the set of objects whose POST was answered 202 with the object among the successes.
type ackSet struct {
	mu  sync.Mutex
	ids map[string]bool // id@modified
}

func (a *ackSet) add(keys []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range keys {
		a.ids[k] = true
	}
}

func (a *ackSet) snapshot() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.ids)
}

// post sends one envelope to the collection and checks the status resource: every object a success.
func post(ctx context.Context, c *http.Client, base, path, user, token string, objs []string, keys []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(`{"objects":[`+strings.Join(objs, ",")+`]}`))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", taxii.MediaTAXII)
	req.Header.Set("Content-Type", taxii.MediaTAXII)
	req.SetBasicAuth(user, token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST: status %d: %s", resp.StatusCode, body)
	}
	var st struct {
		Status       string `json:"status"`
		TotalCount   int    `json:"total_count"`
		SuccessCount int    `json:"success_count"`
		FailureCount int    `json:"failure_count"`
		Successes    []struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"successes"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("POST: status resource: %w: %s", err, body)
	}
	if st.Status != "complete" || st.TotalCount != len(objs) || st.SuccessCount != len(objs) || st.FailureCount != 0 {
		return fmt.Errorf("POST: status resource %s", body)
	}
	got := map[string]bool{}
	for _, s := range st.Successes {
		got[s.ID+"@"+s.Version] = true
	}
	for _, k := range keys {
		if !got[k] {
			return fmt.Errorf("POST: %s missing from the successes: %s", k, body)
		}
	}
	return nil
}

// checkPass reports a pass that returned an object twice, or missed one acknowledged before it began.
func checkPass(res passResult, ackedBefore map[string]bool) error {
	seen := make(map[string]bool, len(res.keys))
	for _, k := range res.keys {
		if seen[k] {
			return fmt.Errorf("%s returned twice in one pass of %d pages", k, res.pages)
		}
		seen[k] = true
	}
	for k := range ackedBefore {
		if !seen[k] {
			return fmt.Errorf("%s was acknowledged before the pass began but the pass (%d pages, %d objects) missed it", k, res.pages, len(res.keys))
		}
	}
	return nil
}

// TestConcurrentReadersAndWriters: writers POST new objects to a collection while readers page through
// it with small pages, by next and by added_after. No pass returns an object twice; every pass returns
// every object acknowledged before it began; once the writers stop, a pass returns exactly the
// acknowledged objects (and the fixture's own).
func TestConcurrentReadersAndWriters(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	client := f.srv.Client()
	path := f.objects(f.shared.ID)
	const (
		writers      = 3
		postsEach    = 5
		perPost      = 4
		readersEach  = 1 // per user and paging mode
		limit        = 4
		modifiedDay  = 5
		modifiedText = "2024-01-05T00:00:00.000Z"
	)
	// alice (org A, read and write) writes; alice and bob (org B, read only) read. The new objects are
	// TLP:CLEAR, so both see all of them.
	users := []string{"alice", "bob"}
	acked := &ackSet{ids: map[string]bool{}}
	mine := func(k string) bool { return strings.HasPrefix(k, "indicator--20") }

	// What each viewer sees before any write: the fixture's objects, which every pass must also return.
	before := map[string]map[string]bool{}
	for _, u := range users {
		res, err := walk(ctx, client, f.srv.URL, path, u, f.tokens[u], byNext, limit)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if err := checkPass(res, nil); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		before[u] = map[string]bool{}
		for _, k := range res.keys {
			before[u][k] = true
		}
		if len(before[u]) == 0 {
			t.Fatalf("%s sees nothing in the fixture's collection", u)
		}
	}

	var (
		readersWG, writersWG sync.WaitGroup
		started              sync.WaitGroup // every reader has begun its first pass
		stop                 = make(chan struct{})
		passMu               sync.Mutex
		passes               = map[string]int{} // completed passes per user and mode, while writers ran
		overlapped           int                // passes during which writes were acknowledged
	)
	for _, u := range users {
		for _, mode := range []pagingMode{byNext, byAddedAfter} {
			for range readersEach {
				started.Add(1)
				readersWG.Go(func() {
					first := true
					for {
						select {
						case <-stop:
							return
						default:
						}
						ackedBefore := acked.snapshot()
						maps.Copy(ackedBefore, before[u])
						if first {
							started.Done()
							first = false
						}
						res, err := walk(ctx, client, f.srv.URL, path, u, f.tokens[u], mode, limit)
						if err == nil {
							err = checkPass(res, ackedBefore)
						}
						if err != nil {
							t.Errorf("reader %s by %s: %v", u, mode, err)
							return
						}
						passMu.Lock()
						passes[u+" by "+mode.String()]++
						if len(acked.snapshot())+len(before[u]) > len(ackedBefore) {
							overlapped++ // objects were acknowledged while the pass ran
						}
						passMu.Unlock()
					}
				})
			}
		}
	}
	started.Wait()
	for w := range writers {
		writersWG.Go(func() {
			for p := range postsEach {
				var objs, keys []string
				for i := range perPost {
					id := fmt.Sprintf("indicator--20000000-0000-4000-8000-%012d", (w*postsEach+p)*perPost+i)
					objs = append(objs, indicatorJSON(id, orgA, ts(modifiedDay), stix.TLP2Clear))
					keys = append(keys, id+"@"+modifiedText)
				}
				if err := post(ctx, client, f.srv.URL, path, "alice", f.tokens["alice"], objs, keys); err != nil {
					t.Errorf("writer %d, post %d: %v", w, p, err)
					return
				}
				acked.add(keys)
			}
		})
	}
	writersWG.Wait()
	close(stop)
	readersWG.Wait()
	if t.Failed() {
		return
	}
	t.Logf("passes completed while writers ran: %v; %d of them saw writes acknowledged meanwhile", passes, overlapped)

	// After the writers: exactly the acknowledged objects, plus the fixture's, in every way of paging.
	final := acked.snapshot()
	if len(final) != writers*postsEach*perPost {
		t.Fatalf("%d objects acknowledged, want %d", len(final), writers*postsEach*perPost)
	}
	for _, u := range users {
		for _, mode := range []pagingMode{byNext, byAddedAfter} {
			for _, lim := range []int{limit, 1000} {
				t.Run(fmt.Sprintf("final/%s/%s/limit=%d", u, mode, lim), func(t *testing.T) {
					res, err := walk(ctx, client, f.srv.URL, path, u, f.tokens[u], mode, lim)
					if err != nil {
						t.Fatal(err)
					}
					want := maps.Clone(final)
					maps.Copy(want, before[u])
					if err := checkPass(res, want); err != nil {
						t.Fatal(err)
					}
					for _, k := range res.keys {
						if !want[k] {
							t.Errorf("%s returned, but it was neither in the fixture nor acknowledged", k)
						}
					}
					n := 0
					for _, k := range res.keys {
						if mine(k) {
							n++
						}
					}
					if n != len(final) {
						t.Errorf("%d of the written objects returned, want %d", n, len(final))
					}
				})
			}
		}
	}
}
