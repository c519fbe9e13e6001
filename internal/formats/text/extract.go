package text

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits bound one extraction.
type Limits struct {
	MaxBytes      int64 // size of the input; more is an error (ErrTooLarge)
	MaxLineBytes  int   // length of one line; a longer line is skipped, with a Skip saying so
	MaxIndicators int   // distinct values kept; the others are counted in Extraction.Dropped
	MaxSkipped    int   // skipped candidates listed; the others are counted in Extraction.SkippedTotal
}

// DefaultLimits suit written reports and feeds of a few hundred thousand lines.
var DefaultLimits = Limits{MaxBytes: 32 << 20, MaxLineBytes: 64 << 10, MaxIndicators: 200_000, MaxSkipped: 1000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultLimits.MaxLineBytes
	}
	if l.MaxIndicators <= 0 {
		l.MaxIndicators = DefaultLimits.MaxIndicators
	}
	if l.MaxSkipped <= 0 {
		l.MaxSkipped = DefaultLimits.MaxSkipped
	}
	return l
}

// ErrTooLarge is wrapped by the error of an input over Limits.MaxBytes.
var ErrTooLarge = errors.New("input too large")

// Match is one distinct extracted value.
type Match struct {
	Kind     Kind
	Value    string // normalised (see Validate): Validate(Kind, Value) gives Value back
	Original string // the text of the first occurrence, as written (defanged or not)
	Line     int    // of the first occurrence, from 1
	Column   int    // of the first occurrence, from 1, in characters (runes); in tables, csv's column
	Field    int    // in tables, the column's number from 1; 0 in text and lists
	Defanged bool   // the first occurrence was written defanged
	Count    int    // occurrences in the input
}

// Skip is a candidate that was not extracted, and why. Analysts review these in the note.
type Skip struct {
	Text   string // as written
	Line   int
	Column int
	Field  int // in tables, the column's number from 1; 0 in text and lists
	Reason string
}

// Extraction is the result of reading one text, list or table.
type Extraction struct {
	Matches      []Match // in order of first occurrence
	Skipped      []Skip  // in input order, at most Limits.MaxSkipped, one per distinct text
	SkippedTotal int     // every skip, listed or not
	Dropped      int     // distinct values not kept because Limits.MaxIndicators was reached
	Title        string  // the first heading ("# ..." in Markdown), else the first non-empty line
	Lines        int
	Bytes        int64
	SHA256       [32]byte // of the input bytes
}

// Truncated reports whether values were dropped because of Limits.MaxIndicators.
func (e *Extraction) Truncated() bool { return e.Dropped > 0 }

type matchKey struct {
	kind  Kind
	value string
}

// collector accumulates matches and skips, deduplicated, within limits.
type collector struct {
	lim       Limits
	ex        *Extraction
	seen      map[matchKey]int
	skipsSeen map[string]bool
	heading   string
	first     string
}

func newCollector(lim Limits) *collector {
	return &collector{lim: lim, ex: &Extraction{}, seen: map[matchKey]int{}, skipsSeen: map[string]bool{}}
}

func (c *collector) add(m Match) {
	k := matchKey{m.Kind, m.Value}
	if i, ok := c.seen[k]; ok {
		c.ex.Matches[i].Count++
		return
	}
	if len(c.ex.Matches) >= c.lim.MaxIndicators {
		c.ex.Dropped++
		return
	}
	m.Count = 1
	c.seen[k] = len(c.ex.Matches)
	c.ex.Matches = append(c.ex.Matches, m)
}

func (c *collector) skip(s Skip) {
	c.ex.SkippedTotal++
	key := s.Text + "\x00" + s.Reason
	if len(c.ex.Skipped) >= c.lim.MaxSkipped || c.skipsSeen[key] {
		return
	}
	c.skipsSeen[key] = true
	c.ex.Skipped = append(c.ex.Skipped, s)
}

// title records the first heading and the first non-empty line.
func (c *collector) title(line []byte) {
	if c.heading != "" {
		return
	}
	b := bytes.TrimSpace(line)
	if len(b) == 0 || c.first != "" && b[0] != '#' {
		return
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if h := strings.TrimLeft(s, "#"); len(h) < len(s) && len(s)-len(h) <= 6 && (h == "" || h[0] == ' ' || h[0] == '\t') {
		if h = strings.TrimSpace(strings.TrimRight(h, "# ")); h != "" {
			c.heading = clip(h, 200)
		}
		return
	}
	if c.first == "" {
		c.first = clip(s, 200)
	}
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func (c *collector) finish() *Extraction {
	c.ex.Title = c.heading
	if c.ex.Title == "" {
		c.ex.Title = c.first
	}
	return c.ex
}

// meter counts and hashes the bytes read through it, and fails past a limit.
type meter struct {
	r   io.Reader
	h   hash.Hash
	n   int64
	max int64
}

func newMeter(r io.Reader, max int64) *meter { return &meter{r: r, h: sha256.New(), max: max} }

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if _, herr := m.h.Write(p[:n]); herr != nil {
		return n, herr
	}
	if m.n > m.max {
		return n, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, m.max)
	}
	return n, err
}

// sum records the size and digest of what was read.
func (m *meter) sum(ex *Extraction) {
	ex.Bytes = m.n
	copy(ex.SHA256[:], m.h.Sum(nil))
}

// lineReader reads lines within limits.
type lineReader struct {
	m       *meter
	br      *bufio.Reader
	tooLong bool // the last line was longer than the buffer; its start is returned, the rest discarded
	head    []byte
	lineNo  int
}

func newLineReader(r io.Reader, lim Limits) *lineReader {
	l := &lineReader{m: newMeter(r, lim.MaxBytes), head: make([]byte, 0, 64)}
	l.br = bufio.NewReaderSize(l.m, lim.MaxLineBytes)
	return l
}

// next returns the next line without its line ending, or io.EOF.
func (l *lineReader) next() ([]byte, error) {
	l.tooLong = false
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Keep the start of the line (ReadSlice's buffer is overwritten) and discard the rest.
		l.tooLong = true
		line = append(l.head[:0], line[:min(len(line), cap(l.head))]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.br.ReadSlice('\n')
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(line) == 0 && err != nil {
		return nil, io.EOF
	}
	l.lineNo++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, nil
}

// Extract reads a written report (plain text or Markdown, UTF-8) and extracts the indicators in it;
// see the package documentation for what it recognises. It fails only when the input cannot be read,
// is larger than lim.MaxBytes, or ctx is done. Zero limits take DefaultLimits' values.
func Extract(ctx context.Context, r io.Reader, lim Limits) (*Extraction, error) {
	lim = lim.withDefaults()
	lr := newLineReader(r, lim)
	c := newCollector(lim)
	var s scanner
	for {
		if lr.lineNo%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.lineNo+1, err)
		}
		if lr.tooLong {
			c.skip(longLine(line, lr.lineNo, lim))
			continue
		}
		c.title(line)
		s.scan(c, line, lr.lineNo)
	}
	ex := c.finish()
	ex.Lines = lr.lineNo
	lr.m.sum(ex)
	return ex, nil
}

func longLine(line []byte, n int, lim Limits) Skip {
	return Skip{Text: clip(strings.ToValidUTF8(string(line[:min(len(line), 40)]), "\uFFFD"), 40) + "…", Line: n, Column: 1,
		Reason: fmt.Sprintf("line longer than %d bytes, not read", lim.MaxLineBytes)}
}

// span is a range of the refanged line.
type span struct{ s, e int }

// scanner finds the candidates of one line. It is reused from line to line.
type scanner struct {
	rf       refanged
	line     []byte
	taken    []span
	n        int
	c        *collector
	pending  []pending
	lineSeen map[matchKey]int // index in pending of the values first seen on this line
}

// pending is a match (kind set) or a skip (reason set) of the current line, in the refanged line's
// coordinates. They are reported in the order of the text, and their column computed then, in one
// pass over the line.
type pending struct {
	a, b   int
	kind   Kind
	value  string
	reason string
	count  int
}

func (s *scanner) scan(c *collector, line []byte, lineNo int) {
	s.c, s.line, s.n, s.taken = c, line, lineNo, s.taken[:0]
	if s.lineSeen == nil {
		s.lineSeen = map[matchKey]int{}
	}
	refangLine(line, &s.rf)
	t := s.rf.text
	s.urls(t)
	s.emails(t)
	s.ipv6s(t) // before ipv4s: "::ffff:192.0.2.1" is one IPv6 address
	s.ipv4s(t)
	s.domains(t)
	s.hashes(t)
	s.ids(t)
	slices.SortStableFunc(s.pending, func(x, y pending) int { return cmp.Compare(x.a, y.a) })
	col, at := 1, 0 // the column of byte at of the original line
	for _, p := range s.pending {
		from, to := int(s.rf.start[p.a]), int(s.rf.end[p.b-1])
		col += utf8.RuneCount(line[at:from])
		at = from
		orig := strings.ToValidUTF8(string(line[from:to]), "\uFFFD")
		if p.reason != "" {
			c.skip(Skip{Text: orig, Line: lineNo, Column: col, Reason: p.reason})
			continue
		}
		c.add(Match{Kind: p.kind, Value: p.value, Original: orig, Line: lineNo, Column: col, Defanged: s.fanged(p.a, p.b)})
		if p.count > 1 {
			c.ex.Matches[c.seen[matchKey{p.kind, p.value}]].Count += p.count - 1
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	clear(s.lineSeen)
}

// match records a value found at t[a:b]. A value already seen is only counted.
func (s *scanner) match(k Kind, value string, a, b int) {
	key := matchKey{k, value}
	if i, ok := s.c.seen[key]; ok {
		s.c.ex.Matches[i].Count++
		return
	}
	if i, ok := s.lineSeen[key]; ok {
		s.pending[i].count++
		return
	}
	s.lineSeen[key] = len(s.pending)
	s.pending = append(s.pending, pending{a: a, b: b, kind: k, value: value, count: 1})
}

// skip records a candidate at t[a:b] that is not extracted.
func (s *scanner) skip(a, b int, reason string) {
	if len(s.c.ex.Skipped) >= s.c.lim.MaxSkipped {
		s.c.ex.SkippedTotal++
		return
	}
	s.pending = append(s.pending, pending{a: a, b: b, reason: reason})
}

func (s *scanner) fanged(a, b int) bool {
	for _, f := range s.rf.fanged[a:b] {
		if f {
			return true
		}
	}
	return false
}

// isTaken reports whether t[a:b] overlaps a span already taken. Spans do not overlap each other and
// are kept sorted, so one binary search finds the only candidate.
func (s *scanner) isTaken(a, b int) bool {
	i, _ := slices.BinarySearchFunc(s.taken, a, func(sp span, a int) int { return cmp.Compare(sp.e, a+1) })
	return i < len(s.taken) && s.taken[i].s < b
}

// take marks t[a:b] as taken.
func (s *scanner) take(a, b int) {
	i, _ := slices.BinarySearchFunc(s.taken, a, func(sp span, a int) int { return cmp.Compare(sp.s, a) })
	s.taken = slices.Insert(s.taken, i, span{a, b})
}

// prevRune and nextRune return the character before t[i] and at t[i] (utf8.RuneError at the ends).
func prevRune(t []byte, i int) rune {
	if i <= 0 {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeLastRune(t[:i])
	return r
}

func nextRune(t []byte, i int) rune {
	if i >= len(t) {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeRune(t[i:])
	return r
}

// isWordRune reports whether r continues a word: ASCII letters, digits and '_', and letters and digits
// of alphabetic scripts. Ideographs, kana and hangul are not: Japanese, Chinese and Korean prose puts
// no space around an indicator, so they are boundaries.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isWordByte(byte(r))
	}
	if r == utf8.RuneError || r >= 0x2E80 {
		return false
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// urls finds scheme://... URLs.
func (s *scanner) urls(t []byte) {
	for off := 0; ; {
		k := bytes.Index(t[off:], []byte("://"))
		if k < 0 {
			return
		}
		k += off
		off = k + 3
		a := k
		for a > 0 && isAlnum(t[a-1]) {
			a--
		}
		if a == k || isWordRune(prevRune(t, a)) {
			continue
		}
		scheme := strings.ToLower(string(t[a:k]))
		known := false
		for _, sc := range urlSchemes {
			known = known || sc == scheme
		}
		if !known {
			continue
		}
		b := k + 3
		for b < len(t) {
			if c := t[b]; c < utf8.RuneSelf {
				if urlStop(c) {
					break
				}
				b++
				continue
			}
			// Ideographs, kana and full-width forms end a URL: CJK prose puts no space after it.
			r, size := utf8.DecodeRune(t[b:])
			if r == utf8.RuneError || r >= 0x2E80 || unicode.IsSpace(r) || !unicode.IsPrint(r) {
				break
			}
			b += size
		}
		b = trimURLTail(t, a, b)
		off = max(off, b)
		if b <= k+3 {
			continue
		}
		if u, err := validURL(string(t[a:b])); err == nil {
			s.match(KindURL, u, a, b)
		} else {
			s.skip(a, b, err.Error())
		}
		s.take(a, b)
	}
}

func urlStop(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '`' || c == '|'
}

// trimURLTail drops the punctuation that ends a sentence or closes a bracket around a URL.
func trimURLTail(t []byte, a, b int) int {
	quoted := a > 0 && t[a-1] == '\''
	// Brackets are counted once; trimming a closing one updates its count.
	var count [256]int
	for _, c := range t[a:b] {
		switch c {
		case '(', ')', '[', ']', '{', '}':
			count[c]++
		}
	}
	for b > a {
		switch c := t[b-1]; c {
		case '.', ',', ';', ':', '!', '?', '*':
			b--
			continue
		case '\'':
			if quoted {
				b--
				continue
			}
		case ')', ']', '}':
			open := byte('(')
			if c == ']' {
				open = '['
			} else if c == '}' {
				open = '{'
			}
			if count[open] < count[c] {
				count[c]--
				b--
				continue
			}
		}
		// A multi-byte character that is not a letter (CJK punctuation "。", "、", "）") ends the URL.
		if r, size := utf8.DecodeLastRune(t[a:b]); r >= utf8.RuneSelf && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			b -= size
			continue
		}
		return b
	}
	return b
}

// emails finds local@domain.
func (s *scanner) emails(t []byte) {
	for off := 0; ; {
		k := bytes.IndexByte(t[off:], '@')
		if k < 0 {
			return
		}
		k += off
		off = k + 1
		a := k
		for a > 0 && isLocalByte(t[a-1]) {
			a--
		}
		for a < k && t[a] == '.' {
			a++
		}
		b := k + 1
		for b < len(t) && (isAlnum(t[b]) || t[b] == '.' || t[b] == '-') {
			b++
		}
		for b > k+1 && (t[b-1] == '.' || t[b-1] == '-') {
			b--
		}
		if a == k || b == k+1 || bytes.IndexByte(t[k+1:b], '.') < 0 || s.isTaken(a, b) || isWordRune(nextRune(t, b)) {
			continue
		}
		if e, err := validEmail(string(t[a:b])); err == nil {
			s.match(KindEmail, e, a, b)
			s.take(a, b)
			off = b
		} else if s.fanged(a, b) {
			s.skip(a, b, err.Error())
		}
	}
}

// versionWords, when they come just before a dotted quad, make it a version number.
var versionWords = []string{"version", "ver", "ver.", "v", "v.", "build", "release", "firmware", "rev", "revision",
	"バージョン", "版"}

// ipv4s finds dotted quads, with an optional /prefix.
func (s *scanner) ipv4s(t []byte) {
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) || i > 0 && (t[i-1] == '.' || isDigit(t[i-1])) {
			continue
		}
		b := i
		for b < len(t) && (isDigit(t[b]) || t[b] == '.') {
			b++
		}
		end := b
		for end > i && t[end-1] == '.' {
			end--
		}
		cand := string(t[i:end])
		next := i
		i = b - 1
		if strings.Count(cand, ".") != 3 || !quadShape(cand) {
			continue // a number, a date, an OID, a version of another shape
		}
		// "v1.2.3.4" and "version 1.2.3.4" are versions.
		if r := prevRune(t, next); r == 'v' || r == 'V' {
			if !isWordRune(prevRune(t, next-1)) {
				s.skip(next-1, end, "looks like a version number, not an IPv4 address")
			}
			continue
		}
		if isWordRune(prevRune(t, next)) || isWordRune(nextRune(t, b)) {
			continue
		}
		if s.isTaken(next, end) {
			continue
		}
		if w := wordBefore(t, next); w != "" {
			for _, v := range versionWords {
				if strings.EqualFold(w, v) {
					s.skip(next, end, "follows "+w+": looks like a version number, not an IPv4 address")
					w = ""
					break
				}
			}
			if w == "" {
				continue
			}
		}
		a, err := netip.ParseAddr(cand)
		if err != nil {
			s.skip(next, end, "not a valid IPv4 address (a part over 255, or a leading zero)")
			continue
		}
		if p, pe, ok := prefixAfter(t, end, 32); ok {
			if p == 32 {
				s.match(KindIPv4, a.String(), next, pe)
			} else {
				pf := netip.PrefixFrom(a, p)
				s.match(KindIPv4CIDR, pf.Masked().String(), next, pe)
			}
			s.take(next, pe)
			i = pe - 1
			continue
		}
		s.match(KindIPv4, a.String(), next, end)
		s.take(next, end)
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// quadShape checks d{1,3}.d{1,3}.d{1,3}.d{1,3}.
func quadShape(s string) bool {
	for p := range strings.SplitSeq(s, ".") {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
	}
	return true
}

// prefixAfter reads "/NN" at t[i:] (NN ≤ maxBits, followed by no word character).
func prefixAfter(t []byte, i, maxBits int) (bits, end int, ok bool) {
	if i >= len(t) || t[i] != '/' {
		return 0, 0, false
	}
	j := i + 1
	for j < len(t) && isDigit(t[j]) && j-i <= 3 {
		j++
	}
	if j == i+1 || j-i > 4 || isWordRune(nextRune(t, j)) || j < len(t) && t[j] == '/' {
		return 0, 0, false
	}
	n := 0
	for _, c := range t[i+1 : j] {
		n = n*10 + int(c-'0')
	}
	if n > maxBits || t[i+1] == '0' && j-i > 2 {
		return 0, 0, false
	}
	return n, j, true
}

// wordBefore returns the word just before t[i], across spaces and a colon ("version: 1.2.3.4",
// "バージョン10.2.9.1").
func wordBefore(t []byte, i int) string {
	j := i
	for j > 0 && (t[j-1] == ' ' || t[j-1] == '\t' || t[j-1] == ':') {
		j--
	}
	k := j
	for k > 0 {
		r, size := utf8.DecodeLastRune(t[:k])
		if r != '.' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		k -= size
	}
	return string(t[k:j])
}

// ipv6s finds IPv6 addresses (with "::" or eight groups), with an optional /prefix.
func (s *scanner) ipv6s(t []byte) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !isHexByte(c) && c != ':' {
			continue
		}
		if i > 0 {
			if p := t[i-1]; isHexByte(p) || p == ':' || p == '.' || isWordRune(prevRune(t, i)) {
				continue
			}
		}
		b := i
		colons := 0
		for b < len(t) && (isHexByte(t[b]) || t[b] == ':' || t[b] == '.') {
			if t[b] == ':' {
				colons++
			}
			b++
		}
		start := i
		i = b - 1
		if colons < 2 {
			continue
		}
		end := b
		for end > start && t[end-1] == '.' {
			end--
		}
		if end-start >= 2 && t[end-1] == ':' && t[end-2] != ':' {
			end-- // "... fe80::1:" the colon ends the sentence
		}
		if end == b && isWordRune(nextRune(t, end)) || end < len(t) && t[end] == '%' {
			continue
		}
		cand := string(t[start:end])
		if !strings.Contains(cand, "::") && strings.Count(cand, ":") != 7 {
			continue
		}
		if s.isTaken(start, end) {
			continue
		}
		a, err := netip.ParseAddr(cand)
		if err != nil || !a.Is6() {
			continue
		}
		if p, pe, ok := prefixAfter(t, end, 128); ok {
			if p == 128 {
				s.match(KindIPv6, a.String(), start, pe)
			} else {
				s.match(KindIPv6CIDR, netip.PrefixFrom(a, p).Masked().String(), start, pe)
			}
			s.take(start, pe)
			i = pe - 1
			continue
		}
		s.match(KindIPv6, a.String(), start, end)
		s.take(start, end)
	}
}

// fileExtensions are common file name extensions that are not domain suffixes, to say so in skips.
var fileExtensions = map[string]bool{
	"exe": true, "dll": true, "sys": true, "scr": true, "bat": true, "cmd": true, "ps1": true, "psm1": true,
	"vbs": true, "vbe": true, "js": true, "jse": true, "wsf": true, "hta": true, "lnk": true, "msi": true, "jar": true,
	"pdf": true, "doc": true, "docx": true, "docm": true, "xls": true, "xlsx": true, "xlsm": true, "ppt": true, "pptx": true,
	"rtf": true, "txt": true, "csv": true, "log": true, "tmp": true, "dat": true, "bin": true, "iso": true, "img": true,
	"vhd": true, "rar": true, "7z": true, "gz": true, "tgz": true, "tar": true, "html": true, "htm": true, "php": true,
	"aspx": true, "jsp": true, "json": true, "xml": true, "yml": true, "yaml": true, "ini": true, "cfg": true, "conf": true,
	"png": true, "jpg": true, "jpeg": true, "gif": true, "elf": true, "apk": true, "dmg": true, "pkg": true, "deb": true,
	"rpm": true, "one": true, "chm": true, "cpl": true, "ocx": true, "drv": true, "db": true, "sqlite": true, "c": true, "h": true,
}

// ambiguousSuffixes are domain suffixes that are also common file name extensions: "update.zip",
// "install.sh", "run.py", "README.md" are file names far more often than domains in reports. A
// name.ext of two labels with one of them is extracted only when written defanged.
var ambiguousSuffixes = map[string]bool{
	"zip": true, "mov": true, "sh": true, "py": true, "pl": true, "pm": true, "md": true, "rs": true, "so": true,
	"cc": true, "ps": true, "ai": true, "app": true, "cat": true, "mp": true, "sc": true, "ms": true, "sx": true,
}

// productNames are two-label names on real suffixes that are products, not domains.
var productNames = map[string]bool{"asp.net": true, "ado.net": true, "vb.net": true, "socket.io": true}

// domains finds host names.
func (s *scanner) domains(t []byte) {
	for i := 0; i < len(t); i++ {
		if !isAlnum(t[i]) {
			continue
		}
		if p := prevRune(t, i); isWordRune(p) || p == '-' || p == '.' || p == '@' || p == '\\' || p == '%' ||
			p == '/' && !(i >= 3 && t[i-2] == '/' && t[i-3] == ':') { // "scheme://host" is not a path
			// inside a word, a path, an e-mail address or an escape: skip the whole run
			for i < len(t) && (isAlnum(t[i]) || t[i] == '.' || t[i] == '-') {
				i++
			}
			continue
		}
		b := i
		dots := 0
		for b < len(t) && (isAlnum(t[b]) || t[b] == '.' || t[b] == '-') {
			if t[b] == '.' {
				dots++
			}
			b++
		}
		a := i
		i = b - 1
		end := b
		for end > a && (t[end-1] == '.' || t[end-1] == '-') {
			end--
		}
		if dots == 0 || end == a || !bytes.Contains(t[a:end], []byte{'.'}) {
			continue
		}
		if r := nextRune(t, b); isWordRune(r) || r == '@' || r == '\\' {
			continue
		}
		if s.isTaken(a, end) {
			continue
		}
		cand := string(t[a:end])
		last := cand[strings.LastIndexByte(cand, '.')+1:]
		if isDigits(last) || isDigitsDots(cand) {
			continue // numbers and dotted quads (ipv4s decides about those)
		}
		fanged := s.fanged(a, end)
		d, err := validDomain(cand)
		lowLast := strings.ToLower(last)
		twoLabels := strings.Count(cand, ".") == 1
		switch {
		case err != nil:
			if fanged {
				s.skip(a, end, err.Error())
			} else if twoLabels && fileExtensions[lowLast] {
				s.skip(a, end, "a file name, not a domain (."+lowLast+" is not a public suffix)")
			} else if len(last) >= 2 && isLetters(last) && strings.IndexByte(cand, '.') > 1 {
				s.skip(a, end, err.Error())
			}
		case !fanged && twoLabels && ambiguousSuffixes[lowLast]:
			s.skip(a, end, "looks like a file name (."+lowLast+" is also a file extension); write it defanged, name[.]"+lowLast+", to extract it as a domain")
		case !fanged && productNames[d]:
			s.skip(a, end, "a product name, not a domain")
		default:
			s.match(KindDomain, d, a, end)
		}
	}
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// hashes finds runs of 32, 40, 64 or 128 hex digits that are whole words. They are found inside URLs
// too ("https://www.virustotal.com/gui/file/<sha256>").
func (s *scanner) hashes(t []byte) {
	for i := 0; i < len(t); i++ {
		if !isWordByte(t[i]) {
			continue
		}
		a := i
		for i < len(t) && isWordByte(t[i]) {
			i++
		}
		b := i
		if isWordRune(prevRune(t, a)) || isWordRune(nextRune(t, b)) {
			continue
		}
		var k Kind
		switch b - a {
		case 32:
			k = KindMD5
		case 40:
			k = KindSHA1
		case 64:
			k = KindSHA256
		case 128:
			k = KindSHA512
		default:
			continue
		}
		w := string(t[a:b])
		if !isHex(w) {
			continue
		}
		if isDigits(w) {
			s.skip(a, b, "only decimal digits: a number, not a hash")
			continue
		}
		s.match(k, strings.ToLower(w), a, b)
	}
}

// ids finds CVE ids and ATT&CK technique ids, anywhere (inside URLs too).
func (s *scanner) ids(t []byte) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != 'C' && c != 'c' && c != 'T' || isWordRune(prevRune(t, i)) {
			continue
		}
		if c == 'T' {
			b := i + 1
			for b < len(t) && isDigit(t[b]) {
				b++
			}
			if b-i != 5 {
				continue
			}
			if b+4 <= len(t) && t[b] == '.' && isDigit(t[b+1]) && isDigit(t[b+2]) && isDigit(t[b+3]) {
				b += 4
			}
			if isWordRune(nextRune(t, b)) || b+1 < len(t) && t[b] == '.' && isDigit(t[b+1]) {
				continue
			}
			if id, ok := validTechnique(string(t[i:b])); ok {
				s.match(KindATTACK, id, i, b)
			}
			i = b - 1
			continue
		}
		if !hasPrefixFold(t[i:], "cve-") {
			continue
		}
		b := i + 4
		for b < len(t) && (isDigit(t[b]) || t[b] == '-') {
			b++
		}
		for b > i+4 && t[b-1] == '-' {
			b--
		}
		if isWordRune(nextRune(t, b)) {
			continue
		}
		if id, ok := validCVE(string(t[i:b])); ok {
			s.match(KindCVE, id, i, b)
		} else {
			s.skip(i, b, "not a CVE id (CVE-YYYY-NNNN)")
		}
		i = b - 1
	}
}
