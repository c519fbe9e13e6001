package taxii

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Parameters an endpoint accepts (§5). A match field the specification defines but the endpoint does
// not accept is a bad request; a match field the specification does not define is ignored, as §3.4
// allows; so is any other parameter.
type params uint8

const (
	pAddedAfter params = 1 << iota
	pLimit
	pNext
	pID
	pType
	pVersion
	pSpecVersion

	pPaging       = pAddedAfter | pLimit | pNext
	paramsObjects = pPaging | pID | pType | pVersion | pSpecVersion
	paramsObject  = pPaging | pVersion | pSpecVersion
	paramsVersion = pPaging | pSpecVersion
	paramsDelete  = pVersion | pSpecVersion
)

var paramNames = []struct {
	name string
	p    params
}{
	{"added_after", pAddedAfter}, {"limit", pLimit}, {"next", pNext}, {"match[id]", pID},
	{"match[type]", pType}, {"match[version]", pVersion}, {"match[spec_version]", pSpecVersion},
}

// Limits on filter values.
const (
	maxFilterValues = 1000
	maxParamBytes   = 64 << 10
)

// query is a parsed request query.
type query struct {
	addedAfter time.Time
	limit      int
	next       string
	ids        []string
	types      []string
	specs      []string
	versions   store.VersionMatch
	// binding is the canonical text of every filter (not limit, not next): a next value is valid only
	// for the query that produced it.
	binding string
}

// parseQuery reads the query of a request to an endpoint that accepts allowed.
func parseQuery(raw string, allowed params, pageSize, maxPage int) (query, *Error) {
	q := query{limit: pageSize, versions: store.VersionMatch{Kind: store.VersionsLast}}
	if len(raw) > maxParamBytes {
		return q, badRequest("the query is longer than " + strconv.Itoa(maxParamBytes) + " bytes")
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, badRequest("the query is not valid URL encoding: " + err.Error())
	}
	var b strings.Builder
	for _, pn := range paramNames {
		vs, ok := vals[pn.name]
		if !ok {
			continue
		}
		if allowed&pn.p == 0 {
			return q, badRequest(pn.name + " is not supported by this endpoint")
		}
		if len(vs) != 1 {
			return q, badRequest(pn.name + " is given " + strconv.Itoa(len(vs)) + " times; give it once")
		}
		v := vs[0]
		if v == "" {
			return q, badRequest(pn.name + " is empty")
		}
		if e := q.set(pn.p, pn.name, v, maxPage); e != nil {
			return q, e
		}
		if pn.p != pLimit && pn.p != pNext {
			b.WriteString(pn.name + "=" + v + "\x00")
		}
	}
	q.binding = b.String()
	return q, nil
}

func (q *query) set(p params, name, v string, maxPage int) *Error {
	switch p {
	case pAddedAfter:
		t, err := parseTimestamp(v)
		if err != nil {
			return badRequest("added_after: " + err.Error())
		}
		q.addedAfter = t
	case pLimit:
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return badRequest("limit must be a positive integer, found " + strconv.Quote(v))
		}
		q.limit = min(n, maxPage)
	case pNext:
		q.next = v
	case pID, pType, pSpecVersion, pVersion:
		list := strings.Split(v, ",")
		if len(list) > maxFilterValues {
			return badRequest(name + " has more than " + strconv.Itoa(maxFilterValues) + " values")
		}
		for _, x := range list {
			if x == "" {
				return badRequest(name + " has an empty value (values are separated by a comma, without spaces)")
			}
		}
		switch p {
		case pID:
			for _, x := range list {
				if !validID(x) {
					return badRequest("match[id]: " + strconv.Quote(x) + " is not a STIX id")
				}
			}
			q.ids = list
		case pType:
			for _, x := range list {
				if !validType(x) {
					return badRequest("match[type]: " + strconv.Quote(x) + " is not a STIX type name")
				}
			}
			q.types = list
		case pSpecVersion:
			for _, x := range list {
				if x != "2.0" && x != "2.1" {
					return badRequest("match[spec_version]: " + strconv.Quote(x) + " must be 2.0 or 2.1")
				}
			}
			q.specs = list
		case pVersion:
			vm, err := parseVersions(list)
			if err != nil {
				return err
			}
			q.versions = vm
		}
	}
	return nil
}

// parseVersions reads match[version]: first, last, all, or STIX timestamps, each at most once; all
// stands alone (§3.4.1).
func parseVersions(list []string) (store.VersionMatch, *Error) {
	vm := store.VersionMatch{Kind: store.VersionsKeys}
	seen := map[string]bool{}
	for _, x := range list {
		var key string
		if x != "first" && x != "last" && x != "all" {
			ts, err := stix.ParseTimestamp(x)
			if err != nil {
				return vm, badRequest("match[version]: " + strconv.Quote(x) + " is not first, last, all or a STIX timestamp")
			}
			key = ts.Key()
		} else {
			key = x
		}
		if seen[key] {
			return vm, badRequest("match[version]: " + strconv.Quote(x) + " is given twice")
		}
		seen[key] = true
		switch x {
		case "all":
			if len(list) > 1 {
				return vm, badRequest("match[version]: all may not be combined with other values")
			}
			return store.VersionMatch{Kind: store.VersionsAll}, nil
		case "first":
			vm.First = true
		case "last":
			vm.Last = true
		default:
			vm.Keys = append(vm.Keys, key)
		}
	}
	if len(vm.Keys) == 0 && vm.Last && !vm.First {
		return store.VersionMatch{Kind: store.VersionsLast}, nil
	}
	if len(vm.Keys) == 0 && vm.First && !vm.Last {
		return store.VersionMatch{Kind: store.VersionsFirst}, nil
	}
	return vm, nil
}

// parseTimestamp reads a TAXII or STIX timestamp: RFC 3339 in UTC with the Z designator.
func parseTimestamp(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, errTimestamp(s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errTimestamp(s)
	}
	return t, nil
}

type errTimestamp string

func (e errTimestamp) Error() string {
	return strconv.Quote(string(e)) + " is not a timestamp such as 2024-01-02T03:04:05.123456Z"
}

// formatTimestamp writes a TAXII timestamp: UTC, microsecond precision.
func formatTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// validID checks the shape of a STIX id: <type>--<UUID>.
func validID(s string) bool {
	typ, id, ok := strings.Cut(s, "--")
	return ok && validType(typ) && len(id) == 36 && strings.Count(id, "-") == 4
}

// validType checks a STIX type name: 3 to 250 lower-case letters, digits and hyphens.
func validType(s string) bool {
	if len(s) < 3 || len(s) > 250 {
		return false
	}
	return !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	})
}
