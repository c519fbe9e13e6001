package text

// refanged is one line with its defanging undone, and, for every byte of the result, where it came
// from in the original line.
type refanged struct {
	text   []byte
	start  []int32 // offset in the original line of the text this byte comes from
	end    []int32 // offset just past that text
	fanged []bool  // the byte comes from undoing a defang
}

func (r *refanged) reset() {
	r.text, r.start, r.end, r.fanged = r.text[:0], r.start[:0], r.end[:0], r.fanged[:0]
}

func (r *refanged) emit(s string, from, to int, fanged bool) {
	for i := 0; i < len(s); i++ {
		r.text = append(r.text, s[i])
		r.start = append(r.start, int32(from))
		r.end = append(r.end, int32(to))
		r.fanged = append(r.fanged, fanged)
	}
}

// trimSpaceTail drops the spaces at the end of the output (before a bracketed dot or at).
func (r *refanged) trimSpaceTail() {
	n := len(r.text)
	for n > 0 && (r.text[n-1] == ' ' || r.text[n-1] == '\t') && !r.fanged[n-1] {
		n--
	}
	r.text, r.start, r.end, r.fanged = r.text[:n], r.start[:n], r.end[:n], r.fanged[:n]
}

// Refang undoes the defanging of a single value, as Extract does for text (see the package doc).
func Refang(s string) string {
	if !mayBeDefanged(s) {
		return s
	}
	var r refanged
	refangLine([]byte(s), &r)
	return string(r.text)
}

// mayBeDefanged reports whether s has a character that starts a defang token.
func mayBeDefanged(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(', '{', '\\':
			return true
		case 'h', 'H', 'f', 'F': // hxxp, h**p, fxp
			if i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X' || s[i+1] == '*') {
				return true
			}
		}
	}
	return false
}

// bracketed are the defang tokens written inside brackets, and what they stand for.
var bracketed = []struct{ tok, repl string }{
	{"://", "://"}, {":/", ":/"}, {"//", "//"}, {".", "."}, {"dot", "."}, {":", ":"}, {"/", "/"}, {"@", "@"}, {"at", "@"},
}

// refangLine writes line, refanged, into r.
func refangLine(line []byte, r *refanged) {
	r.reset()
	n := len(line)
	for i := 0; i < n; {
		c := line[i]
		switch {
		case c == '[' || c == '(' || c == '{':
			if j, repl, ok := matchBracketed(line, i); ok {
				if repl == "." || repl == "@" {
					r.trimSpaceTail()
					for j < n && (line[j] == ' ' || line[j] == '\t') {
						j++
					}
				}
				r.emit(repl, i, j, true)
				i = j
				continue
			}
		case (c == 'h' || c == 'H' || c == 'f' || c == 'F') && (i == 0 || !isWordByte(line[i-1])):
			if j, repl, ok := matchScheme(line, i); ok {
				r.emit(repl, i, j, true)
				i = j
				continue
			}
		case c == '\\' && i > 0 && i+2 < n && line[i+1] == '.' && isAlnum(line[i-1]) && isAlnum(line[i+2]):
			r.emit(".", i, i+2, true)
			i += 2
			continue
		}
		r.text = append(r.text, c)
		r.start = append(r.start, int32(i))
		r.end = append(r.end, int32(i+1))
		r.fanged = append(r.fanged, false)
		i++
	}
}

// matchBracketed matches an opening bracket, optional spaces, a defang token, optional spaces and a
// closing bracket at line[i:]. It returns the offset past the closing bracket.
func matchBracketed(line []byte, i int) (int, string, bool) {
	j := i + 1
	for j < len(line) && line[j] == ' ' {
		j++
	}
	for _, b := range bracketed {
		if !hasPrefixFold(line[j:], b.tok) {
			continue
		}
		k := j + len(b.tok)
		for k < len(line) && line[k] == ' ' {
			k++
		}
		if k < len(line) && (line[k] == ']' || line[k] == ')' || line[k] == '}') {
			return k + 1, b.repl, true
		}
	}
	return 0, "", false
}

// schemes are the defanged schemes undone, longest first; each must be followed by ':' or a bracket.
var schemes = []struct{ tok, repl string }{
	{"hxxps", "https"}, {"hxxp", "http"}, {"hxtps", "https"}, {"hxtp", "http"}, {"h**ps", "https"}, {"h**p", "http"},
	{"fxps", "ftps"}, {"fxp", "ftp"},
}

func matchScheme(line []byte, i int) (int, string, bool) {
	for _, s := range schemes {
		if !hasPrefixFold(line[i:], s.tok) {
			continue
		}
		j := i + len(s.tok)
		if j < len(line) && (line[j] == ':' || line[j] == '[' || line[j] == '(' || line[j] == '{') {
			return j, s.repl, true
		}
	}
	return 0, "", false
}

func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		x, y := b[i], p[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }
