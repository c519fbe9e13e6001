package export

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Format names an export format.
type Format string

// The formats.
const (
	FormatCSV      Format = "csv"
	FormatIP       Format = "ip"     // blocklist: one IPv4 or IPv6 address a line
	FormatCIDR     Format = "cidr"   // blocklist: one prefix a line, single addresses as /32 and /128
	FormatDomain   Format = "domain" // blocklist: one domain name a line
	FormatURL      Format = "url"    // blocklist: one URL a line
	FormatHash     Format = "hash"   // blocklist: one MD5, SHA-1 or SHA-256 a line
	FormatSuricata Format = "suricata"
	FormatSnort    Format = "snort"
	FormatZeek     Format = "zeek"
)

// Formats lists the formats.
func Formats() []Format {
	return []Format{FormatCSV, FormatIP, FormatCIDR, FormatDomain, FormatURL, FormatHash, FormatSuricata, FormatSnort, FormatZeek}
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, 0, 9)
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown export format %q: want one of %s", s, strings.Join(names, ", "))
}

// ContentType is the media type of the format's output as one file (a tar archive for Suricata).
func (f Format) ContentType() string {
	switch f {
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatSuricata:
		return "application/x-tar"
	}
	return "text/plain; charset=utf-8"
}

// MultiFile reports whether the format is several files (rules, datasets and hash lists).
func (f Format) MultiFile() bool { return f == FormatSuricata }

// File is one output file.
type File struct {
	Name string
	Data []byte
}

// WriteOptions control the writers.
type WriteOptions struct {
	// Source is Zeek's meta.source and the prefix of rule messages (default "renkei").
	Source string
	// SIDBase and SIDSpan: rule sids are in [SIDBase, SIDBase+SIDSpan) (defaults 2_000_000_000 and
	// 100_000_000).
	SIDBase, SIDSpan uint32
	// DatasetMin: Suricata writes the domains and the addresses as datasets when there are at least
	// this many of them (0: DefaultDatasetMin; negative: never).
	DatasetMin int
}

// DefaultDatasetMin is the default of WriteOptions.DatasetMin.
const DefaultDatasetMin = 1000

func (o WriteOptions) withDefaults() WriteOptions {
	if o.Source == "" {
		o.Source = "renkei"
	}
	if o.SIDSpan == 0 {
		o.SIDBase, o.SIDSpan = 2_000_000_000, 100_000_000
	}
	if o.DatasetMin == 0 {
		o.DatasetMin = DefaultDatasetMin
	}
	return o
}

// Files renders the set in a format. Single-file formats give one File. The report counts the
// indicators with no value the format can express.
func Files(f Format, set *Set, o WriteOptions, rep *Report) ([]File, error) {
	o = o.withDefaults()
	for _, ind := range set.Indicators {
		if !slices.ContainsFunc(ind.Values, func(v Value) bool { return f.expresses(v.Kind) }) {
			rep.skip(ind.ID, ReasonNotInFormat, string(f))
		}
	}
	switch f {
	case FormatCSV:
		b, err := writeCSV(set)
		return []File{{"renkei.csv", b}}, err
	case FormatIP, FormatCIDR, FormatDomain, FormatURL, FormatHash:
		return []File{{"renkei-" + string(f) + ".txt", blocklist(f, set)}}, nil
	case FormatSuricata:
		return suricata(set, o), nil
	case FormatSnort:
		return []File{{"renkei-snort.rules", snort(set, o)}}, nil
	case FormatZeek:
		return []File{{"renkei.intel", zeek(set, o)}}, nil
	}
	return nil, fmt.Errorf("export: unknown format %q", f)
}

// expresses reports whether the format can carry values of a kind.
func (f Format) expresses(k Kind) bool {
	switch f {
	case FormatCSV, FormatZeek:
		return true
	case FormatIP:
		return k == KindIPv4 || k == KindIPv6
	case FormatCIDR:
		return k == KindIPv4 || k == KindIPv6 || k == KindCIDR
	case FormatDomain:
		return k == KindDomain
	case FormatURL:
		return k == KindURL
	case FormatHash:
		return k.IsHash()
	case FormatSuricata:
		return k != KindEmail
	case FormatSnort:
		return k != KindEmail && !k.IsHash()
	}
	return false
}

// Write renders the set in a format to w: the file itself, or for a multi-file format a tar archive
// of its files (deterministic: fixed times, owners and modes, files in name order).
func Write(w io.Writer, f Format, set *Set, o WriteOptions, rep *Report) error {
	files, err := Files(f, set, o, rep)
	if err != nil {
		return err
	}
	if !f.MultiFile() {
		_, err := w.Write(files[0].Data)
		return err
	}
	return writeTar(w, files)
}

func writeTar(w io.Writer, files []File) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: 0o644, Size: int64(len(f.Data)),
			ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("export: tar: %w", err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("export: tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("export: tar: %w", err)
	}
	return nil
}

// CSV: one row per value, columns below; encoding/csv quotes. A cell that a spreadsheet would read
// as a formula (starting with = + - @, tab or carriage return) is prefixed with a single quote.
var csvHeader = []string{"indicator_id", "modified", "name", "kind", "value", "tlp", "valid_from", "valid_until", "created_by_ref"}

func writeCSV(set *Set) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(csvHeader); err != nil {
		return nil, err
	}
	for _, ind := range set.Indicators {
		for _, v := range ind.Values {
			row := []string{ind.ID, ind.Modified, ind.Name, v.Kind.String(), v.Value, ind.TLP.String(), ind.ValidFrom, ind.ValidUntil, ind.CreatedByRef}
			for i := range row {
				row[i] = defuseFormula(row[i])
			}
			if err := w.Write(row); err != nil {
				return nil, err
			}
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// blocklist: the distinct values of the format's kinds, sorted, one a line, no header.
func blocklist(f Format, set *Set) []byte {
	seen := map[string]bool{}
	var lines []string
	for _, ind := range set.Indicators {
		for _, v := range ind.Values {
			if !f.expresses(v.Kind) {
				continue
			}
			s := v.Value
			if f == FormatCIDR && v.Kind == KindIPv4 {
				s += "/32"
			} else if f == FormatCIDR && v.Kind == KindIPv6 {
				s += "/128"
			}
			if !seen[s] {
				seen[s] = true
				lines = append(lines, s)
			}
		}
	}
	slices.Sort(lines)
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// sidAlloc gives each rule key a sid derived from its hash, in [base, base+span); a collision takes
// the next free sid. Keys are allocated in sorted order, so the same keys always get the same sids.
type sidAlloc struct {
	base, span uint32
	used       map[uint32]bool
}

func newSIDAlloc(o WriteOptions) *sidAlloc {
	return &sidAlloc{base: o.SIDBase, span: o.SIDSpan, used: map[uint32]bool{}}
}

func (a *sidAlloc) sid(key string) uint32 {
	h := sha256.Sum256([]byte(key))
	off := uint32(binary.BigEndian.Uint64(h[:8]) % uint64(a.span))
	for a.used[a.base+off] {
		off = (off + 1) % a.span
	}
	a.used[a.base+off] = true
	return a.base + off
}

// rule is one rule before its sid is known: key identifies it (indicator id, value, variant).
type rule struct {
	key  string
	head string // action, protocol, addresses, ports, direction
	opts string // options before msg-independent metadata, each ending in "; "
	msg  string
}

// ruleText renders rules sorted by key, with sids allocated in that order.
func ruleText(header string, rules []rule, o WriteOptions) []byte {
	slices.SortFunc(rules, func(a, b rule) int { return strings.Compare(a.key, b.key) })
	alloc := newSIDAlloc(o)
	var b bytes.Buffer
	b.WriteString(header)
	for _, r := range rules {
		fmt.Fprintf(&b, "%s (msg:\"%s\"; %ssid:%d; rev:1;)\n", r.head, escapeContent(r.msg, false), r.opts, alloc.sid(r.key))
	}
	return b.Bytes()
}

// escapeContent escapes a string for a quoted rule option (msg, content). In content strings
// (hex=true) the characters ; " \ | and every byte outside printable ASCII are written as |hex|; in
// msg, which Suricata and Snort do not hex-decode, ; " and \ are backslash-escaped and other
// unsafe bytes are replaced by '?'.
func escapeContent(s string, hex bool) string {
	var b strings.Builder
	inHex := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		special := c == ';' || c == '"' || c == '\\' || c == '|' || c < 0x20 || c >= 0x7f
		if !hex {
			if inHex {
				inHex = false
			}
			switch {
			case c == ';' || c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c >= 0x7f:
				b.WriteByte('?')
			default:
				b.WriteByte(c)
			}
			continue
		}
		if special {
			if !inHex {
				b.WriteByte('|')
				inHex = true
			} else {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%02X", c)
			continue
		}
		if inHex {
			b.WriteByte('|')
			inHex = false
		}
		b.WriteByte(c)
	}
	if inHex {
		b.WriteByte('|')
	}
	return b.String()
}

// message is a rule's msg: source, the indicator's name (if any), and its id.
func message(o WriteOptions, ind *Indicator, what string) string {
	name := ind.Name
	if len(name) > 120 {
		name = name[:120] + "..."
	}
	m := o.Source + " " + what
	if name != "" {
		m += ": " + name
	}
	return m + " (" + ind.ID + ")"
}

// Suricata: rules for Suricata 7. Addresses and prefixes match in the rule header in both
// directions; domains match dns.query, tls.sni and http.host exactly; URLs match http.host and
// http.uri.raw exactly; file hashes are matched with filemd5, filesha1 and filesha256 against hash
// list files. With at least DatasetMin domains, or addresses, those go to dataset files instead
// (string sets in base64, ip sets as text) with one rule per buffer. Everything loads from the
// directory of renkei.rules (put it in the default rule path, where filemd5 looks).
func suricata(set *Set, o WriteOptions) []File {
	var rules []rule
	var addrs, domains []string
	hashes := map[Kind][]string{}
	counts := map[Kind]int{}
	for _, ind := range set.Indicators {
		for _, v := range ind.Values {
			counts[v.Kind]++
		}
	}
	useDS := func(n int) bool { return o.DatasetMin > 0 && n >= o.DatasetMin }
	addrDS := useDS(counts[KindIPv4] + counts[KindIPv6])
	domainDS := useDS(counts[KindDomain])
	for i := range set.Indicators {
		ind := &set.Indicators[i]
		for _, v := range ind.Values {
			key := ind.ID + "|" + v.Kind.String() + "|" + v.Value + "|"
			switch v.Kind {
			case KindIPv4, KindIPv6, KindCIDR:
				if addrDS && v.Kind != KindCIDR {
					addrs = append(addrs, v.Value)
					continue
				}
				rules = append(rules, rule{key: key, head: "alert ip any any <> " + headerAddr(v.Value) + " any",
					msg: message(o, ind, "address")})
			case KindDomain:
				if domainDS {
					domains = append(domains, v.Value)
					continue
				}
				c := escapeContent(v.Value, true)
				for _, buf := range []struct{ proto, kw string }{{"dns", "dns.query"}, {"tls", "tls.sni"}, {"http", "http.host"}} {
					rules = append(rules, rule{key: key + buf.kw, head: "alert " + buf.proto + " any any -> any any",
						opts: buf.kw + "; content:\"" + c + "\"; nocase; startswith; endswith; ", msg: message(o, ind, "domain")})
				}
			case KindURL:
				host, _, path := urlHostPath(v.Value)
				if path == "" {
					path = "/"
				}
				rules = append(rules, rule{key: key, head: "alert http any any -> any any",
					opts: "http.host; content:\"" + escapeContent(strings.Trim(host, "[]"), true) + "\"; nocase; startswith; endswith; " +
						"http.uri.raw; content:\"" + escapeContent(path, true) + "\"; startswith; endswith; ",
					msg: message(o, ind, "URL")})
			case KindMD5, KindSHA1, KindSHA256:
				hashes[v.Kind] = append(hashes[v.Kind], v.Value+"  "+ind.ID)
			}
		}
	}
	var files []File
	list := func(name string, lines []string) {
		slices.Sort(lines)
		lines = slices.Compact(lines)
		files = append(files, File{Name: name, Data: []byte(strings.Join(lines, "\n") + "\n")})
	}
	if len(addrs) > 0 {
		list("renkei-ip.lst", addrs)
		for _, dir := range []string{"ip.src", "ip.dst"} {
			rules = append(rules, rule{key: "~dataset|ip|" + dir, head: "alert ip any any -> any any",
				opts: dir + "; dataset:isset,renkei-ip,type ip,load renkei-ip.lst; ",
				msg:  fmt.Sprintf("%s address on the renkei-ip list (%s)", o.Source, dir)})
		}
	}
	if len(domains) > 0 {
		enc := make([]string, len(domains))
		for i, d := range domains {
			enc[i] = base64.StdEncoding.EncodeToString([]byte(d))
		}
		list("renkei-domain.lst", enc)
		for _, buf := range []struct{ proto, kw string }{{"dns", "dns.query"}, {"tls", "tls.sni"}, {"http", "http.host"}} {
			rules = append(rules, rule{key: "~dataset|domain|" + buf.kw, head: "alert " + buf.proto + " any any -> any any",
				opts: buf.kw + "; dataset:isset,renkei-domain,type string,load renkei-domain.lst; ",
				msg:  fmt.Sprintf("%s domain on the renkei-domain list (%s)", o.Source, buf.kw)})
		}
	}
	for _, k := range []Kind{KindMD5, KindSHA1, KindSHA256} {
		if len(hashes[k]) == 0 {
			continue
		}
		name := "renkei-" + k.String() + ".lst"
		list(name, hashes[k])
		for _, proto := range []string{"http", "smtp", "smb", "ftp-data", "nfs"} {
			rules = append(rules, rule{key: "~hash|" + k.String() + "|" + proto, head: "alert " + proto + " any any -> any any",
				opts: "file" + k.String() + ":" + name + "; ",
				msg:  fmt.Sprintf("%s file %s on the %s list", o.Source, strings.ToUpper(k.String()), name)})
		}
	}
	files = append(files, File{Name: "renkei.rules", Data: ruleText("# renkei export for Suricata 7: active indicators. Generated; do not edit.\n", rules, o)})
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files
}

// headerAddr writes an address or prefix for a rule header (IPv6 in brackets, as a one-item list).
func headerAddr(s string) string {
	return "[" + s + "]"
}

// Snort: rules for Snort 2.9 (which Snort 3's snort2lua converts). Addresses and prefixes in the
// header in both directions; domains as DNS query names in wire format (|len|label...|00|) over
// UDP 53, at the question's offset (12) and of its exact length, so subdomains do not match; URLs as http_header Host and http_uri content. Snort rules cannot match file hashes or
// e-mail addresses: those indicators are counted as not in the format.
func snort(set *Set, o WriteOptions) []byte {
	var rules []rule
	for i := range set.Indicators {
		ind := &set.Indicators[i]
		for _, v := range ind.Values {
			key := ind.ID + "|" + v.Kind.String() + "|" + v.Value
			switch v.Kind {
			case KindIPv4, KindIPv6, KindCIDR:
				rules = append(rules, rule{key: key, head: "alert ip any any <> " + headerAddr(v.Value) + " any", msg: message(o, ind, "address")})
			case KindDomain:
				rules = append(rules, rule{key: key, head: "alert udp any any -> any 53",
					opts: "content:\"" + dnsWire(v.Value) + "\"; offset:12; depth:" + fmt.Sprint(len(v.Value)+2) + "; nocase; ",
					msg:  message(o, ind, "domain")})
			case KindURL:
				host, _, path := urlHostPath(v.Value)
				if path == "" {
					path = "/"
				}
				rules = append(rules, rule{key: key, head: "alert tcp any any -> any $HTTP_PORTS",
					opts: "flow:to_server,established; content:\"" + escapeContent(path, true) + "\"; http_uri; content:\"Host|3A| " +
						escapeContent(strings.Trim(host, "[]"), true) + "\"; http_header; nocase; ",
					msg: message(o, ind, "URL")})
			}
		}
	}
	return ruleText("# renkei export for Snort 2.9: active indicators. Generated; do not edit.\n", rules, o)
}

// dnsWire writes a domain as DNS wire-format labels in Snort content syntax: each label preceded by
// its length as |NN|, then the root |00|.
func dnsWire(d string) string {
	var b strings.Builder
	for label := range strings.SplitSeq(d, ".") {
		fmt.Fprintf(&b, "|%02X|%s", len(label), escapeContent(label, true))
	}
	b.WriteString("|00|")
	return strings.ReplaceAll(b.String(), "||", " ")
}

// Zeek: an intel framework file. Tab-separated, a #fields header, "-" for an empty field. Zeek's
// URL type is written without its scheme. No field may hold a tab or a line break: the indicator
// is checked (valid values hold none), free text has them replaced by spaces.
func zeek(set *Set, o WriteOptions) []byte {
	var lines []string
	for i := range set.Indicators {
		ind := &set.Indicators[i]
		desc := zeekField(message(WriteOptions{Source: strings.TrimSpace(o.Source)}, ind, "indicator"))
		for _, v := range ind.Values {
			typ, val := "", v.Value
			switch v.Kind {
			case KindIPv4, KindIPv6:
				typ = "Intel::ADDR"
			case KindCIDR:
				typ = "Intel::SUBNET"
			case KindDomain:
				typ = "Intel::DOMAIN"
			case KindURL:
				typ = "Intel::URL"
				_, val, _ = strings.Cut(val, "://")
			case KindEmail:
				typ = "Intel::EMAIL"
			case KindMD5, KindSHA1, KindSHA256:
				typ = "Intel::FILE_HASH"
			}
			if strings.ContainsAny(val, "\t\r\n") || val == "" || val == "-" {
				continue
			}
			lines = append(lines, val+"\t"+typ+"\t"+zeekField(o.Source)+"\t"+desc)
		}
	}
	slices.Sort(lines)
	var b bytes.Buffer
	b.WriteString("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// zeekField makes free text safe for a Zeek TSV field: control characters become spaces, and an
// empty or "-" field is written as "-" (unset) or "(empty)"... here free text is never empty.
func zeekField(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
