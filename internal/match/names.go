package match

import (
	"fmt"
	"maps"
	"strings"
)

// KindHost is a kind for field mappings: an address or a domain name, decided by the value's form.
const KindHost = kindHostish

// DefaultFields maps the field names common in JSON and CSV logs (Zeek's JSON output, Elastic
// Common Schema, Suricata's eve.json and generic names) to kinds. NewFormat uses it when no
// fields are given.
func DefaultFields() map[string]Kind {
	return map[string]Kind{
		"id.orig_h": KindIP, "id.resp_h": KindIP, "src_ip": KindIP, "dest_ip": KindIP, "dst_ip": KindIP,
		"src": KindIP, "dst": KindIP, "source.ip": KindIP, "destination.ip": KindIP, "client.ip": KindIP,
		"server.ip": KindIP, "ip": KindIP,
		"query": KindDomain, "dns.rrname": KindDomain, "dns.question.name": KindDomain, "domain": KindDomain,
		"server_name": KindDomain, "tls.sni": KindDomain, "url.domain": KindDomain, "destination.domain": KindDomain,
		"host": KindHost, "hostname": KindHost, "http.hostname": KindHost, "answers": KindHost,
		"url": KindURL, "url.full": KindURL, "uri": KindURL, "referrer": KindURL,
		"email": KindEmail, "from": KindEmail, "to": KindEmail, "mailfrom": KindEmail, "rcptto": KindEmail,
		"md5": KindHash, "sha1": KindHash, "sha256": KindHash, "hash": KindHash,
		"file.hash.md5": KindHash, "file.hash.sha1": KindHash, "file.hash.sha256": KindHash,
	}
}

// FormatNames lists the names NewFormat accepts.
const FormatNames = "jsonl, zeek, csv, text"

// FormatOptions choose a log format by name and configure it.
type FormatOptions struct {
	Name string // jsonl, zeek, csv or text
	// Fields maps JSON members (dotted paths), CSV column names (or 1-based numbers with NoHeader)
	// and extra Zeek fields to kinds. Nil: DefaultFields for jsonl and csv.
	Fields    map[string]Kind
	TimeField string // jsonl member or csv column holding the line's time ("": none)
	NoHeader  bool   // csv: the first line is data, Fields names columns by number
}

// NewFormat returns the Format named by o.Name.
func NewFormat(o FormatOptions) (Format, error) {
	fields := o.Fields
	if fields == nil && o.Name != "zeek" {
		fields = DefaultFields()
	}
	switch strings.ToLower(o.Name) {
	case "text", "":
		return Text{}, nil
	case "zeek":
		return Zeek{Fields: maps.Clone(fields)}, nil
	case "jsonl", "json":
		return JSONLines{Fields: fields, TimeField: o.TimeField}, nil
	case "csv":
		return CSV{HasHeader: !o.NoHeader, Columns: fields, TimeColumn: o.TimeField}, nil
	}
	return nil, fmt.Errorf("unknown log format %q (want one of %s)", o.Name, FormatNames)
}

// ParseField reads a "name=kind" field mapping ("host" is KindHost).
func ParseField(s string) (string, Kind, error) {
	name, kind, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", 0, fmt.Errorf("field %q: want name=kind, e.g. src_ip=ip", s)
	}
	if strings.EqualFold(strings.TrimSpace(kind), "host") {
		return name, KindHost, nil
	}
	k, err := ParseKind(kind)
	if err != nil {
		return "", 0, fmt.Errorf("field %q: %w", s, err)
	}
	return name, k, nil
}
