package correlate

import (
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// AppendJSON appends v as one line of JSON (with its newline): the same members as json.Marshal
// of v writes, several times faster. A pass over everything (All) writes millions of them.
func (v *Value) AppendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, v.Kind)
	b = append(b, `,"value":`...)
	b = appendString(b, v.Value)
	if v.Via != "" {
		b = append(b, `,"via":`...)
		b = appendString(b, v.Via)
	}
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(v.Count), 10)
	if v.More {
		b = append(b, `,"more":true`...)
	}
	b = append(b, `,"reporters":`...)
	b = strconv.AppendInt(b, int64(v.Reporters), 10)
	if len(v.Orgs) > 0 {
		b = append(b, `,"orgs":[`...)
		for i, o := range v.Orgs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, o)
		}
		b = append(b, ']')
	}
	b = append(b, `,"first_seen":`...)
	b = appendTime(b, v.FirstSeen)
	b = append(b, `,"last_seen":`...)
	b = appendTime(b, v.LastSeen)
	if v.Objects == nil {
		return append(b, `,"objects":null}`+"\n"...)
	}
	b = append(b, `,"objects":[`...)
	for i, o := range v.Objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, o.ID)
		b = append(b, `,"type":`...)
		b = appendString(b, o.Type)
		if o.CreatedByRef != "" {
			b = append(b, `,"created_by_ref":`...)
			b = appendString(b, o.CreatedByRef)
		}
		b = append(b, `,"stored":`...)
		b = appendTime(b, o.Stored)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendString appends s quoted. Invalid UTF-8 is written as U+FFFD, as json.Marshal does:
// AppendQuote then reports it, with the quoted text complete.
func appendString(b []byte, s string) []byte {
	if out, err := jsontext.AppendQuote(b, s); err == nil || len(out) > len(b) {
		return out
	}
	return append(b, `""`...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
