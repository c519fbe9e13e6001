package text

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Column maps one column of a table to a kind of indicator.
type Column struct {
	Name  string // the column's header (case and surrounding space ignored); or
	Index int    // its position, from 1, when Name is ""
	Kind  Kind   // "" guesses the kind of each value (Classify)
}

func (c Column) String() string {
	if c.Name != "" {
		return strconv.Quote(c.Name)
	}
	return strconv.Itoa(c.Index)
}

// ParseColumns reads a column mapping written "COLUMN=KIND,...": COLUMN is a header name or a column
// number from 1, KIND a name ParseKind accepts or "auto"; "COLUMN" alone means "COLUMN=auto".
// Example: "1=ip,domain=domain,sha256=sha256,indicator".
func ParseColumns(spec string) ([]Column, error) {
	var cols []Column
	for i, part := range strings.Split(spec, ",") {
		col, kind, _ := strings.Cut(part, "=")
		col, kind = strings.TrimSpace(col), strings.TrimSpace(kind)
		if col == "" {
			return nil, fmt.Errorf("column mapping %q: item %d names no column", spec, i+1)
		}
		c := Column{}
		if n, err := strconv.Atoi(col); err == nil {
			if n < 1 {
				return nil, fmt.Errorf("column mapping %q: column numbers start at 1, not %d", spec, n)
			}
			c.Index = n
		} else {
			c.Name = col
		}
		if kind != "" && !strings.EqualFold(kind, "auto") {
			k, err := ParseKind(kind)
			if err != nil {
				return nil, fmt.Errorf("column mapping %q: column %s: %w", spec, col, err)
			}
			c.Kind = k
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// HeaderMode says whether a table's first record is a header.
type HeaderMode uint8

const (
	// HeaderAuto takes the first record for a header when none of its fields is an indicator and one
	// of them has letters, or when columns are mapped by name.
	HeaderAuto HeaderMode = iota
	HeaderYes
	HeaderNo
)

// TableOptions control ExtractTable.
type TableOptions struct {
	// Columns lists the columns that hold indicators. Empty: with a header, the columns whose header
	// names a kind ("ip", "domain", "url", "md5", "ip-dst"...) or says "indicator", "ioc", "value" or
	// "observable" (kind guessed per value); without a header, every column, kind guessed per value,
	// and values that are not indicators are ignored silently.
	Columns []Column
	Comma   rune // field separator; 0 means ','
	Comment rune // lines starting with it are ignored; 0 means '#', -1 none
	Header  HeaderMode
	// Strict turns a value of a mapped column that is not a valid indicator into an error (with its
	// line and column); otherwise it is a Skip.
	Strict bool
	Limits Limits
}

// ErrTable is wrapped by ExtractTable's errors about the table itself (bad CSV, bad mapping, strict
// validation).
var ErrTable = errors.New("bad table")

// genericHeaders are the header names of columns holding indicators of any kind.
var genericHeaders = map[string]bool{"indicator": true, "ioc": true, "value": true, "observable": true, "iocs": true, "indicators": true}

// ExtractTable reads a CSV table (or TSV, with Comma '\t') and extracts the indicators of the mapped
// columns. Values are refanged, validated and normalised as in free text. Match.Line and Column are
// csv's position of the field; Match.Field is the column's number from 1.
func ExtractTable(ctx context.Context, r io.Reader, opts TableOptions) (*Extraction, error) {
	lim := opts.Limits.withDefaults()
	m := newMeter(r, lim.MaxBytes)
	cr := csv.NewReader(m)
	cr.Comma = ','
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	switch opts.Comment {
	case 0:
		cr.Comment = '#'
	case -1:
	default:
		cr.Comment = opts.Comment
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = false
	cr.ReuseRecord = false
	c := newCollector(lim)
	var cols []mappedColumn
	byName := false
	for _, col := range opts.Columns {
		byName = byName || col.Name != ""
	}
	first := true
	records, lastLine := 0, 0
	for {
		if records%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", ErrTable, err)
		}
		records++
		line, _ := cr.FieldPos(0)
		lastLine = line
		if first {
			first = false
			header := false
			switch opts.Header {
			case HeaderYes:
				header = true
			case HeaderAuto:
				header = byName || looksLikeHeader(rec)
			}
			if byName && !header {
				return nil, fmt.Errorf("%w: columns are mapped by name but the table has no header", ErrTable)
			}
			var err error
			cols, err = mapColumns(opts.Columns, rec, header)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrTable, line, err)
			}
			if header {
				c.heading = "Table with columns " + clip(strings.ToValidUTF8(strings.Join(rec, ", "), "\uFFFD"), 180)
				continue
			}
			if len(opts.Columns) == 0 {
				cols = nil // no header, nothing mapped: every column, guessed and quiet (below)
			}
		}
		if cols == nil && len(opts.Columns) == 0 {
			for i := range rec {
				if err := c.tableValue(cr, rec, i, "", true, opts.Strict); err != nil {
					return nil, err
				}
			}
			continue
		}
		for _, mc := range cols {
			if mc.field >= len(rec) {
				if mc.quiet {
					continue
				}
				msg := fmt.Sprintf("the record has %d fields, no column %d", len(rec), mc.field+1)
				if opts.Strict {
					return nil, fmt.Errorf("%w: line %d: %s", ErrTable, line, msg)
				}
				c.skip(Skip{Text: clip(strings.ToValidUTF8(strings.Join(rec, string(cr.Comma)), "\uFFFD"), 300), Line: line, Column: 1, Field: mc.field + 1, Reason: msg})
				continue
			}
			if err := c.tableValue(cr, rec, mc.field, mc.kind, mc.quiet, opts.Strict); err != nil {
				return nil, err
			}
		}
	}
	ex := c.finish()
	ex.Lines = lastLine
	m.sum(ex)
	return ex, nil
}

// mappedColumn is a column of a table resolved against its first record.
type mappedColumn struct {
	field int  // from 0
	kind  Kind // "" guesses
	quiet bool // values that are not indicators are ignored, not skipped
}

// mapColumns resolves the column mapping against the first record.
func mapColumns(spec []Column, first []string, header bool) ([]mappedColumn, error) {
	type mapped = mappedColumn
	var cols []mapped
	if len(spec) == 0 {
		if !header {
			return nil, nil
		}
		for i, h := range first {
			name := strings.ToLower(strings.TrimSpace(h))
			if k, err := ParseKind(name); err == nil {
				cols = append(cols, mapped{i, k, false})
			} else if genericHeaders[name] {
				cols = append(cols, mapped{i, "", false})
			}
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("no column header names an indicator kind (%s); give a column mapping", clip(strings.Join(first, ", "), 100))
		}
		return cols, nil
	}
	for _, c := range spec {
		switch {
		case c.Name != "":
			found := -1
			for i, h := range first {
				if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(c.Name)) {
					found = i
					break
				}
			}
			if found < 0 {
				return nil, fmt.Errorf("no column named %q in the header (%s)", c.Name, clip(strings.Join(first, ", "), 100))
			}
			cols = append(cols, mapped{found, c.Kind, false})
		case c.Index >= 1:
			cols = append(cols, mapped{c.Index - 1, c.Kind, false})
		default:
			return nil, fmt.Errorf("column mapping %s names no column", c)
		}
	}
	return cols, nil
}

// looksLikeHeader reports whether a first record is a header: no field is an indicator, and one has
// a letter.
func looksLikeHeader(rec []string) bool {
	letters := false
	for _, f := range rec {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if _, _, err := Classify(Refang(f)); err == nil {
			return false
		}
		letters = letters || strings.ContainsFunc(f, func(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' })
	}
	return letters
}

// tableValue validates one field and records it as a match or a skip (or, strict, an error).
func (c *collector) tableValue(cr *csv.Reader, rec []string, i int, kind Kind, quiet, strict bool) error {
	raw := rec[i]
	line, col := cr.FieldPos(i)
	v := strings.TrimSpace(raw)
	if v == "" {
		return nil
	}
	return c.value(raw, Refang(v), kind, line, col, i+1, quiet, strict)
}

// value validates a refanged value (of kind, or guessed when kind is "") and records it.
func (c *collector) value(raw, v string, kind Kind, line, col, field int, quiet, strict bool) error {
	raw = strings.ToValidUTF8(raw, "\uFFFD")
	var k Kind
	var norm string
	var err error
	if kind == "" {
		k, norm, err = Classify(v)
	} else {
		k, norm, err = Validate(kind, v)
	}
	if err != nil {
		if quiet {
			return nil
		}
		if strict {
			return fmt.Errorf("%w: line %d, column %d: %w", ErrTable, line, col, err)
		}
		c.skip(Skip{Text: clip(raw, 300), Line: line, Column: col, Field: field, Reason: err.Error()})
		return nil
	}
	// A /32 or /128 block from a list is an address.
	if k == KindIPv4CIDR && strings.HasSuffix(norm, "/32") || k == KindIPv6CIDR && strings.HasSuffix(norm, "/128") {
		k, norm = map[Kind]Kind{KindIPv4CIDR: KindIPv4, KindIPv6CIDR: KindIPv6}[k], norm[:strings.LastIndexByte(norm, '/')]
	}
	c.add(Match{Kind: k, Value: norm, Original: clip(strings.TrimSpace(raw), 300), Line: line, Column: col, Field: field,
		Defanged: v != strings.TrimSpace(raw)})
	return nil
}

// ListOptions control ExtractList.
type ListOptions struct {
	Kind    Kind // the kind of every value; "" guesses each (Classify)
	Strict  bool // a line that is not a valid value is an error, not a Skip
	Comment string
	Limits  Limits
}

// ExtractList reads a plain list: one value per line, refanged and validated. Blank lines and lines
// starting with '#' (or ListOptions.Comment) are ignored; so is anything after the first space or tab
// of a line ("198.51.100.7  # C2" gives 198.51.100.7).
func ExtractList(ctx context.Context, r io.Reader, opts ListOptions) (*Extraction, error) {
	lim := opts.Limits.withDefaults()
	comment := opts.Comment
	if comment == "" {
		comment = "#"
	}
	lr := newLineReader(r, lim)
	c := newCollector(lim)
	for {
		if lr.lineNo%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.lineNo+1, err)
		}
		if lr.tooLong {
			if opts.Strict {
				return nil, fmt.Errorf("%w: line %d is longer than %d bytes", ErrTable, lr.lineNo, lim.MaxLineBytes)
			}
			c.skip(longLine(b, lr.lineNo, lim))
			continue
		}
		line := strings.ToValidUTF8(string(b), "\uFFFD")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, comment) {
			c.title(b)
			continue
		}
		raw := trimmed
		if i := strings.IndexAny(raw, " \t"); i >= 0 {
			raw = raw[:i]
		}
		col := strings.Index(line, raw) + 1
		if err := c.value(raw, Refang(raw), opts.Kind, lr.lineNo, col, 0, false, opts.Strict); err != nil {
			return nil, err
		}
	}
	ex := c.finish()
	ex.Lines = lr.lineNo
	lr.m.sum(ex)
	return ex, nil
}
