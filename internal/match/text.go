package match

import (
	"bytes"
	"math/bits"
)

// Text is the plain-text format: every line is scanned for indicator-like tokens. It is a fast
// log-line scanner, not a report extractor (that is internal/formats/text):
//
//   - a token is a run of letters, digits and . - _ : @ (other bytes separate tokens);
//   - "scheme://…" starts a URL that runs to the next space, quote, '<', '>' or '|'
//     (trailing '.', ',', ';', ')' and ']' dropped);
//   - a token with '@' and a dot after it is an email address;
//   - 32, 40, 64 or 128 hex digits are a hash;
//   - four dot-separated numbers are an IPv4 address, a token of hex digits and two or more
//     colons (seven, or a "::") an IPv6 address, "address:port" and "[v6]:port" the address;
//   - a token with a dot, letters, and a last label of two or more letters is a domain name
//     ("host:port" gives the host);
//   - a timestamp at the start of the line (epoch seconds, RFC 3339, or syslog's "Jan _2 15:04:05")
//     is the line's time, and is not scanned.
//
// Defanged values (hxxp, [.]) are not refanged.
type Text struct{}

// Start implements Format.
func (Text) Start() Parser { return textParser{} }

// Header implements Format: plain text has no headers.
func (Text) Header(cur Parser, _ []byte, _ int64) (Parser, bool, error) { return cur, false, nil }

type textParser struct{}

// byte classes for the tokenizer
const (
	cTok    = 1 << iota // part of a token
	cHex                // 0-9 a-f A-F
	cNotHex             // part of a token, not a hex digit
	cAlpha              // letters
	cDot
	cColon
	cAt
	cURLEnd // ends a URL
)

var cls = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= '0' && b <= '9':
			t[c] = cTok | cHex
		case b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F':
			t[c] = cTok | cHex | cAlpha
		case b >= 'g' && b <= 'z' || b >= 'G' && b <= 'Z':
			t[c] = cTok | cNotHex | cAlpha
		case b == '.':
			t[c] = cTok | cNotHex | cDot
		case b == ':':
			t[c] = cTok | cNotHex | cColon
		case b == '@':
			t[c] = cTok | cNotHex | cAt
		case b == '-' || b == '_':
			t[c] = cTok | cNotHex
		case b <= ' ' || b == '"' || b == '\'' || b == '<' || b == '>' || b == '|' || b == '`' || b == 0x7f:
			t[c] = cURLEnd
		}
	}
	return t
}()

// Parse implements Parser. It reads (never writes) up to 64 bytes past the end of line when its
// capacity holds them, as lines in the Matcher's and Read's chunks do: no other goroutine may
// write there during the call.
func (textParser) Parse(line []byte, ev *Event) error {
	i := timePrefix(line, ev)
	scanText(line, i, ev)
	return nil
}

// scanText appends the candidates of line[i:].
//
// The line is first classified 64 bytes at a time into two bitmaps (classBits): its token bytes T
// and its '.', ':' and '@' S. Most tokens are words and numbers, which can only be a hash if 32
// bytes long or more: the scanner visits only the tokens that hold one of S, found for 64 bytes at
// once as the carries of T+S (adding a bit of S to its run of T carries to the bit after the run,
// where T is 0), and in the words where T has a run of 16 aligned bits (the only place a token
// of 32 bytes or more can end), every token. No branch is taken per byte or per word and number.
func scanText(line []byte, i int, ev *Event) {
	n := len(line)
	if i >= n {
		return
	}
	tok, sp := ev.classBits(line)
	ev.work += n - i
	w := i >> 6
	below := uint64(1)<<(i&63) - 1 // the bits of line[:i] in word w: not scanned
	var carry, prevT, prevLanes uint64
	start := i // where the last token that began before the current word began
	skip := i  // a token that ends at or before skip is inside a URL, or before line[i]
	for ; w < len(tok); w, below = w+1, 0 {
		t, s := tok[w]&^below, sp[w]&^below
		in := t<<1 | prevT>>63 // bit b: line[64w+b-1] is a token byte
		starts := t &^ in
		ends := in &^ t
		sum, c := bits.Add64(t, s, carry)
		carry = c
		special := sum &^ t // the ends of the tokens that hold one of S
		lanes := t & (t >> 1)
		lanes &= lanes >> 2
		lanes &= lanes >> 4
		lanes &= lanes >> 8
		lanes &= 0x0001000100010001 // bit 16k: bits 16k to 16k+15 of t are all set
		visit := special
		if lanes|prevLanes != 0 {
			visit = ends
		}
		prevT, prevLanes = t, lanes
		for ; visit != 0; visit &= visit - 1 {
			b := bits.TrailingZeros64(visit)
			j := w<<6 | b
			i := start
			if st := starts & (1<<b - 1); st != 0 {
				i = w<<6 | (63 - bits.LeadingZeros64(st))
			}
			if j <= skip || j-i < 32 && special&(1<<b) == 0 {
				continue
			}
			ev.work += j - i
			// A URL: a scheme of letters, then "://" (the token holds the ':').
			if j+1 < n && line[j] == '/' && line[j+1] == '/' && j-i >= 2 && j-i <= 11 && line[j-1] == ':' && isLetters(line[i:j-1]) {
				k := j + 2
				for k < n && cls[line[k]]&cURLEnd == 0 {
					k++
				}
				end := k
				for k > j+2 && bytes.IndexByte([]byte(".,;)]"), line[k-1]) >= 0 {
					k--
				}
				ev.work += j - i + 2*(end-j)
				if k > j+2 {
					ev.add(KindURL, line[i:k])
				}
				// The tokens inside the URL are passed over; after it (line[end] ends a token) come
				// only those of what it dropped from its end (. , ; ) ]), dots only: no candidate.
				skip = end
				continue
			}
			// Tokens that end in ':' (j points at it when it was the last byte) lose it.
			classify(line[i:j:j], ev)
		}
		if starts != 0 {
			start = w<<6 | (63 - bits.LeadingZeros64(starts))
		}
	}
}

// classBits returns the bitmaps of line: bit i%64 of tok[i/64] is set when line[i] is a token byte
// (cls[line[i]]&cTok != 0), of sp[i/64] when it is '.', ':' or '@'; len(line)/64+1 words, the
// bits past the line 0. They live in ev until the next call.
func (ev *Event) classBits(line []byte) (tok, sp []uint64) {
	words := len(line)>>6 + 1 // and a bit for the end of a token that ends the line
	if cap(ev.bits) < 2*words {
		ev.bits = make([]uint64, 2*words)
	}
	tok, sp = ev.bits[:words:words], ev.bits[words:2*words:2*words]
	if ext := line[:cap(line)]; len(ext) >= words<<6 {
		// The bytes after the line, up to its capacity, are read (never written) and their bits
		// cleared: one pass, no copy. Lines in a chunk of the Matcher or Read have the rest of
		// the chunk after them.
		classBlocks(ext[:words<<6], tok, sp)
		keep := uint64(1)<<(len(line)&63) - 1
		tok[words-1] &= keep
		sp[words-1] &= keep
		return tok, sp
	}
	full := len(line) >> 6
	classBlocks(line[:full<<6], tok[:full], sp[:full])
	var last [64]byte // the last bytes, padded with 0 (not a token byte)
	copy(last[:], line[full<<6:])
	classBlocks(last[:], tok[full:], sp[full:])
	return tok, sp
}

// classBlocksGeneric is classBits on whole blocks of 64 bytes (len(b) is 64×len(tok), len(sp) is
// len(tok)), a byte at a time.
func classBlocksGeneric(b []byte, tok, sp []uint64) {
	for w := range tok {
		var t, s uint64
		for k, c := range b[w<<6 : (w+1)<<6] {
			t |= uint64(cls[c]&cTok) << k
			if c == '.' || c == ':' || c == '@' {
				s |= 1 << k
			}
		}
		tok[w], sp[w] = t, s
	}
}

// classify appends the candidate a token is, if any.
func classify(tok []byte, ev *Event) {
	for len(tok) > 0 && (tok[len(tok)-1] == '.' || tok[len(tok)-1] == ':' || tok[len(tok)-1] == '-') {
		tok = tok[:len(tok)-1]
	}
	for len(tok) > 0 && (tok[0] == '.' || tok[0] == ':' || tok[0] == '-') {
		tok = tok[1:]
	}
	if len(tok) < 3 {
		return
	}
	// Below, each branch passes over the token a bounded number of times (this first pass
	// included).
	ev.work += 4 * len(tok)
	any := uint8(0) // classes some byte has
	for _, b := range tok {
		any |= cls[b]
	}
	switch {
	case any&cAt != 0:
		at := bytes.IndexByte(tok, '@')
		if at > 0 && bytes.IndexByte(tok[at+1:], '.') > 0 && bytes.IndexByte(tok[at+1:], '@') < 0 && any&cColon == 0 {
			ev.add(KindEmail, tok)
		}
	case any&cNotHex == 0: // hex digits only
		switch len(tok) {
		case 32, 40, 64, 128:
			ev.add(KindHash, tok)
		}
	case any&cColon != 0:
		colons := bytes.Count(tok, []byte{':'})
		if colons >= 2 {
			if (colons == 7 || bytes.Contains(tok, []byte("::"))) && allHexColonDot(tok) {
				ev.add(KindIPv6, tok)
			}
			return
		}
		c := bytes.IndexByte(tok, ':')
		host, port := tok[:c], tok[c+1:]
		if len(port) == 0 || len(port) > 5 || !allDigits(port) {
			return
		}
		classifyHost(host, ev)
	case any&cDot != 0:
		classifyHostClasses(tok, any, ev)
	}
}

// classifyHost appends an IPv4 address or a domain name.
func classifyHost(h []byte, ev *Event) {
	if len(h) < 3 {
		return
	}
	any := uint8(0)
	for _, b := range h {
		any |= cls[b]
	}
	classifyHostClasses(h, any, ev)
}

// classifyHostClasses is classifyHost given the classes some byte of h has.
func classifyHostClasses(h []byte, any uint8, ev *Event) {
	if len(h) < 3 {
		return
	}
	if any&cDot == 0 || any&(cAt|cColon) != 0 {
		return
	}
	if any&cAlpha == 0 {
		if bytes.Count(h, []byte{'.'}) == 3 {
			ev.add(KindIPv4, h)
		}
		return
	}
	// The last label must be two or more letters.
	last := h[bytes.LastIndexByte(h, '.')+1:]
	if len(last) < 2 {
		return
	}
	for _, b := range last {
		if cls[b]&cAlpha == 0 {
			return
		}
	}
	ev.add(KindDomain, h)
}

func isLetters(b []byte) bool {
	for _, c := range b {
		if cls[c]&cAlpha == 0 {
			return false
		}
	}
	return true
}

func allHexColonDot(b []byte) bool {
	for _, c := range b {
		if cls[c]&(cHex|cColon|cDot) == 0 {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isMonth reports whether m is one of the English three-letter month names, as syslog writes them.
func isMonth(m []byte) bool {
	switch string(m) {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}

// timePrefix sets the event's time from a timestamp at the start of the line and returns where the
// rest of the line starts.
func timePrefix(line []byte, ev *Event) int {
	if len(line) < 10 {
		return 0
	}
	c := line[0]
	switch {
	case c >= '0' && c <= '9':
		// RFC 3339: 2006-01-02T15:04:05…
		if len(line) >= 20 && line[4] == '-' && line[7] == '-' && (line[10] == 'T' || line[10] == ' ') && line[13] == ':' {
			end := 19
			for end < len(line) && line[end] != ' ' && line[end] != '\t' {
				end++
			}
			ev.setTime(line[:end], timeRFC3339)
			return end
		}
		// Epoch seconds: 9 to 11 digits, an optional fraction, then a space.
		end := 0
		for end < len(line) && line[end] >= '0' && line[end] <= '9' {
			end++
		}
		if end < 9 || end > 11 {
			return 0
		}
		if end < len(line) && line[end] == '.' {
			end++
			for end < len(line) && line[end] >= '0' && line[end] <= '9' {
				end++
			}
		}
		if end == len(line) || line[end] == ' ' || line[end] == '\t' {
			ev.setTime(line[:end], timeEpoch)
			return end
		}
	case c >= 'A' && c <= 'S' && len(line) >= 15 && line[3] == ' ' && line[9] == ':' && line[12] == ':':
		if isMonth(line[:3]) {
			ev.setTime(line[:15], timeSyslog)
			return 15
		}
	}
	return 0
}
