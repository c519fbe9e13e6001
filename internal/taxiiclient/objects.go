package taxiiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// TimestampFormat is the TAXII timestamp: UTC with microsecond precision.
const TimestampFormat = "2006-01-02T15:04:05.000000Z"

// FormatTimestamp formats t as a TAXII timestamp.
func FormatTimestamp(t time.Time) string { return t.UTC().Format(TimestampFormat) }

// ParseTimestamp reads a TAXII timestamp. It accepts any RFC 3339 time in UTC ("Z") with up to
// nanosecond precision, since servers differ in the digits they send.
func ParseTimestamp(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("timestamp %q is not in UTC (it must end in Z)", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return t, nil
}

// Query holds the filters and paging parameters of the objects, manifest, object and versions
// endpoints (section 3.4). Zero fields are not sent.
type Query struct {
	AddedAfter   time.Time // sent with microsecond precision
	Limit        int
	Next         string
	IDs          []string // match[id]
	Types        []string // match[type]
	Versions     []string // match[version]: "first", "last", "all" or timestamps
	SpecVersions []string // match[spec_version]
}

func (q Query) values() url.Values {
	v := url.Values{}
	if !q.AddedAfter.IsZero() {
		v.Set("added_after", FormatTimestamp(q.AddedAfter))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Next != "" {
		v.Set("next", q.Next)
	}
	for name, list := range map[string][]string{"id": q.IDs, "type": q.Types, "version": q.Versions, "spec_version": q.SpecVersions} {
		if len(list) > 0 {
			v.Set("match["+name+"]", strings.Join(list, ","))
		}
	}
	return v
}

// Cursor is where a pull stopped: the X-TAXII-Date-Added-Last of the last page stored, and the next
// value the server gave with it (if any). It marshals to JSON with the time as a TAXII timestamp.
type Cursor struct {
	AddedAfter time.Time
	Next       string
}

type cursorJSON struct {
	AddedAfter string `json:"added_after,omitempty"`
	Next       string `json:"next,omitempty"`
}

// MarshalJSON writes {"added_after":"…","next":"…"}, leaving out what is empty.
func (c Cursor) MarshalJSON() ([]byte, error) {
	var j cursorJSON
	if !c.AddedAfter.IsZero() {
		j.AddedAfter = FormatTimestamp(c.AddedAfter)
	}
	j.Next = c.Next
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Cursor) UnmarshalJSON(b []byte) error {
	var j cursorJSON
	if err := json.Unmarshal(b, &j, json.RejectUnknownMembers(true)); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	*c = Cursor{Next: j.Next}
	if j.AddedAfter != "" {
		t, err := ParseTimestamp(j.AddedAfter)
		if err != nil {
			return fmt.Errorf("cursor: added_after: %w", err)
		}
		c.AddedAfter = t
	}
	return nil
}

// Page is one envelope of objects.
type Page struct {
	// Objects are the envelope's objects, each exactly the bytes the server sent.
	Objects []jsontext.Value
	More    bool
	Next    string
	// DateAddedFirst and DateAddedLast are the X-TAXII-Date-Added-First and -Last headers (zero when
	// absent).
	DateAddedFirst, DateAddedLast time.Time
	// Cursor is where to resume after this page.
	Cursor Cursor
}

// Objects reads one page of a collection's objects (GET {root}/collections/{id}/objects/).
func (c *Client) Objects(ctx context.Context, root, collection string, q Query) (*Page, error) {
	u, err := c.endpoint(root, "collections", collection, "objects")
	if err != nil {
		return nil, err
	}
	return c.envelope(ctx, u, q)
}

// Object reads one page of the versions of one object the query selects (only AddedAfter, Limit,
// Next, Versions and SpecVersions are sent) (GET {root}/collections/{id}/objects/{object-id}/).
func (c *Client) Object(ctx context.Context, root, collection, id string, q Query) (*Page, error) {
	u, err := c.endpoint(root, "collections", collection, "objects", id)
	if err != nil {
		return nil, err
	}
	q.IDs, q.Types = nil, nil
	return c.envelope(ctx, u, q)
}

func (c *Client) envelope(ctx context.Context, u *url.URL, q Query) (*Page, error) {
	u.RawQuery = q.values().Encode()
	resp, err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.body.Close()
	p := &Page{}
	if err := decodeEnvelope(resp.body, p); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", u.Redacted(), err)
	}
	if p.DateAddedFirst, p.DateAddedLast, err = dateAdded(resp.Header); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", u.Redacted(), err)
	}
	p.Cursor = Cursor{AddedAfter: p.DateAddedLast, Next: p.Next}
	if p.DateAddedLast.IsZero() {
		p.Cursor.AddedAfter = q.AddedAfter
	}
	return p, nil
}

func dateAdded(h http.Header) (first, last time.Time, err error) {
	for _, x := range []struct {
		name string
		t    *time.Time
	}{{"X-TAXII-Date-Added-First", &first}, {"X-TAXII-Date-Added-Last", &last}} {
		if s := h.Get(x.name); s != "" {
			if *x.t, err = ParseTimestamp(s); err != nil {
				return first, last, fmt.Errorf("header %s: %w", x.name, err)
			}
		}
	}
	return first, last, nil
}

// decodeEnvelope stream-decodes an envelope into p: each object is kept as the bytes received.
func decodeEnvelope(r io.Reader, p *Page) error {
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true))
	if err := expectDelim(dec, '{', "the envelope"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return envelopeErr(dec, err)
		}
		name := tok.String()
		if seen[name] && (name == "objects" || name == "more" || name == "next") {
			return fmt.Errorf("the envelope has %q twice", name)
		}
		seen[name] = true
		switch name {
		case "more":
			tok, err := dec.ReadToken()
			if err != nil {
				return envelopeErr(dec, err)
			}
			if k := tok.Kind(); k != 't' && k != 'f' {
				return fmt.Errorf("the envelope's more is %s, want true or false", kindName(k))
			}
			p.More = tok.Bool()
		case "next":
			tok, err := dec.ReadToken()
			if err != nil {
				return envelopeErr(dec, err)
			}
			if tok.Kind() != '"' {
				return fmt.Errorf("the envelope's next is %s, want a string", kindName(tok.Kind()))
			}
			p.Next = tok.String()
		case "objects":
			if err := expectDelim(dec, '[', "the envelope's objects"); err != nil {
				return err
			}
			for i := 0; dec.PeekKind() != ']'; i++ {
				v, err := dec.ReadValue()
				if err != nil {
					return envelopeErr(dec, err)
				}
				off := dec.InputOffset() - int64(len(v))
				if v.Kind() != '{' {
					return fmt.Errorf("objects[%d] (byte %d) is %s, not a JSON object", i, off, kindName(v.Kind()))
				}
				p.Objects = append(p.Objects, v.Clone())
			}
			if _, err := dec.ReadToken(); err != nil {
				return envelopeErr(dec, err)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return envelopeErr(dec, err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return envelopeErr(dec, err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return errors.New("data after the envelope")
		}
		return envelopeErr(dec, err)
	}
	return nil
}

func expectDelim(dec *jsontext.Decoder, want jsontext.Kind, what string) error {
	if k := dec.PeekKind(); k != want {
		if k == 0 {
			_, err := dec.ReadToken()
			return envelopeErr(dec, err)
		}
		return fmt.Errorf("%s is %s, want a JSON %s", what, kindName(k), kindName(want))
	}
	_, err := dec.ReadToken()
	return envelopeErr(dec, err)
}

func envelopeErr(dec *jsontext.Decoder, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrResponseTooLarge) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("the envelope ends early, at byte %d: %w", dec.InputOffset(), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("decoding the envelope: %w", err)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "nothing"
}

// ObjectsNext pages through a collection's objects the way the server leads: while a page says
// more, the next request carries its next value with the same query; when a page says more without
// a next, the next request uses its X-TAXII-Date-Added-Last as added_after (section 3.5). It stops
// after a page without more (or an empty page without next), and at the first error.
func (c *Client) ObjectsNext(ctx context.Context, root, collection string, q Query) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		seen := map[string]bool{}
		for {
			p, err := c.Objects(ctx, root, collection, q)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || !p.More {
				return
			}
			switch {
			case p.Next != "":
				if seen[p.Next] {
					yield(nil, fmt.Errorf("taxii: the server sent the same next value %q twice: stopping to avoid a loop", p.Next))
					return
				}
				seen[p.Next] = true
				q.Next = p.Next
			case len(p.Objects) == 0:
				return
			default:
				next, err := advance(q.AddedAfter, p)
				if err != nil {
					yield(nil, err)
					return
				}
				q.Next, q.AddedAfter = "", next
			}
		}
	}
}

// ObjectsAddedAfter pages through a collection's objects by added_after alone: each request carries
// the previous page's X-TAXII-Date-Added-Last (q.Next is not sent). It stops after an empty page or a
// page without more, and at the first error. Objects added while it pages come in later pages.
func (c *Client) ObjectsAddedAfter(ctx context.Context, root, collection string, q Query) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		q.Next = ""
		for {
			p, err := c.Objects(ctx, root, collection, q)
			if err != nil {
				yield(nil, err)
				return
			}
			p.Cursor.Next = ""
			if !yield(p, nil) || !p.More || len(p.Objects) == 0 {
				return
			}
			if q.AddedAfter, err = advance(q.AddedAfter, p); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// advance returns the added_after for the request after p, which must move forward.
func advance(prev time.Time, p *Page) (time.Time, error) {
	if p.DateAddedLast.IsZero() {
		return prev, errors.New("taxii: the server sent no X-TAXII-Date-Added-Last header, so paging by added_after cannot go on")
	}
	if !p.DateAddedLast.After(prev) {
		return prev, fmt.Errorf("taxii: X-TAXII-Date-Added-Last %s is not after added_after %s: stopping to avoid a loop",
			FormatTimestamp(p.DateAddedLast), FormatTimestamp(prev))
	}
	return p.DateAddedLast, nil
}

// Versions is one page of an object's versions.
type Versions struct {
	Versions                      []string
	More                          bool
	DateAddedFirst, DateAddedLast time.Time
}

// Versions reads one page of an object's versions (only AddedAfter, Limit, Next and SpecVersions are
// sent) (GET {root}/collections/{id}/objects/{object-id}/versions/).
func (c *Client) Versions(ctx context.Context, root, collection, id string, q Query) (*Versions, error) {
	u, err := c.endpoint(root, "collections", collection, "objects", id, "versions")
	if err != nil {
		return nil, err
	}
	u.RawQuery = Query{AddedAfter: q.AddedAfter, Limit: q.Limit, Next: q.Next, SpecVersions: q.SpecVersions}.values().Encode()
	var r struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}
	resp, err := c.getJSON(ctx, u, &r)
	if err != nil {
		return nil, err
	}
	v := &Versions{Versions: r.Versions, More: r.More}
	if v.DateAddedFirst, v.DateAddedLast, err = dateAdded(resp.Header); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", u.Redacted(), err)
	}
	return v, nil
}

// Manifest is one page of a collection's manifest.
type Manifest struct {
	Objects                       []ManifestRecord
	More                          bool
	Next                          string
	DateAddedFirst, DateAddedLast time.Time
}

// Manifest reads one page of a collection's manifest (GET {root}/collections/{id}/manifest/).
func (c *Client) Manifest(ctx context.Context, root, collection string, q Query) (*Manifest, error) {
	u, err := c.endpoint(root, "collections", collection, "manifest")
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.values().Encode()
	var r struct {
		More    bool             `json:"more"`
		Next    string           `json:"next"`
		Objects []ManifestRecord `json:"objects"`
	}
	resp, err := c.getJSON(ctx, u, &r)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Objects: r.Objects, More: r.More, Next: r.Next}
	if m.DateAddedFirst, m.DateAddedLast, err = dateAdded(resp.Header); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", u.Redacted(), err)
	}
	return m, nil
}
