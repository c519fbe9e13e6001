package pattern

import (
	"container/heap"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// EvalLimits bound the combinatorial part of an evaluation: how observations are combined for
// AND, FOLLOWEDBY and REPEATS. The bound makes evaluation cost linear in the number of
// observations (up to the log factor of sorting) for a given pattern; the price is that, on inputs
// with very many candidate combinations, a match the bounded search does not reach is missed. See
// docs/PATTERNS.md.
type EvalLimits struct {
	// MaxBindings is how many candidate combinations a join or REPEATS keeps; when there are more,
	// the ones spanning the least time are kept.
	MaxBindings int
	// Fanout is how many partners each left-hand combination is paired with in a join: the
	// nearest in time that use different observations.
	Fanout int
	// MaxSteps stops an evaluation that takes more steps than this with ErrStepLimit (0: no limit).
	MaxSteps int64
}

// DefaultEvalLimits are the limits Match uses.
var DefaultEvalLimits = EvalLimits{MaxBindings: 1024, Fanout: 8}

// ErrStepLimit is returned when an evaluation exceeds EvalLimits.MaxSteps.
var ErrStepLimit = errors.New("pattern evaluation step limit exceeded")

// Result is the outcome of evaluating a pattern.
type Result struct {
	Matched bool
	// Observations are the indexes (into the slice given to Match) of the observations that take
	// part in the matches found, ascending. For a pattern of one observation expression, that is
	// every observation it matches.
	Observations []int
	// Steps counts the elementary steps of the evaluation (object visits, path steps, candidate
	// combinations tried); it grows linearly with the input for a given pattern.
	Steps int64
}

// Match evaluates the pattern against observations with DefaultEvalLimits.
func (p *Pattern) Match(obs []Observation) (Result, error) {
	return p.MatchWithLimits(obs, DefaultEvalLimits)
}

// MatchOne reports whether the pattern matches the single observation o (a pattern that needs
// several observations, such as [a] AND [b], can only match o when o.Count is large enough).
func (p *Pattern) MatchOne(o *Observation) bool {
	r, err := p.Match([]Observation{*o})
	return err == nil && r.Matched
}

// MatchWithLimits evaluates the pattern against observations.
func (p *Pattern) MatchWithLimits(obs []Observation, lim EvalLimits) (Result, error) {
	if lim.MaxBindings < 1 {
		lim.MaxBindings = DefaultEvalLimits.MaxBindings
	}
	if lim.Fanout < 1 {
		lim.Fanout = DefaultEvalLimits.Fanout
	}
	if len(obs) > 1<<31-1 {
		return Result{}, fmt.Errorf("pattern: %d observations is more than one evaluation takes", len(obs))
	}
	m := &matcher{evaluator: evaluator{lim: lim}, obs: obs}
	m.caps = make([]int32, len(obs))
	for i := range obs {
		m.caps[i] = int32(min(obs[i].count(), 1<<30))
	}
	m.used = make([]int32, len(obs))
	// Evaluate every leaf once per observation.
	m.leafHits = make(map[*ObsLeaf][]int32, len(p.leafs))
	views := make([]objectView, len(obs))
	for i := range obs {
		views[i] = newView(&obs[i])
	}
	for _, leaf := range p.leafs {
		var hits []int32
		for i := range views {
			if m.leafMatches(leaf, &views[i]) {
				hits = append(hits, int32(i))
			}
		}
		m.leafHits[leaf] = hits
		if err := m.check(); err != nil {
			return Result{Steps: m.steps}, err
		}
	}
	bs, err := m.eval(p.root)
	if err != nil {
		return Result{Steps: m.steps}, err
	}
	res := Result{Matched: len(bs) > 0, Steps: m.steps}
	if res.Matched {
		seen := make([]bool, len(obs))
		for _, b := range bs {
			for _, u := range b.units {
				seen[u.obs] = true
			}
		}
		for i, s := range seen {
			if s {
				res.Observations = append(res.Observations, i)
			}
		}
	}
	return res, nil
}

// unit is n observations taken from observation obs (which stands for Count of them).
type unit struct{ obs, n int32 }

// binding is one way of satisfying a sub-expression: the observations it uses, and the latest
// first_observed and earliest last_observed among them.
type binding struct {
	units    []unit // ascending by obs
	maxFirst time.Time
	minLast  time.Time
}

// span is how far apart the binding's observations must be at least.
func (b *binding) span() time.Duration { return b.maxFirst.Sub(b.minLast) }

type matcher struct {
	evaluator
	obs      []Observation
	caps     []int32
	used     []int32 // scratch: observations used by the combination being built
	leafHits map[*ObsLeaf][]int32
}

func (m *matcher) check() error {
	if m.lim.MaxSteps > 0 && m.steps > m.lim.MaxSteps {
		return fmt.Errorf("%w (%d steps)", ErrStepLimit, m.lim.MaxSteps)
	}
	return nil
}

func (m *matcher) sortSteps(n int) { m.steps += int64(n) * int64(bits.Len(uint(n))+1) }

func (m *matcher) eval(x ObsExpr) ([]binding, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	switch x := x.(type) {
	case *ObsLeaf:
		hits := m.leafHits[x]
		us := make([]unit, len(hits))
		bs := make([]binding, len(hits))
		for i, h := range hits {
			us[i] = unit{obs: h, n: 1}
			bs[i] = binding{units: us[i : i+1 : i+1], maxFirst: m.obs[h].First, minLast: m.obs[h].Last}
		}
		m.steps += int64(len(hits))
		return bs, nil
	case *ObsOr:
		var out []binding
		for _, y := range x.Xs {
			bs, err := m.eval(y)
			if err != nil {
				return nil, err
			}
			out = append(out, bs...)
		}
		m.steps += int64(len(out))
		return out, nil
	case *ObsAnd:
		return m.fold(x.Xs, false)
	case *ObsFollowedBy:
		return m.fold(x.Xs, true)
	case *ObsQualified:
		bs, err := m.eval(x.X)
		if err != nil {
			return nil, err
		}
		m.steps += int64(len(bs))
		switch x.Qual {
		case QualWithin:
			// The latest observation must be earlier than the earliest plus the window (spec
			// 9.5.1); when they happened inside their windows is unknown, so the most favourable
			// times are taken.
			return slices.DeleteFunc(bs, func(b binding) bool { return !b.maxFirst.Before(b.minLast.Add(x.Within)) }), nil
		case QualStartStop:
			return slices.DeleteFunc(bs, func(b binding) bool { return !b.maxFirst.Before(x.Stop) || b.minLast.Before(x.Start) }), nil
		case QualRepeats:
			return m.repeat(bs, x.Repeats)
		}
	}
	return nil, fmt.Errorf("pattern: unknown observation expression %T", x)
}

func (m *matcher) fold(xs []ObsExpr, followedBy bool) ([]binding, error) {
	acc, err := m.eval(xs[0])
	if err != nil {
		return nil, err
	}
	for _, y := range xs[1:] {
		if len(acc) == 0 {
			return nil, nil
		}
		bs, err := m.eval(y)
		if err != nil {
			return nil, err
		}
		acc = m.join(acc, bs, followedBy)
	}
	return acc, nil
}

// compatible reports whether a and b can be combined: together they use no observation more
// often than its count.
func (m *matcher) compatible(a, b *binding) bool {
	i, j := 0, 0
	for i < len(a.units) && j < len(b.units) {
		m.steps++
		switch ua, ub := a.units[i], b.units[j]; {
		case ua.obs < ub.obs:
			i++
		case ua.obs > ub.obs:
			j++
		default:
			if ua.n+ub.n > m.caps[ua.obs] {
				return false
			}
			i++
			j++
		}
	}
	return true
}

func merge(a, b *binding) binding {
	out := binding{units: make([]unit, 0, len(a.units)+len(b.units)), maxFirst: a.maxFirst, minLast: a.minLast}
	if b.maxFirst.After(out.maxFirst) {
		out.maxFirst = b.maxFirst
	}
	if b.minLast.Before(out.minLast) {
		out.minLast = b.minLast
	}
	i, j := 0, 0
	for i < len(a.units) || j < len(b.units) {
		switch {
		case j >= len(b.units) || i < len(a.units) && a.units[i].obs < b.units[j].obs:
			out.units = append(out.units, a.units[i])
			i++
		case i >= len(a.units) || b.units[j].obs < a.units[i].obs:
			out.units = append(out.units, b.units[j])
			j++
		default:
			out.units = append(out.units, unit{obs: a.units[i].obs, n: a.units[i].n + b.units[j].n})
			i++
			j++
		}
	}
	return out
}

// join combines left and right bindings for AND (on different observations) or FOLLOWEDBY (also
// right no earlier than left). Each left binding is paired with up to Fanout compatible right
// bindings nearest to it in time; at most MaxBindings results are kept, those of least span.
func (m *matcher) join(left, right []binding, followedBy bool) []binding {
	if len(left) == 0 || len(right) == 0 {
		return nil
	}
	// right sorted by the time the join looks at: for FOLLOWEDBY its earliest last_observed, which
	// must be no earlier than the left's latest first_observed; for AND its latest first_observed.
	key := func(b *binding) time.Time {
		if followedBy {
			return b.minLast
		}
		return b.maxFirst
	}
	r := slices.Clone(right)
	slices.SortStableFunc(r, func(a, b binding) int { return key(&a).Compare(key(&b)) })
	m.sortSteps(len(r))
	top := newTopK(m.lim.MaxBindings)
	fan, scan := m.lim.Fanout, 4*m.lim.Fanout
	for li := range left {
		a := &left[li]
		pos, _ := slices.BinarySearchFunc(r, a.maxFirst, func(b binding, t time.Time) int { return key(&b).Compare(t) })
		m.steps += int64(bits.Len(uint(len(r))))
		taken, scanned := 0, 0
		try := func(k int) {
			scanned++
			if m.compatible(a, &r[k]) {
				top.push(merge(a, &r[k]))
				taken++
			}
		}
		if followedBy {
			for k := pos; k < len(r) && taken < fan && scanned < scan; k++ {
				try(k)
			}
			continue
		}
		// AND: walk outwards from pos, nearest first.
		lo, hi := pos-1, pos
		for taken < fan && scanned < scan && (lo >= 0 || hi < len(r)) {
			if hi < len(r) && (lo < 0 || r[hi].maxFirst.Sub(a.maxFirst) <= a.maxFirst.Sub(r[lo].maxFirst)) {
				try(hi)
				hi++
			} else {
				try(lo)
				lo--
			}
		}
	}
	m.steps += top.pushes
	return top.sorted()
}

// repeat finds combinations of n bindings on different observations (REPEATS n TIMES).
func (m *matcher) repeat(bs []binding, n int) ([]binding, error) {
	if n == 1 || len(bs) == 0 {
		return bs, nil
	}
	// Nothing can repeat more often than there are observations.
	var total int64
	seen := map[int32]bool{}
	single := true
	for i := range bs {
		if len(bs[i].units) != 1 || bs[i].units[0].n != 1 {
			single = false
		}
		for _, u := range bs[i].units {
			if !seen[u.obs] {
				seen[u.obs] = true
				total += int64(m.caps[u.obs])
			}
		}
	}
	m.steps += int64(len(bs))
	if int64(n) > total {
		return nil, nil
	}
	if single {
		return m.repeatSingles(bs, n), nil
	}
	return m.repeatGreedy(bs, n)
}

// repeatSingles handles bindings of one observation each (what [ ] and OR of [ ] give): sorted by
// time, every run of consecutive observations that together count n is a candidate, and the
// MaxBindings runs of least span are kept. Runs of consecutive observations are the tightest in
// time, which is what WITHIN and FOLLOWEDBY need.
func (m *matcher) repeatSingles(bs []binding, n int) []binding {
	// One entry per observation (an observation may match several OR branches).
	type ent struct {
		obs         int32
		first, last time.Time
	}
	es := make([]ent, 0, len(bs))
	dup := map[int32]bool{}
	for _, b := range bs {
		o := b.units[0].obs
		if !dup[o] {
			dup[o] = true
			es = append(es, ent{o, b.maxFirst, b.minLast})
		}
	}
	slices.SortStableFunc(es, func(a, b ent) int { return a.first.Compare(b.first) })
	m.sortSteps(len(es))
	// Two pointers over the sorted observations; a deque keeps the minimum last_observed.
	type cand struct {
		i, j int // es[i..j] inclusive
		span time.Duration
	}
	top := newTopKFunc(m.lim.MaxBindings, func(a, b cand) bool { return a.span > b.span || a.span == b.span && a.i > b.i })
	var dq []int
	sum, j := int64(0), -1
	for i := range es {
		for sum < int64(n) && j+1 < len(es) {
			j++
			sum += int64(m.caps[es[j].obs])
			for len(dq) > 0 && !es[dq[len(dq)-1]].last.Before(es[j].last) {
				dq = dq[:len(dq)-1]
			}
			dq = append(dq, j)
			m.steps++
		}
		if sum < int64(n) {
			break
		}
		for dq[0] < i {
			dq = dq[1:]
		}
		top.push(cand{i: i, j: j, span: es[j].first.Sub(es[dq[0]].last)})
		m.steps++
		sum -= int64(m.caps[es[i].obs])
	}
	m.steps += top.pushes
	cands := top.sorted()
	out := make([]binding, 0, len(cands))
	for _, c := range cands {
		b := binding{maxFirst: es[c.j].first, minLast: es[c.i].last}
		left := int32(n)
		for k := c.i; k <= c.j && left > 0; k++ {
			take := min(m.caps[es[k].obs], left)
			left -= take
			b.units = append(b.units, unit{obs: es[k].obs, n: take})
			if es[k].last.Before(b.minLast) {
				b.minLast = es[k].last
			}
			if es[k].first.After(b.maxFirst) {
				b.maxFirst = es[k].first
			}
			m.steps++
		}
		slices.SortFunc(b.units, func(x, y unit) int { return int(x.obs - y.obs) })
		out = append(out, b)
	}
	return out
}

// repeatGreedy handles compound bindings: sorted by time, from each starting binding it adds the
// next compatible bindings (each as often as the observations allow) until there are n. At most
// MaxBindings starting points are tried, and each looks at no more than max(4*n*Fanout, 256)
// bindings.
func (m *matcher) repeatGreedy(bs []binding, n int) ([]binding, error) {
	s := slices.Clone(bs)
	slices.SortStableFunc(s, func(a, b binding) int { return a.maxFirst.Compare(b.maxFirst) })
	m.sortSteps(len(s))
	top := newTopK(m.lim.MaxBindings)
	touched := []int32{}
	for i := 0; i < len(s) && i < m.lim.MaxBindings; i++ {
		count, scanned := 0, 0
		acc := binding{maxFirst: s[i].maxFirst, minLast: s[i].minLast}
		for j := i; j < len(s) && count < n && scanned < max(4*n*m.lim.Fanout, 256); j++ {
			scanned++
			for count < n && m.fits(&s[j]) {
				for _, u := range s[j].units {
					if m.used[u.obs] == 0 {
						touched = append(touched, u.obs)
					}
					m.used[u.obs] += u.n
				}
				if s[j].maxFirst.After(acc.maxFirst) {
					acc.maxFirst = s[j].maxFirst
				}
				if s[j].minLast.Before(acc.minLast) {
					acc.minLast = s[j].minLast
				}
				count++
			}
		}
		if count == n {
			acc.units = make([]unit, 0, len(touched))
			for _, o := range touched {
				acc.units = append(acc.units, unit{obs: o, n: m.used[o]})
			}
			slices.SortFunc(acc.units, func(x, y unit) int { return int(x.obs - y.obs) })
			top.push(acc)
		}
		for _, o := range touched {
			m.used[o] = 0
		}
		touched = touched[:0]
		if err := m.check(); err != nil {
			return nil, err
		}
	}
	m.steps += top.pushes
	return top.sorted(), nil
}

// fits reports whether b can be added to the combination in m.used.
func (m *matcher) fits(b *binding) bool {
	for _, u := range b.units {
		m.steps++
		if m.used[u.obs]+u.n > m.caps[u.obs] {
			return false
		}
	}
	return true
}

// topK keeps the k best items pushed into it; worse(a, b) says a is worse than b.
type topK[T any] struct {
	k      int
	items  []T
	worse  func(a, b T) bool
	pushes int64
}

func newTopK(k int) *topK[binding] {
	return newTopKFunc(k, func(a, b binding) bool { return a.span() > b.span() })
}

func newTopKFunc[T any](k int, worse func(a, b T) bool) *topK[T] {
	return &topK[T]{k: k, worse: worse}
}

func (t *topK[T]) Len() int           { return len(t.items) }
func (t *topK[T]) Less(i, j int) bool { return t.worse(t.items[i], t.items[j]) } // worst on top
func (t *topK[T]) Swap(i, j int)      { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK[T]) Push(x any)         { t.items = append(t.items, x.(T)) }
func (t *topK[T]) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

func (t *topK[T]) push(x T) {
	t.pushes++
	if len(t.items) < t.k {
		heap.Push(t, x)
		return
	}
	if t.worse(t.items[0], x) {
		t.items[0] = x
		heap.Fix(t, 0)
	}
}

// sorted returns the kept items, best first.
func (t *topK[T]) sorted() []T {
	out := slices.Clone(t.items)
	slices.SortStableFunc(out, func(a, b T) int {
		switch {
		case t.worse(b, a):
			return -1
		case t.worse(a, b):
			return 1
		}
		return 0
	})
	return out
}
