package warninglist

import (
	"cmp"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Set is an index over warninglists. It is immutable once built and safe for concurrent use.
type Set struct {
	lists   []*List
	applies []uint32 // per list: bit c set when the list applies to values of class c

	cidr4, cidr6 prefixIndex
	hosts        keyIndex[string]
	strs         keyIndex[string] // exact
	strsFold     keyIndex[string] // lower-cased
	subs         []keyed          // lower-cased substrings
	regexes      []regexEntry
	nodes        []node // chains of refs shared by every keyIndex
}

// ref names one entry of one list.
type ref struct{ list, entry int32 }

// node is one link of a chain of refs that share a key; next is -1 at the end.
type node struct {
	ref
	next int32
}

// keyIndex maps a key to the head of its chain in Set.nodes.
type keyIndex[K comparable] map[K]int32

type keyed struct {
	key string
	ref
}

type regexEntry struct {
	re *regexp.Regexp
	ref
}

// prefixIndex holds CIDR blocks of one address family: a map per prefix length in use.
type prefixIndex struct {
	lengths []int // distinct prefix lengths, ascending
	blocks  keyIndex[netip.Prefix]
}

// NewSet indexes lists. Entries a list's type cannot use are recorded in the list's Skipped and
// SkippedCount (the lists are modified).
func NewSet(lists ...*List) *Set {
	s := &Set{
		lists:    lists,
		applies:  make([]uint32, len(lists)),
		cidr4:    prefixIndex{blocks: keyIndex[netip.Prefix]{}},
		cidr6:    prefixIndex{blocks: keyIndex[netip.Prefix]{}},
		hosts:    keyIndex[string]{},
		strs:     keyIndex[string]{},
		strsFold: keyIndex[string]{},
	}
	for li, l := range lists {
		l.Skipped, l.SkippedCount = nil, 0
		s.applies[li] = appliesMask(l.MatchingAttributes)
		for ei, e := range l.Entries {
			s.add(l, ref{int32(li), int32(ei)}, e)
		}
	}
	slices.Sort(s.cidr4.lengths)
	slices.Sort(s.cidr6.lengths)
	return s
}

func appliesMask(attrs []string) uint32 {
	if len(attrs) == 0 {
		return 1<<numClasses - 1
	}
	var m uint32
	for c := classOther + 1; c < numClasses; c++ {
		for _, t := range misptypes[c] {
			if slices.Contains(attrs, t) {
				m |= 1 << c
				break
			}
		}
	}
	return m
}

func (s *Set) add(l *List, r ref, e string) {
	if strings.TrimSpace(e) == "" {
		l.skip(e, "empty entry")
		return
	}
	switch l.Type {
	case TypeCIDR:
		p, err := parseBlock(e)
		if err != nil {
			l.skip(e, "not an IP address or CIDR block")
			return
		}
		idx := &s.cidr4
		if p.Addr().Is6() {
			idx = &s.cidr6
		}
		if !slices.Contains(idx.lengths, p.Bits()) {
			idx.lengths = append(idx.lengths, p.Bits())
		}
		link(s, idx.blocks, p, r)
	case TypeHostname:
		h := normHost(e)
		if h == "" {
			l.skip(e, "not a host name")
			return
		}
		link(s, s.hosts, h, r)
	case TypeString:
		link(s, s.strs, e, r)
		link(s, s.strsFold, lowerASCII(e), r)
	case TypeSubstring:
		s.subs = append(s.subs, keyed{lowerASCII(e), r})
	case TypeRegex:
		re, err := compileRegex(e)
		if err != nil {
			l.skip(e, err.Error())
			return
		}
		s.regexes = append(s.regexes, regexEntry{re, r})
	}
}

func link[K comparable](s *Set, idx keyIndex[K], k K, r ref) {
	head, ok := idx[k]
	if !ok {
		head = -1
	}
	s.nodes = append(s.nodes, node{r, head})
	idx[k] = int32(len(s.nodes) - 1)
}

// parseBlock parses an address (a /32 or /128 block) or a CIDR block, masking host bits.
func parseBlock(e string) (netip.Prefix, error) {
	e = strings.TrimSpace(e)
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return netip.Prefix{}, err
		}
		return unmap(p).Masked(), nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmap turns an IPv4-mapped IPv6 block (::ffff:a.b.c.d/n, n ≥ 96) into its IPv4 block.
func unmap(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// compileRegex compiles a regex entry, accepting the MISP form "/pattern/flags".
func compileRegex(e string) (*regexp.Regexp, error) {
	pat := e
	if len(e) >= 2 && e[0] == '/' {
		end := strings.LastIndexByte(e, '/')
		if end > 0 {
			flags := e[end+1:]
			pat = e[1:end]
			for _, f := range flags {
				if f != 'i' {
					return nil, &regexError{"flag " + string(f) + " is not supported"}
				}
			}
			if flags != "" {
				pat = "(?i)" + pat
			}
		}
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, &regexError{"not a Go (RE2) regular expression: " + err.Error()}
	}
	return re, nil
}

type regexError struct{ msg string }

func (e *regexError) Error() string { return e.msg }

// Lists returns the lists of the set, in the order they were given (Load: lexical order of their path).
func (s *Set) Lists() []*List { return slices.Clone(s.lists) }

// Len returns the number of lists.
func (s *Set) Len() int { return len(s.lists) }

// Check returns the warninglist entries that value, of the given kind (see the package doc), is on,
// ordered by list then entry. It returns nil, without allocating, when there are none.
func (s *Set) Check(kind, value string) []Hit {
	if s == nil {
		return nil
	}
	var c checker
	c.s = s
	if first, second, ok := compound(kind); ok {
		if v1, v2, ok := strings.Cut(value, "|"); ok {
			c.applyKind = kind
			c.check(classOf(first), v1)
			c.check(classOf(second), v2)
			return c.result()
		}
	}
	cl := classOf(kind)
	if cl == classOther {
		c.applyKind = kind
	}
	c.check(cl, value)
	return c.result()
}

// checker gathers the hits of one Check.
type checker struct {
	s *Set
	// applyKind, when set, is the MISP attribute type that decides which lists apply (compound and
	// unknown types); otherwise the class of the value decides.
	applyKind string
	cl        class
	hits      []ref
}

func (c *checker) applies(li int32) bool {
	if c.applyKind != "" {
		attrs := c.s.lists[li].MatchingAttributes
		return len(attrs) == 0 || slices.Contains(attrs, c.applyKind)
	}
	return c.s.applies[li]&(1<<c.cl) != 0
}

func (c *checker) chain(head int32, ok bool) {
	if !ok {
		return
	}
	for i := head; i >= 0; i = c.s.nodes[i].next {
		if r := c.s.nodes[i].ref; c.applies(r.list) {
			c.hits = append(c.hits, r)
		}
	}
}

func (c *checker) check(cl class, value string) {
	c.cl = cl
	s := c.s
	value = strings.TrimSpace(value)
	if value == "" {
		return
	}
	switch cl {
	case classIP:
		c.block(value)
	case classDomain:
		c.host(value)
	case classURL:
		if h := hostOfURL(value); h != "" {
			if looksLikeIP(h) {
				c.block(h)
			} else {
				c.host(h)
			}
		}
	case classEmail:
		if at := strings.LastIndexByte(value, '@'); at >= 0 {
			c.host(value[at+1:])
		}
	}
	// Whole-value lists: string, substring, regex.
	if cl.foldCase() {
		h, ok := s.strsFold[lowerASCII(value)]
		c.chain(h, ok)
	} else {
		h, ok := s.strs[value]
		c.chain(h, ok)
	}
	if len(s.subs) > 0 {
		low := lowerASCII(value)
		for _, e := range s.subs {
			if strings.Contains(low, e.key) && c.applies(e.list) {
				c.hits = append(c.hits, e.ref)
			}
		}
	}
	for _, e := range s.regexes {
		if c.applies(e.list) && e.re.MatchString(value) {
			c.hits = append(c.hits, e.ref)
		}
	}
}

// block looks an address or CIDR block up in the cidr lists.
func (c *checker) block(value string) {
	p, err := parseBlock(value)
	if err != nil {
		return
	}
	idx := &c.s.cidr4
	if p.Addr().Is6() {
		idx = &c.s.cidr6
	}
	for _, bits := range idx.lengths {
		if bits > p.Bits() {
			break
		}
		q, err := p.Addr().Prefix(bits)
		if err != nil {
			continue
		}
		h, ok := idx.blocks[q]
		c.chain(h, ok)
	}
}

// looksLikeIP reports whether a URL host is an IP literal rather than a name: an IPv6 address (it
// has a colon) or only digits and dots. It saves building a parse error for every name.
func looksLikeIP(h string) bool {
	if strings.IndexByte(h, ':') >= 0 {
		return true
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// host looks a host name and its parent domains up in the hostname lists.
func (c *checker) host(h string) {
	if len(c.s.hosts) == 0 {
		return
	}
	h = normHost(h)
	for h != "" {
		head, ok := c.s.hosts[h]
		c.chain(head, ok)
		dot := strings.IndexByte(h, '.')
		if dot < 0 {
			break
		}
		h = h[dot+1:]
	}
}

func (c *checker) result() []Hit {
	if len(c.hits) == 0 {
		return nil
	}
	slices.SortFunc(c.hits, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.list, b.list), cmp.Compare(a.entry, b.entry))
	})
	c.hits = slices.Compact(c.hits)
	out := make([]Hit, len(c.hits))
	for i, r := range c.hits {
		l := c.s.lists[r.list]
		out[i] = Hit{ListName: l.Name, Source: l.Source, Type: l.Type, Entry: l.Entries[r.entry]}
	}
	return out
}
