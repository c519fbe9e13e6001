package taxii

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// Header names.
const (
	HeaderDateAddedFirst = "X-TAXII-Date-Added-First"
	HeaderDateAddedLast  = "X-TAXII-Date-Added-Last"
)

// page is one page of forms the viewer may read.
type page struct {
	versions []store.Version
	more     bool
	next     string
}

// listing names what a next value is bound to besides the filters.
type listing struct {
	endpoint string // "objects", "manifest", "object", "versions"
	objectID string
}

// list reads one page of the collection for the viewer: the store's query is narrowed to the viewer's
// scope, and every form is checked again with the policy before it may leave.
func (h *Handler) list(r *http.Request, v policy.Viewer, a access, q query, l listing) (page, error) {
	binding := v.UserID + "\x00" + l.endpoint + "\x00" + r.PathValue("root") + "\x00" + a.c.ID + "\x00" + l.objectID + "\x00" + q.binding
	var after store.Cursor
	if q.next != "" {
		c, ok := h.openCursor(q.next, binding)
		if !ok {
			return page{}, badRequest("next does not belong to this query: repeat the query's parameters exactly, as the same user")
		}
		after = c
	}
	f := store.Filter{Scope: policy.StoreScope(v), Collection: a.c.ID, IDs: q.ids, Types: q.types,
		SpecVersions: q.specs, Versions: q.versions, AddedAfter: q.addedAfter}
	if l.objectID != "" {
		f.IDs = []string{l.objectID}
	}
	sp, err := h.o.Store.List(r.Context(), f, after, q.limit)
	if err != nil {
		return page{}, err
	}
	p := page{versions: sp.Versions[:0], more: sp.More}
	for _, ver := range sp.Versions {
		if d := policy.CanVersion(v, policy.ActionRead, &ver); !d.Allow {
			// The scope and the decision disagree: a bug. Leave the form out and say so.
			h.o.Logger.Error("policy scope let through a form the policy denies", "id", ver.ID,
				"version", ver.VersionKey, "user", v.UserID, "reason", d.Reason.String())
			continue
		}
		if !h.guard(r, v, &ver) {
			continue
		}
		p.versions = append(p.versions, ver)
	}
	if sp.More {
		p.next = h.sealCursor(sp.Next, binding)
	}
	return p, nil
}

// guard applies the personal-data policy to a form read by a viewer of another organisation than
// its creator: the form's Raw becomes the copy that may leave, or guard returns false when the form
// must not leave (blocked: it is left out as if the viewer could not read it, on every endpoint, so
// that a manifest never lists what objects would not return). The stored bytes are not changed.
// Findings are logged by rule and path, never with the value.
func (h *Handler) guard(r *http.Request, v policy.Viewer, ver *store.Version) bool {
	if ver.CreatedByRef != "" && ver.CreatedByRef == v.Org {
		return true
	}
	if ver.Memo != nil && ver.Memo.Load() == h.guardID {
		return true
	}
	if h.clean.has(ver.Digest) {
		if ver.Memo != nil {
			ver.Memo.Store(h.guardID)
		}
		return true
	}
	out, findings, err := pii.Apply(ver.Raw, *h.o.PII)
	if err != nil {
		h.o.Logger.Info("personal data: form withheld", "request_id", h.o.RequestID(r.Context()), "id", ver.ID,
			"version", ver.VersionKey, "user", v.UserID, "err", err)
		return false
	}
	if len(findings) == 0 {
		h.clean.add(ver.Digest)
		if ver.Memo != nil {
			ver.Memo.Store(h.guardID)
		}
	} else {
		h.o.Logger.Debug("personal data: copy rewritten", "request_id", h.o.RequestID(r.Context()), "id", ver.ID,
			"version", ver.VersionKey, "user", v.UserID, "mode", h.o.PII.Mode.String(), "findings", findings)
	}
	ver.Raw = out
	return true
}

// guardIDs numbers the handlers of this process, so that each marks the forms its guard found clean
// with its own number in the form's memo word (store.Version.Memo): handlers with different
// personal-data policies may share a store, and a form one policy leaves alone another may not.
// 0 is no handler's number.
var guardIDs atomic.Uint32

// cleanShards and maxClean bound the digests a cleanSet keeps: 2^21 in all (16 bytes each, plus
// the maps' overhead), enough for a million-object collection; each shard starts again empty when
// full.
const (
	cleanShards = 16
	maxClean    = 1 << 21
)

// cleanSet holds the digests of forms in which the personal-data guard found nothing. A form's
// findings depend only on its strings and member names, which its canonical digest fixes, so a
// digest once found clean stays clean; the guard then costs a map lookup instead of a scan of the
// bytes (3–19 µs a form). It keeps the first 128 bits of each SHA-256 digest (the first 64 as the
// key, the next 64 as the value, so that the map takes its fast path for integer keys): finding a
// form whose digest shares them with a clean one takes about 2^64 tries. Sharded, so that the
// connections of a busy server, each reading a hundred digests a page, do not queue on one lock.
type cleanSet struct {
	shards [cleanShards]struct {
		mu sync.RWMutex
		m  map[uint64]uint64
	}
}

func (c *cleanSet) has(d [sha256.Size]byte) bool {
	k, v := binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:16])
	sh := &c.shards[k%cleanShards]
	sh.mu.RLock()
	got, ok := sh.m[k]
	sh.mu.RUnlock()
	return ok && got == v
}

func (c *cleanSet) add(d [sha256.Size]byte) {
	k, v := binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:16])
	sh := &c.shards[k%cleanShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil || len(sh.m) >= maxClean/cleanShards {
		sh.m = make(map[uint64]uint64, 1024)
	}
	sh.m[k] = v
}

// dateHeaders sets X-TAXII-Date-Added-First and -Last from the forms returned. An empty response has
// no first or last object, and gets neither (docs/TAXII.md).
func dateHeaders(w http.ResponseWriter, vs []store.Version) {
	if len(vs) == 0 {
		return
	}
	w.Header().Set(HeaderDateAddedFirst, formatTimestamp(vs[0].DateAdded))
	w.Header().Set(HeaderDateAddedLast, formatTimestamp(vs[len(vs)-1].DateAdded))
}

// versionOf is a form's version in TAXII: modified, else created, else (an SCO) its date_added in the
// collection, the "value consistent to the server" §5.3.1 asks for.
func versionOf(v *store.Version) string {
	switch {
	case v.Modified != "":
		return v.Modified
	case v.Created != "":
		return v.Created
	}
	return formatTimestamp(v.DateAdded)
}

func mediaTypeOf(v *store.Version) string {
	if v.SpecVersion == "2.0" {
		return MediaSTIX20
	}
	return MediaSTIX21
}

// envelopes reuses the buffers responses are built in: a page of 100 objects is about 70 KB, which
// a new buffer would allocate, clear and grow for every request.
var envelopes = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledEnvelope is the largest buffer kept for reuse; a rare larger one goes to the collector.
const maxPooledEnvelope = 4 << 20

// writeEnvelope writes {"more":…,"next":…,"<member>":[items…]}, or {} when there is nothing, with
// status 200; size is about how many bytes items writes.
func writeEnvelope(w http.ResponseWriter, p page, member string, size int, items func(b *bytes.Buffer)) {
	b := envelopes.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledEnvelope {
			b.Reset()
			envelopes.Put(b)
		}
	}()
	b.Grow(size + len(p.next) + 64)
	b.WriteByte('{')
	if p.more {
		b.WriteString(`"more":true`)
		if p.next != "" {
			b.WriteString(`,"next":"` + p.next + `"`) // base64url: nothing to escape
		}
	}
	if len(p.versions) > 0 {
		if p.more {
			b.WriteByte(',')
		}
		b.WriteString(`"` + member + `":[`)
		items(b)
		b.WriteByte(']')
	}
	b.WriteByte('}')
	writeBody(w, http.StatusOK, b.Bytes())
}

func (h *Handler) readable(r *http.Request, v policy.Viewer) (access, error) {
	_, a, err := h.collectionOf(r, v)
	if err != nil {
		return a, err
	}
	if !a.read {
		return a, errForbidden("read")
	}
	return a, nil
}

func (h *Handler) parse(r *http.Request, allowed params) (query, error) {
	q, e := parseQuery(r.URL.RawQuery, allowed, h.o.Config.PageSize, h.o.Config.MaxPageSize)
	if e != nil {
		return q, e
	}
	return q, nil
}

// readPage is what the four read endpoints share: the collection must be readable, the query is
// parsed for the endpoint, one page is listed for the viewer; on the object endpoints, an object of
// which the viewer may read no form in the collection is not found.
func (h *Handler) readPage(r *http.Request, v policy.Viewer, allowed params, endpoint string, object bool) (page, error) {
	a, err := h.readable(r, v)
	if err != nil {
		return page{}, err
	}
	q, err := h.parse(r, allowed)
	if err != nil {
		return page{}, err
	}
	l := listing{endpoint: endpoint}
	if object {
		if l.objectID = r.PathValue("oid"); !validID(l.objectID) {
			return page{}, errNotFound
		}
		if endpoint == "versions" {
			q.versions = store.VersionMatch{Kind: store.VersionsAll}
		}
	}
	p, err := h.list(r, v, a, q, l)
	if err != nil {
		return page{}, err
	}
	if object && len(p.versions) == 0 && q.next == "" {
		if err := h.mustSee(r, v, a, l.objectID); err != nil {
			return page{}, err
		}
	}
	return p, nil
}

func (h *Handler) getObjects(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	p, err := h.readPage(r, v, paramsObjects, "objects", false)
	if err != nil {
		return err
	}
	writeObjects(w, p)
	h.reuse(p)
	return nil
}

// reuse hands a page's versions back to the store once the response is written.
func (h *Handler) reuse(p page) {
	if r, ok := h.o.Store.(store.PageReuser); ok {
		r.ReusePage(p.versions)
	}
}

func writeObjects(w http.ResponseWriter, p page) {
	dateHeaders(w, p.versions)
	size := 0
	for i := range p.versions {
		size += len(p.versions[i].Raw) + 1
	}
	writeEnvelope(w, p, "objects", size, func(b *bytes.Buffer) {
		for i, ver := range p.versions {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(ver.Raw) // the bytes as received
		}
	})
}

func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	p, err := h.readPage(r, v, paramsObjects, "manifest", false)
	if err != nil {
		return err
	}
	dateHeaders(w, p.versions)
	writeEnvelope(w, p, "objects", 160*len(p.versions), func(b *bytes.Buffer) {
		for i := range p.versions {
			ver := &p.versions[i]
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"id":`)
			appendString(b, ver.ID)
			b.WriteString(`,"date_added":"` + formatTimestamp(ver.DateAdded) + `","version":`)
			appendString(b, versionOf(ver))
			b.WriteString(`,"media_type":"` + mediaTypeOf(ver) + `"}`)
		}
	})
	h.reuse(p)
	return nil
}

// appendString writes s as a JSON string.
func appendString(b *bytes.Buffer, s string) {
	out, err := jsontext.AppendQuote(b.AvailableBuffer(), s)
	if err != nil {
		// Stored ids and timestamps are valid UTF-8; quote what is left of an invalid one.
		b.WriteString(strconv.Quote(s))
		return
	}
	b.Write(out)
}

// getObject answers the forms of one object. An object none of whose forms the viewer may read in the
// collection is not found, exactly like one that does not exist.
func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	p, err := h.readPage(r, v, paramsObject, "object", true)
	if err != nil {
		return err
	}
	writeObjects(w, p)
	return nil
}

// mustSee returns errNotFound unless the viewer may read some form of the object in the collection.
func (h *Handler) mustSee(r *http.Request, v policy.Viewer, a access, oid string) error {
	sp, err := h.o.Store.List(r.Context(), store.Filter{Scope: policy.StoreScope(v), Collection: a.c.ID,
		IDs: []string{oid}, Versions: store.VersionMatch{Kind: store.VersionsAll}, SpecVersions: []string{"2.0", "2.1"}}, store.Cursor{}, 1)
	if err != nil {
		return err
	}
	if len(sp.Versions) == 0 || !policy.CanVersion(v, policy.ActionRead, &sp.Versions[0]).Allow {
		return errNotFound
	}
	return nil
}

func (h *Handler) versions(w http.ResponseWriter, r *http.Request, v policy.Viewer) error {
	p, err := h.readPage(r, v, paramsVersion, "versions", true)
	if err != nil {
		return err
	}
	dateHeaders(w, p.versions)
	writeEnvelope(w, p, "versions", 40*len(p.versions), func(b *bytes.Buffer) {
		for i := range p.versions {
			if i > 0 {
				b.WriteByte(',')
			}
			appendString(b, versionOf(&p.versions[i]))
		}
	})
	return nil
}
