package match

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// JSONLines reads one JSON object per line. Fields names the members to look up and how to read
// them; a dotted name ("id.orig_h") matches a member of that name or the path through nested
// objects. A string or number is looked up; each element of an array is looked up; other values
// are skipped. TimeField, when set, names the member holding the line's time (RFC 3339 or epoch
// seconds). Blank lines are skipped; any other line that is not a JSON object is an error.
type JSONLines struct {
	Fields    map[string]Kind
	TimeField string
	// MaxDepth bounds the nesting of a line (0: 32).
	MaxDepth int
}

// Start implements Format.
func (f JSONLines) Start() Parser {
	return &jsonParser{f: f, depth: cmpOr(f.MaxDepth, 32)}
}

// Header implements Format: JSON lines have no headers.
func (f JSONLines) Header(cur Parser, _ []byte, _ int64) (Parser, bool, error) {
	return cur, false, nil
}

type jsonParser struct {
	f     JSONLines
	depth int
}

func (p *jsonParser) Parse(line []byte, ev *Event) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(line))
	if dec.PeekKind() != '{' {
		return errors.New("not a JSON object")
	}
	var path []byte
	if err := p.value(dec, &path, 0, ev); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// value reads one value at path, looking it up when path is mapped.
func (p *jsonParser) value(dec *jsontext.Decoder, path *[]byte, depth int, ev *Event) error {
	switch dec.PeekKind() {
	case '{', '[':
		if depth >= p.depth {
			return fmt.Errorf("nested deeper than %d", p.depth)
		}
		open, err := dec.ReadToken()
		if err != nil {
			return err
		}
		for {
			switch dec.PeekKind() {
			case '}', ']':
				_, err := dec.ReadToken()
				return err
			case 0:
				_, err := dec.ReadToken()
				return err
			}
			if open.Kind() == '[' {
				if err := p.value(dec, path, depth+1, ev); err != nil {
					return err
				}
				continue
			}
			name, err := dec.ReadValue()
			if err != nil {
				return err
			}
			n := len(*path)
			if n > 0 {
				*path = append(*path, '.')
			}
			if *path, err = jsontext.AppendUnquote(*path, name); err != nil {
				return err
			}
			err = p.value(dec, path, depth+1, ev)
			*path = (*path)[:n]
			if err != nil {
				return err
			}
		}
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	kind := v.Kind()
	if kind != '"' && kind != '0' {
		return nil
	}
	k, mapped := p.f.Fields[string(*path)]
	isTime := p.f.TimeField != "" && string(*path) == p.f.TimeField
	if !mapped && !isTime {
		return nil
	}
	var val []byte
	if kind == '"' {
		if bytes.IndexByte(v, '\\') < 0 {
			val = ev.concat(v[1 : len(v)-1])
		} else {
			u, err := jsontext.AppendUnquote(nil, v)
			if err != nil {
				return err
			}
			val = ev.concat(u)
		}
	} else {
		val = ev.concat(v)
	}
	if isTime {
		if kind == '0' {
			ev.setTime(val, timeEpoch)
		} else {
			ev.setTime(val, timeRFC3339)
		}
	}
	if mapped {
		ev.add(k, val)
	}
	return nil
}

// Zeek reads Zeek's TSV logs. The "#separator", "#set_separator", "#unset_field",
// "#empty_field" and "#fields" headers set how lines are read; "#path" names the log. Fields are
// looked up by name, for every log (a field missing from a log is simply absent):
//
//	conn, dns, http, ssl, …   id.orig_h, id.resp_h                         ip
//	dns                       query                                        domain
//	dns                       answers (each)                               ip or domain
//	http                      host                                         ip or domain
//	http                      host + uri, as http://host/uri               url
//	http                      referrer                                     url
//	files                     tx_hosts, rx_hosts (each)                    ip
//	files, x509               md5, sha1, sha256, fingerprint               hash
//	ssl                       server_name                                  domain
//	x509                      san.dns (each)                               domain
//	x509                      san.ip (each)                                ip
//	x509                      san.email (each)                             email
//	smtp                      mailfrom, rcptto (each), from, to (each)     email
//
// ts is the line's time. Fields holds more (or other) name → kind mappings, applied on top.
type Zeek struct {
	Fields map[string]Kind
}

var zeekFields = map[string]Kind{
	"id.orig_h": KindIP, "id.resp_h": KindIP, "query": KindDomain, "answers": kindHostish,
	"host": kindHostish, "referrer": KindURL, "tx_hosts": KindIP, "rx_hosts": KindIP,
	"md5": KindHash, "sha1": KindHash, "sha256": KindHash, "fingerprint": KindHash,
	"server_name": KindDomain, "san.dns": KindDomain, "san.ip": KindIP, "san.email": KindEmail,
	"mailfrom": KindEmail, "rcptto": KindEmail, "from": KindEmail, "to": KindEmail,
}

// kindHostish is an address or a domain name, decided by its form.
const kindHostish = numKinds + 1

// Start implements Format. Before a "#fields" header there are no fields, and any data line is
// an error.
func (f Zeek) Start() Parser {
	return &zeekParser{sep: '\t', setSep: ',', unset: "-", empty: "(empty)"}
}

type zeekParser struct {
	sep, setSep   byte
	unset, empty  string
	path          string
	kinds         []Kind // per column; 0 for none
	ts, host, uri int    // column numbers, -1 when absent
}

// Header implements Format.
func (f Zeek) Header(cur Parser, line []byte, _ int64) (Parser, bool, error) {
	if len(line) == 0 || line[0] != '#' {
		return cur, false, nil
	}
	old := cur.(*zeekParser)
	p := *old
	name, val, _ := strings.Cut(string(line[1:]), " ")
	if name != "separator" {
		name, val, _ = strings.Cut(string(line[1:]), string(p.sep))
	}
	switch name {
	case "separator":
		s, err := unescapeZeek(val)
		if err != nil || len(s) != 1 {
			return nil, false, fmt.Errorf("#separator %q: want one byte such as \\x09", val)
		}
		p.sep = s[0]
	case "set_separator":
		s, err := unescapeZeek(val)
		if err != nil || len(s) != 1 {
			return nil, false, fmt.Errorf("#set_separator %q: want one byte", val)
		}
		p.setSep = s[0]
	case "unset_field":
		p.unset = val
	case "empty_field":
		p.empty = val
	case "path":
		p.path = val
	case "fields":
		names := strings.Split(val, string(p.sep))
		p.kinds = make([]Kind, len(names))
		p.ts, p.host, p.uri = -1, -1, -1
		for i, n := range names {
			switch n {
			case "ts":
				p.ts = i
			case "uri":
				p.uri = i
			}
			if n == "host" {
				p.host = i
			}
			k, ok := f.Fields[n]
			if !ok {
				k = zeekFields[n]
			}
			p.kinds[i] = k
		}
	}
	return &p, true, nil
}

func unescapeZeek(s string) (string, error) {
	if strings.HasPrefix(s, `\x`) && len(s) == 4 {
		hi, lo := unhex[s[2]], unhex[s[3]]
		if hi|lo == 0xff {
			return "", errors.New("bad escape")
		}
		return string([]byte{hi<<4 | lo}), nil
	}
	return s, nil
}

func (p *zeekParser) Parse(line []byte, ev *Event) error {
	if len(line) == 0 {
		return nil
	}
	if p.kinds == nil {
		return errors.New("a data line before the #fields header")
	}
	col := 0
	var host, uri []byte
	for rest := line; ; col++ {
		end := bytes.IndexByte(rest, p.sep)
		field := rest
		if end >= 0 {
			field = rest[:end]
		}
		if col >= len(p.kinds) {
			return fmt.Errorf("more fields than the %d of #fields", len(p.kinds))
		}
		if string(field) != p.unset && string(field) != p.empty {
			switch col {
			case p.ts:
				ev.setTime(field, timeEpoch)
			case p.host:
				host = field
			case p.uri:
				uri = field
			}
			if k := p.kinds[col]; k != 0 {
				for elem := range bytes.SplitSeq(field, []byte{p.setSep}) {
					if k == kindHostish {
						ev.add(hostKind(elem), elem)
					} else {
						ev.add(k, elem)
					}
				}
			}
		}
		if end < 0 {
			break
		}
		rest = rest[end+1:]
	}
	if col+1 != len(p.kinds) {
		return fmt.Errorf("%d fields, #fields names %d", col+1, len(p.kinds))
	}
	if host != nil && uri != nil {
		ev.add(KindURL, ev.concat([]byte("http://"), host, uri))
	}
	return nil
}

// hostKind reads a host as an address when it is one, else as a domain.
func hostKind(h []byte) Kind {
	if len(h) > 0 && (h[len(h)-1] >= '0' && h[len(h)-1] <= '9' || bytes.IndexByte(h, ':') >= 0) {
		return KindIP
	}
	return KindDomain
}

// CSV reads comma-separated (or Comma-separated) values, one record per line: a quoted field may
// hold the separator and doubled quotes, but not a line break. With HasHeader, the first line names
// the columns and Columns maps names to kinds; without it, Columns maps 1-based column numbers
// ("1", "2", …). TimeColumn names the column holding the time (RFC 3339 or epoch seconds).
type CSV struct {
	HasHeader  bool
	Comma      byte // 0: ','
	Columns    map[string]Kind
	TimeColumn string
}

type csvParser struct {
	comma byte
	kinds []Kind
	time  int // -1 for none
}

// Start implements Format.
func (f CSV) Start() Parser {
	p := &csvParser{comma: f.comma(), time: -1}
	if !f.HasHeader {
		for name, k := range f.Columns {
			var n int
			if _, err := fmt.Sscanf(name, "%d", &n); err == nil && n >= 1 && n <= 4096 {
				p.kinds = growKinds(p.kinds, n)
				p.kinds[n-1] = k
			}
		}
		if _, err := fmt.Sscanf(f.TimeColumn, "%d", &p.time); err == nil {
			p.time--
		} else {
			p.time = -1
		}
	}
	return p
}

func growKinds(k []Kind, n int) []Kind {
	for len(k) < n {
		k = append(k, 0)
	}
	return k
}

func (f CSV) comma() byte {
	if f.Comma == 0 {
		return ','
	}
	return f.Comma
}

// Header implements Format: with f.HasHeader, line 1 names the columns.
func (f CSV) Header(cur Parser, line []byte, lineNo int64) (Parser, bool, error) {
	if !f.HasHeader || lineNo != 1 {
		return cur, false, nil
	}
	p := &csvParser{comma: f.comma(), time: -1}
	ev := &Event{}
	var names []string
	if err := splitCSV(line, p.comma, ev, func(_ int, field []byte) {
		names = append(names, string(field))
	}); err != nil {
		return nil, false, fmt.Errorf("header: %w", err)
	}
	found := 0
	p.kinds = make([]Kind, len(names))
	for i, n := range names {
		if k, ok := f.Columns[n]; ok {
			p.kinds[i] = k
			found++
		}
		if n == f.TimeColumn {
			p.time = i
		}
	}
	if found == 0 && len(f.Columns) > 0 {
		return nil, false, fmt.Errorf("header names none of the mapped columns (it has %q)", names)
	}
	return p, true, nil
}

func (p *csvParser) Parse(line []byte, ev *Event) error {
	if len(line) == 0 {
		return nil
	}
	return splitCSV(line, p.comma, ev, func(i int, field []byte) {
		if i == p.time {
			if len(field) > 0 && field[0] >= '0' && field[0] <= '9' && bytes.IndexByte(field, '-') < 0 {
				ev.setTime(field, timeEpoch)
			} else {
				ev.setTime(field, timeRFC3339)
			}
		}
		if i < len(p.kinds) && p.kinds[i] != 0 && len(field) > 0 {
			ev.add(p.kinds[i], field)
		}
	})
}

// splitCSV calls fn with each field of a line, unquoted.
func splitCSV(line []byte, comma byte, ev *Event, fn func(i int, field []byte)) error {
	for i := 0; ; i++ {
		if len(line) > 0 && line[0] == '"' {
			var field []byte
			j := 1
			for {
				q := bytes.IndexByte(line[j:], '"')
				if q < 0 {
					return fmt.Errorf("field %d: a quoted field does not end on its line (records across lines are not supported)", i+1)
				}
				field = append(field, line[j:j+q]...)
				j += q + 1
				if j < len(line) && line[j] == '"' {
					field = append(field, '"')
					j++
					continue
				}
				break
			}
			if j < len(line) && line[j] != comma {
				return fmt.Errorf("field %d: text after the closing quote", i+1)
			}
			fn(i, ev.concat(field))
			if j >= len(line) {
				return nil
			}
			line = line[j+1:]
			continue
		}
		end := bytes.IndexByte(line, comma)
		if end < 0 {
			fn(i, line)
			return nil
		}
		fn(i, line[:end])
		line = line[end+1:]
	}
}
