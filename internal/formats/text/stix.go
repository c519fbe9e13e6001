package text

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// Namespace is the UUIDv5 namespace of the identifiers ToSTIX derives from content (the UUIDv5 of
// "https://github.com/renkei-cti/renkei/internal/formats/text" in the URL namespace).
var Namespace = uuid.MustParse("01165c80-8a81-59d3-a683-589d6cab0f42")

// Options control ToSTIX. Clock is required; everything else is optional.
type Options struct {
	Name         string   // the report's name; "" takes Extraction.Title, then a generic name
	Description  string   // the report's description
	CreatedByRef string   // identity id of the producer, set on every object and part of every id
	Markings     []string // marking-definition ids, set as object_marking_refs on every object
	ReportTypes  []string // default ["threat-report"]
	// Clock gives created, modified, published and valid_from. Nothing here reads the wall clock.
	Clock func() time.Time
	// Flag, when set, returns the names of the lists a value is on (such as warninglists). Flagged
	// values still become indicators; the note lists them first, with the lists' names, for review.
	Flag func(k Kind, value string) []string
	// MaxNoteItems bounds the extracted and skipped values the note lists (0: 1000 of each).
	MaxNoteItems int
}

// Objects are the STIX 2.1 objects made from one extraction, each as its JSON text.
type Objects struct {
	Report          []byte
	Indicators      [][]byte // one per indicator value, in Extraction.Matches order
	Vulnerabilities [][]byte // one per CVE id
	Note            []byte   // what was extracted and skipped, for the analyst; object_refs: the report
	ReportID        string
	NoteID          string
	Flagged         int // values that Options.Flag flagged
	modified        string
}

// All returns every object: the report, the indicators, the vulnerabilities and the note.
func (o *Objects) All() [][]byte {
	all := make([][]byte, 0, 2+len(o.Indicators)+len(o.Vulnerabilities))
	all = append(all, o.Report)
	all = append(all, o.Indicators...)
	all = append(all, o.Vulnerabilities...)
	return append(all, o.Note)
}

// Bundle returns a STIX bundle of All, with an id derived from the report's id and time.
func (o *Objects) Bundle() []byte {
	id := "bundle--" + uuid.NewSHA1(Namespace, []byte("bundle\x00"+o.ReportID+"\x00"+o.modified)).String()
	b := []byte(`{"type":"bundle","id":"` + id + `","objects":[`)
	for i, obj := range o.All() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, obj...)
	}
	return append(b, "]}"...)
}

// ErrNothingExtracted is returned by ToSTIX when there is no indicator and no CVE id to report.
var ErrNothingExtracted = errors.New("no indicator or CVE id was extracted")

type externalRef struct {
	SourceName  string            `json:"source_name"`
	Description string            `json:"description,omitempty"`
	URL         string            `json:"url,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
	ExternalID  string            `json:"external_id,omitempty"`
}

type common struct {
	Type               string        `json:"type"`
	SpecVersion        string        `json:"spec_version"`
	ID                 string        `json:"id"`
	CreatedByRef       string        `json:"created_by_ref,omitempty"`
	Created            string        `json:"created"`
	Modified           string        `json:"modified"`
	ExternalReferences []externalRef `json:"external_references,omitempty"`
	ObjectMarkingRefs  []string      `json:"object_marking_refs,omitempty"`
}

type indicatorJSON struct {
	common
	Name           string `json:"name"`
	Description    string `json:"description"`
	Pattern        string `json:"pattern"`
	PatternType    string `json:"pattern_type"`
	PatternVersion string `json:"pattern_version"`
	ValidFrom      string `json:"valid_from"`
}

type vulnerabilityJSON struct {
	common
	Name string `json:"name"`
}

type reportJSON struct {
	common
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	ReportTypes []string `json:"report_types"`
	Published   string   `json:"published"`
	ObjectRefs  []string `json:"object_refs"`
}

type noteJSON struct {
	common
	Abstract   string   `json:"abstract"`
	Content    string   `json:"content"`
	ObjectRefs []string `json:"object_refs"`
}

// ToSTIX turns an extraction into STIX 2.1 objects: an indicator (pattern_type stix) for every
// value that is an observable, a vulnerability (with a "cve" external reference) for every CVE id,
// a report that refers to them (ATT&CK technique ids become "mitre-attack" external references of
// the report, and the source text's SHA-256 another one), and a note on the report listing what was
// extracted and what was skipped. Identifiers are UUIDv5 in Namespace, derived from the producer
// (CreatedByRef) and the content: the same producer extracting the same value again makes a new
// version of the same indicator.
func ToSTIX(ex *Extraction, opts Options) (*Objects, error) {
	if opts.Clock == nil {
		return nil, errors.New("text: ToSTIX needs Options.Clock")
	}
	now := opts.Clock()
	if now.IsZero() {
		return nil, errors.New("text: Options.Clock returned the zero time")
	}
	if err := checkRef(opts.CreatedByRef, "identity", true); err != nil {
		return nil, fmt.Errorf("text: created_by_ref: %w", err)
	}
	for i, m := range opts.Markings {
		if err := checkRef(m, "marking-definition", false); err != nil {
			return nil, fmt.Errorf("text: marking %d: %w", i, err)
		}
	}
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	creator := opts.CreatedByRef
	id := func(typ, key string) string {
		return typ + "--" + uuid.NewSHA1(Namespace, []byte(typ+"\x00"+creator+"\x00"+key)).String()
	}
	base := func(typ, id string) common {
		return common{Type: typ, SpecVersion: "2.1", ID: id, CreatedByRef: creator, Created: ts, Modified: ts,
			ObjectMarkingRefs: opts.Markings}
	}
	out := &Objects{modified: ts}
	var refs []string
	var attack []externalRef
	for _, m := range ex.Matches {
		switch {
		case m.Kind.IsIndicator():
			pat, err := Pattern(m.Kind, m.Value)
			if err != nil {
				return nil, err
			}
			ind := indicatorJSON{
				common:         base("indicator", id("indicator", pat)),
				Name:           label(m.Kind) + " " + clip(m.Value, 200),
				Description:    fmt.Sprintf("Extracted from line %d, column %d of the source text, written %s.", m.Line, m.Column, quote(clip(m.Original, 300))),
				Pattern:        pat,
				PatternType:    "stix",
				PatternVersion: "2.1",
				ValidFrom:      ts,
			}
			b, err := marshal(ind)
			if err != nil {
				return nil, err
			}
			out.Indicators = append(out.Indicators, b)
			refs = append(refs, ind.ID)
		case m.Kind == KindCVE:
			v := vulnerabilityJSON{common: base("vulnerability", id("vulnerability", m.Value)), Name: m.Value}
			v.ExternalReferences = []externalRef{{SourceName: "cve", ExternalID: m.Value, URL: "https://www.cve.org/CVERecord?id=" + m.Value}}
			b, err := marshal(v)
			if err != nil {
				return nil, err
			}
			out.Vulnerabilities = append(out.Vulnerabilities, b)
			refs = append(refs, v.ID)
		case m.Kind == KindATTACK:
			attack = append(attack, externalRef{SourceName: "mitre-attack", ExternalID: m.Value, URL: AttackURL(m.Value)})
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%w (%d ATT&CK technique ids, %d candidates skipped)", ErrNothingExtracted, len(attack), ex.SkippedTotal)
	}
	sum := hex.EncodeToString(ex.SHA256[:])
	name := strings.ToValidUTF8(cmpOr(opts.Name, ex.Title, "Indicators extracted from text"), "\uFFFD")
	rep := reportJSON{
		common:      base("report", id("report", sum)),
		Name:        clip(name, 200),
		Description: strings.ToValidUTF8(opts.Description, "\uFFFD"),
		ReportTypes: opts.ReportTypes,
		Published:   ts,
		ObjectRefs:  refs,
	}
	if len(rep.ReportTypes) == 0 {
		rep.ReportTypes = []string{"threat-report"}
	}
	rep.ExternalReferences = append(attack, externalRef{SourceName: "source-text",
		Description: fmt.Sprintf("the text the indicators were extracted from (%d bytes, %d lines)", ex.Bytes, ex.Lines),
		Hashes:      map[string]string{"SHA-256": sum}})
	b, err := marshal(rep)
	if err != nil {
		return nil, err
	}
	out.Report, out.ReportID = b, rep.ID
	content, flagged := noteContent(ex, opts, name)
	note := noteJSON{
		common:     base("note", id("note", rep.ID)),
		Abstract:   fmt.Sprintf("Review before publishing: %d values extracted, %d skipped, %d flagged", len(ex.Matches), ex.SkippedTotal, flagged),
		Content:    content,
		ObjectRefs: []string{rep.ID},
	}
	if out.Note, err = marshal(note); err != nil {
		return nil, err
	}
	out.NoteID, out.Flagged = note.ID, flagged
	return out, nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		return nil, fmt.Errorf("text: encode: %w", err)
	}
	return b, nil
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// checkRef checks that ref is "<typ>--<uuid>" (or empty, when allowed).
func checkRef(ref, typ string, emptyOK bool) error {
	if ref == "" && emptyOK {
		return nil
	}
	rest, ok := strings.CutPrefix(ref, typ+"--")
	if _, err := uuid.Parse(rest); !ok || err != nil || len(rest) != 36 {
		return fmt.Errorf("%q is not a %s id (%s--<uuid>)", ref, typ, typ)
	}
	return nil
}

// Pattern returns the STIX pattern that matches a value of an indicator kind: an equality on the
// observable's value, ISSUBSET for a CIDR block, and file:hashes.<algorithm> for hashes. Quotes and
// backslashes in the value are escaped.
func Pattern(k Kind, value string) (string, error) {
	lit := "'" + patternEscaper.Replace(value) + "'"
	switch k {
	case KindIPv4, KindIPv6, KindDomain, KindURL, KindEmail:
		return "[" + string(k) + ":value = " + lit + "]", nil
	case KindIPv4CIDR:
		return "[ipv4-addr:value ISSUBSET " + lit + "]", nil
	case KindIPv6CIDR:
		return "[ipv6-addr:value ISSUBSET " + lit + "]", nil
	case KindMD5:
		return "[file:hashes.MD5 = " + lit + "]", nil
	case KindSHA1:
		return "[file:hashes.'SHA-1' = " + lit + "]", nil
	case KindSHA256:
		return "[file:hashes.'SHA-256' = " + lit + "]", nil
	case KindSHA512:
		return "[file:hashes.'SHA-512' = " + lit + "]", nil
	}
	return "", fmt.Errorf("text: no STIX pattern for kind %q", string(k))
}

var patternEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// AttackURL returns the ATT&CK web page of a technique id ("T1059.001" → .../techniques/T1059/001/).
func AttackURL(id string) string {
	return "https://attack.mitre.org/techniques/" + strings.Replace(id, ".", "/", 1) + "/"
}

func label(k Kind) string {
	switch k {
	case KindIPv4:
		return "IPv4 address"
	case KindIPv6:
		return "IPv6 address"
	case KindIPv4CIDR, KindIPv6CIDR:
		return "Network"
	case KindDomain:
		return "Domain"
	case KindURL:
		return "URL"
	case KindEmail:
		return "E-mail address"
	case KindMD5:
		return "MD5"
	case KindSHA1:
		return "SHA-1"
	case KindSHA256:
		return "SHA-256"
	case KindSHA512:
		return "SHA-512"
	}
	return string(k)
}

// quote writes s between quotes, as JSON does (the text may hold any character).
func quote(s string) string {
	b, err := jsontext.AppendQuote(nil, s)
	if err != nil {
		return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
	}
	return string(b)
}

// noteContent writes the note: what was extracted (flagged values first), what was skipped, and what
// was dropped. It returns the number of flagged values.
func noteContent(ex *Extraction, opts Options, name string) (string, int) {
	maxItems := opts.MaxNoteItems
	if maxItems <= 0 {
		maxItems = 1000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Indicators extracted automatically from %s (%d lines, %d bytes, SHA-256 %x). Review them before publishing.\n",
		quote(name), ex.Lines, ex.Bytes, ex.SHA256)
	type item struct {
		m     Match
		lists []string
	}
	var flagged, plain []item
	for _, m := range ex.Matches {
		var lists []string
		if opts.Flag != nil {
			lists = opts.Flag(m.Kind, m.Value)
		}
		if len(lists) > 0 {
			flagged = append(flagged, item{m, lists})
		} else {
			plain = append(plain, item{m, nil})
		}
	}
	line := func(it item) {
		fmt.Fprintf(&b, "- %s %s (line %d, column %d", it.m.Kind, clip(it.m.Value, 300), it.m.Line, it.m.Column)
		if it.m.Original != it.m.Value {
			fmt.Fprintf(&b, ", written %s", quote(clip(it.m.Original, 300)))
		}
		if it.m.Defanged {
			b.WriteString(", defanged")
		}
		if it.m.Count > 1 {
			fmt.Fprintf(&b, ", %d times", it.m.Count)
		}
		if len(it.lists) > 0 {
			fmt.Fprintf(&b, "; on %s", strings.Join(it.lists, "; "))
		}
		b.WriteString(")\n")
	}
	listed := 0
	if len(flagged) > 0 {
		fmt.Fprintf(&b, "\nOn warninglists, check before publishing (%d):\n", len(flagged))
		for _, it := range flagged {
			if listed < maxItems {
				line(it)
				listed++
			}
		}
	}
	fmt.Fprintf(&b, "\nExtracted (%d):\n", len(plain))
	for _, it := range plain {
		if listed < maxItems {
			line(it)
			listed++
		}
	}
	if n := len(ex.Matches) - listed; n > 0 {
		fmt.Fprintf(&b, "... and %d more\n", n)
	}
	fmt.Fprintf(&b, "\nSkipped (%d):\n", ex.SkippedTotal)
	for i, s := range ex.Skipped {
		if i >= maxItems {
			break
		}
		fmt.Fprintf(&b, "- %s (line %d, column %d): %s\n", quote(clip(s.Text, 300)), s.Line, s.Column, s.Reason)
	}
	if n := ex.SkippedTotal - min(len(ex.Skipped), maxItems); n > 0 {
		fmt.Fprintf(&b, "... and %d more (repeats and those over the limit are not listed)\n", n)
	}
	if ex.Dropped > 0 {
		fmt.Fprintf(&b, "\n%d more distinct values were found but not kept: the limit of values per text was reached.\n", ex.Dropped)
	}
	return b.String(), len(flagged)
}
