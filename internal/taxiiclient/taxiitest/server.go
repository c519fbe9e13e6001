// Package taxiitest owns a small fake TAXII 2.1 server, written from the specification, for the tests
// of the TAXII client and of the commands that use it. It keeps everything in memory, gives each
// added object version a strictly increasing date_added (microseconds from a fixed instant, not the
// clock), and records the requests it gets. It is not a reference implementation: renkei's server
// lives in internal/taxii.
package taxiitest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MediaType is the TAXII 2.1 media type.
const MediaType = "application/taxii+json;version=2.1"

// Epoch is the date_added of the first object added; each later one is a microsecond after the one
// before.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Config sets up a Server.
type Config struct {
	// Users maps HTTP Basic user names to their token (the password).
	Users map[string]string
	// Bearer lists the tokens accepted as "Authorization: Bearer".
	Bearer []string
	// Root is the API root's path, e.g. "/api1/" (default).
	Root string
	// MaxContentLength is the API root's max_content_length (default 1 MiB).
	MaxContentLength int64
	// PageSize caps the objects per page (default 100).
	PageSize int
}

// CollectionInfo describes a collection.
type CollectionInfo struct {
	ID, Title, Description string
	CanRead, CanWrite      bool
}

// Request is what the server recorded of one request.
type Request struct {
	Method, Path string
	Query        map[string][]string
	Header       http.Header
	BodyBytes    int
}

type record struct {
	id, typ, specVersion, version string
	dateAdded                     time.Time
	raw                           []byte
}

type collection struct {
	CollectionInfo
	records []record
}

// Server is the fake TAXII server. Its exported knobs may be changed between requests.
type Server struct {
	cfg Config

	mu          sync.Mutex
	collections []*collection
	statuses    map[string]*statusResource
	last        time.Time
	seq         int
	requests    []Request

	// ContentType, when set, replaces the Content-Type of every response.
	ContentType string
	// OmitNext leaves next out of envelopes, so clients must page by added_after.
	OmitNext bool
	// PendingPolls is how many status requests answer "pending" before "complete".
	PendingPolls int
	// Padding adds this many spaces to every envelope, to make responses large.
	Padding int
}

// New returns a server with no collections.
func New(cfg Config) *Server {
	if cfg.Root == "" {
		cfg.Root = "/api1/"
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = 1 << 20
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	return &Server{cfg: cfg, statuses: map[string]*statusResource{}, last: Epoch.Add(-time.Microsecond)}
}

// AddCollection adds a collection.
func (s *Server) AddCollection(c CollectionInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collections = append(s.collections, &collection{CollectionInfo: c})
}

// Add adds objects (raw JSON) to a collection, as a POST would, and returns their date_added. It
// panics on bad input: it is for setting tests up.
func (s *Server) Add(collectionID string, objects ...string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(collectionID)
	if c == nil {
		panic("taxiitest: no collection " + collectionID)
	}
	var out []time.Time
	for _, o := range objects {
		r, err := s.add(c, []byte(o))
		if err != nil {
			panic("taxiitest: " + err.Error())
		}
		out = append(out, r)
	}
	return out
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Objects returns the raw objects of a collection, in date_added order.
func (s *Server) Objects(collectionID string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	if c := s.find(collectionID); c != nil {
		for _, r := range c.records {
			out = append(out, r.raw)
		}
	}
	return out
}

func (s *Server) find(id string) *collection {
	for _, c := range s.collections {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// add stores one object version; an identical one already there is a success, a different one with
// the same id and version an error.
func (s *Server) add(c *collection, raw []byte) (time.Time, error) {
	var o struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		SpecVersion string `json:"spec_version"`
		Created     string `json:"created"`
		Modified    string `json:"modified"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return time.Time{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if o.ID == "" || o.Type == "" || !strings.HasPrefix(o.ID, o.Type+"--") {
		return time.Time{}, fmt.Errorf("object has no valid id and type")
	}
	v := o.Modified
	if v == "" {
		v = o.Created
	}
	if o.SpecVersion == "" {
		o.SpecVersion = "2.0"
	}
	for _, r := range c.records {
		if r.id == o.ID && r.version == v {
			if string(r.raw) == string(raw) {
				return r.dateAdded, nil
			}
			return time.Time{}, fmt.Errorf("%s version %s is already stored with other content", o.ID, v)
		}
	}
	s.last = s.last.Add(time.Microsecond)
	c.records = append(c.records, record{id: o.ID, typ: o.Type, specVersion: o.SpecVersion, version: v, dateAdded: s.last, raw: slices.Clone(raw)})
	return s.last, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	root := s.cfg.Root
	mux.HandleFunc("GET /taxii2/{$}", s.discovery)
	mux.HandleFunc("GET "+root+"{$}", s.apiRoot)
	mux.HandleFunc("GET "+root+"status/{sid}/{$}", s.status)
	mux.HandleFunc("GET "+root+"collections/{$}", s.listCollections)
	mux.HandleFunc("GET "+root+"collections/{cid}/{$}", s.getCollection)
	mux.HandleFunc("GET "+root+"collections/{cid}/objects/{$}", s.getObjects)
	mux.HandleFunc("POST "+root+"collections/{cid}/objects/{$}", s.postObjects)
	mux.HandleFunc("GET "+root+"collections/{cid}/objects/{oid}/{$}", s.getObjects)
	mux.HandleFunc("DELETE "+root+"collections/{cid}/objects/{oid}/{$}", s.deleteObject)
	mux.HandleFunc("GET "+root+"collections/{cid}/objects/{oid}/versions/{$}", s.versions)
	mux.HandleFunc("GET "+root+"collections/{cid}/manifest/{$}", s.manifest)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), BodyBytes: int(r.ContentLength)})
		s.mu.Unlock()
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="taxiitest", Bearer`)
			s.fail(w, http.StatusUnauthorized, "authentication required", "")
			return
		}
		if !acceptsTAXII(r.Header.Get("Accept")) {
			s.fail(w, http.StatusNotAcceptable, "not acceptable", "send Accept: "+MediaType)
			return
		}
		if r.Method == http.MethodPost {
			if !isTAXII(r.Header.Get("Content-Type")) {
				s.fail(w, http.StatusUnsupportedMediaType, "unsupported media type", "send Content-Type: "+MediaType)
				return
			}
			if r.ContentLength > s.cfg.MaxContentLength {
				s.fail(w, http.StatusRequestEntityTooLarge, "request too large", fmt.Sprintf("max_content_length is %d", s.cfg.MaxContentLength))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxContentLength)
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		want, known := s.cfg.Users[u]
		return known && subtle.ConstantTimeCompare([]byte(p), []byte(want)) == 1
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		for _, b := range s.cfg.Bearer {
			if subtle.ConstantTimeCompare([]byte(tok), []byte(b)) == 1 {
				return true
			}
		}
	}
	return false
}

// acceptsTAXII reports whether an Accept header admits TAXII 2.1.
func acceptsTAXII(h string) bool {
	for _, part := range strings.Split(h, ",") {
		if isTAXII(part) {
			return true
		}
	}
	return false
}

func isTAXII(v string) bool {
	mt, params, err := mime.ParseMediaType(strings.TrimSpace(v))
	if err != nil || mt != "application/taxii+json" {
		return false
	}
	ver, ok := params["version"]
	return !ok || ver == "2.1"
}

func (s *Server) write(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.writeRaw(w, status, body)
}

func (s *Server) writeRaw(w http.ResponseWriter, status int, body []byte) {
	ct := MediaType
	if s.ContentType != "" {
		ct = s.ContentType
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) fail(w http.ResponseWriter, status int, title, desc string) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("err-%d", s.seq)
	s.mu.Unlock()
	s.write(w, status, map[string]any{
		"title": title, "description": desc, "error_id": id, "http_status": strconv.Itoa(status),
	})
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	s.write(w, http.StatusOK, map[string]any{
		"title": "taxiitest", "description": "a fake TAXII server", "default": s.cfg.Root,
		"api_roots": []string{s.cfg.Root},
	})
}

func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request) {
	s.write(w, http.StatusOK, map[string]any{
		"title": "API root one", "versions": []string{MediaType}, "max_content_length": s.cfg.MaxContentLength,
	})
}

func collectionJSON(c *collection) map[string]any {
	m := map[string]any{"id": c.ID, "title": c.Title, "can_read": c.CanRead, "can_write": c.CanWrite,
		"media_types": []string{"application/stix+json;version=2.1"}}
	if c.Description != "" {
		m["description"] = c.Description
	}
	return m
}

func (s *Server) listCollections(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var list []map[string]any
	for _, c := range s.collections {
		list = append(list, collectionJSON(c))
	}
	s.mu.Unlock()
	if len(list) == 0 {
		s.write(w, http.StatusOK, map[string]any{})
		return
	}
	s.write(w, http.StatusOK, map[string]any{"collections": list})
}

// collection finds the request's collection and checks the permission; it writes the error itself.
func (s *Server) collection(w http.ResponseWriter, r *http.Request, read, write bool) *collection {
	s.mu.Lock()
	c := s.find(r.PathValue("cid"))
	s.mu.Unlock()
	switch {
	case c == nil:
		s.fail(w, http.StatusNotFound, "no such collection", "")
	case !c.CanRead && !c.CanWrite:
		s.fail(w, http.StatusNotFound, "no such collection", "")
	case read && !c.CanRead, write && !c.CanWrite:
		s.fail(w, http.StatusForbidden, "forbidden", "you may not do that in this collection")
	default:
		return c
	}
	return nil
}

func (s *Server) getCollection(w http.ResponseWriter, r *http.Request) {
	if c := s.collection(w, r, false, false); c != nil {
		s.write(w, http.StatusOK, collectionJSON(c))
	}
}

// query is a parsed request's filters.
type query struct {
	addedAfter         time.Time
	limit              int
	ids, types, specVs []string
	versions           []string
}

func (s *Server) parseQuery(r *http.Request) (query, error) {
	q := query{limit: s.cfg.PageSize}
	vals := r.URL.Query()
	for name, vs := range vals {
		if len(vs) > 1 {
			return q, fmt.Errorf("parameter %s is repeated", name)
		}
	}
	if a := vals.Get("added_after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil || !strings.HasSuffix(a, "Z") {
			return q, fmt.Errorf("added_after %q is not a timestamp", a)
		}
		q.addedAfter = t
	}
	if l := vals.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return q, fmt.Errorf("limit %q is not a positive integer", l)
		}
		q.limit = min(n, s.cfg.PageSize)
	}
	if n := vals.Get("next"); n != "" {
		us, err := strconv.ParseInt(strings.TrimPrefix(n, "after-"), 10, 64)
		if err != nil || !strings.HasPrefix(n, "after-") {
			return q, fmt.Errorf("next %q is not one of ours", n)
		}
		// next is the date_added of the last object sent; it takes over from added_after.
		q.addedAfter = time.UnixMicro(us).UTC()
	}
	split := func(name string) []string {
		if v := vals.Get(name); v != "" {
			return strings.Split(v, ",")
		}
		return nil
	}
	q.ids, q.types, q.specVs, q.versions = split("match[id]"), split("match[type]"), split("match[spec_version]"), split("match[version]")
	if oid := r.PathValue("oid"); oid != "" {
		q.ids = []string{oid}
	}
	return q, nil
}

// selectRecords applies q (all but added_after and limit) to c's records, in date_added order.
func selectRecords(c *collection, q query) []record {
	first, last := map[string]string{}, map[string]string{}
	for _, rec := range c.records {
		if f, ok := first[rec.id]; !ok || rec.version < f {
			first[rec.id] = rec.version
		}
		if l, ok := last[rec.id]; !ok || rec.version > l {
			last[rec.id] = rec.version
		}
	}
	versions := q.versions
	if len(versions) == 0 {
		versions = []string{"last"}
	}
	var out []record
	for _, rec := range c.records {
		if len(q.ids) > 0 && !slices.Contains(q.ids, rec.id) ||
			len(q.types) > 0 && !slices.Contains(q.types, rec.typ) ||
			len(q.specVs) > 0 && !slices.Contains(q.specVs, rec.specVersion) {
			continue
		}
		keep := false
		for _, v := range versions {
			keep = keep || v == "all" || v == "first" && rec.version == first[rec.id] ||
				v == "last" && rec.version == last[rec.id] || v == rec.version
		}
		if keep {
			out = append(out, rec)
		}
	}
	return out
}

// page cuts the records after q.addedAfter to q.limit, and says whether more follow.
func page(recs []record, q query) ([]record, bool) {
	var after []record
	for _, rec := range recs {
		if rec.dateAdded.After(q.addedAfter) {
			after = append(after, rec)
		}
	}
	if len(after) > q.limit {
		return after[:q.limit], true
	}
	return after, false
}

func setDateHeaders(w http.ResponseWriter, recs []record) {
	if len(recs) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", recs[0].dateAdded.Format("2006-01-02T15:04:05.000000Z"))
		w.Header().Set("X-TAXII-Date-Added-Last", recs[len(recs)-1].dateAdded.Format("2006-01-02T15:04:05.000000Z"))
	}
}

func (s *Server) getObjects(w http.ResponseWriter, r *http.Request) {
	c := s.collection(w, r, true, false)
	if c == nil {
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "bad query", err.Error())
		return
	}
	s.mu.Lock()
	recs, more := page(selectRecords(c, q), q)
	s.mu.Unlock()
	if r.PathValue("oid") != "" && len(recs) == 0 {
		s.fail(w, http.StatusNotFound, "no such object", "")
		return
	}
	setDateHeaders(w, recs)
	var b strings.Builder
	b.WriteString("{")
	sep := ""
	if more {
		b.WriteString(`"more":true`)
		sep = ","
		if !s.OmitNext {
			fmt.Fprintf(&b, `,"next":"after-%d"`, recs[len(recs)-1].dateAdded.UnixMicro())
		}
	}
	if len(recs) > 0 {
		b.WriteString(sep + `"objects":[`)
		for i, rec := range recs {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.Write(rec.raw)
		}
		b.WriteString("]")
	}
	b.WriteString(strings.Repeat(" ", s.Padding) + "}")
	s.writeRaw(w, http.StatusOK, []byte(b.String()))
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) {
	c := s.collection(w, r, true, false)
	if c == nil {
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "bad query", err.Error())
		return
	}
	q.versions = []string{"all"}
	s.mu.Lock()
	recs, more := page(selectRecords(c, q), q)
	s.mu.Unlock()
	if len(recs) == 0 {
		s.fail(w, http.StatusNotFound, "no such object", "")
		return
	}
	setDateHeaders(w, recs)
	var vs []string
	for _, rec := range recs {
		vs = append(vs, rec.version)
	}
	s.write(w, http.StatusOK, map[string]any{"more": more, "versions": vs})
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	c := s.collection(w, r, true, false)
	if c == nil {
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "bad query", err.Error())
		return
	}
	s.mu.Lock()
	recs, more := page(selectRecords(c, q), q)
	s.mu.Unlock()
	setDateHeaders(w, recs)
	out := map[string]any{}
	if more {
		out["more"] = true
	}
	var list []map[string]string
	for _, rec := range recs {
		list = append(list, map[string]string{"id": rec.id, "date_added": rec.dateAdded.Format("2006-01-02T15:04:05.000000Z"),
			"version": rec.version, "media_type": "application/stix+json;version=" + rec.specVersion})
	}
	if len(list) > 0 {
		out["objects"] = list
	}
	s.write(w, http.StatusOK, out)
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) {
	c := s.collection(w, r, true, true)
	if c == nil {
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "bad query", err.Error())
		return
	}
	if len(q.versions) == 0 {
		q.versions = []string{"all"}
	}
	s.mu.Lock()
	gone := selectRecords(c, q)
	c.records = slices.DeleteFunc(c.records, func(rec record) bool {
		return slices.ContainsFunc(gone, func(g record) bool { return g.id == rec.id && g.version == rec.version })
	})
	s.mu.Unlock()
	if len(gone) == 0 {
		s.fail(w, http.StatusNotFound, "no such object", "")
		return
	}
	s.writeRaw(w, http.StatusOK, nil)
}

type statusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

type statusResource struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []statusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []statusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	polls            int
}

func (s *Server) postObjects(w http.ResponseWriter, r *http.Request) {
	c := s.collection(w, r, false, true)
	if c == nil {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "request too large", err.Error())
		return
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		s.fail(w, http.StatusBadRequest, "not an envelope", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	st := &statusResource{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq), RequestTimestamp: s.last.Format("2006-01-02T15:04:05.000000Z"),
		TotalCount: len(env.Objects)}
	for _, o := range env.Objects {
		var head struct {
			ID       string `json:"id"`
			Modified string `json:"modified"`
			Created  string `json:"created"`
		}
		if err := json.Unmarshal(o, &head); err != nil {
			st.FailureCount++
			st.Failures = append(st.Failures, statusDetails{Message: "not a JSON object: " + err.Error()})
			continue
		}
		v := head.Modified
		if v == "" {
			v = head.Created
		}
		if _, err := s.add(c, o); err != nil {
			st.FailureCount++
			st.Failures = append(st.Failures, statusDetails{ID: head.ID, Version: v, Message: err.Error()})
			continue
		}
		st.SuccessCount++
		st.Successes = append(st.Successes, statusDetails{ID: head.ID, Version: v})
	}
	st.Status = "complete"
	if s.PendingPolls > 0 {
		st.polls = s.PendingPolls
	}
	s.statuses[st.ID] = st
	s.write(w, http.StatusAccepted, st.view())
}

// view is the status as shown now: pending, with nothing settled, while polls remain.
func (st *statusResource) view() statusResource {
	v := *st
	if st.polls > 0 {
		v.Status, v.SuccessCount, v.FailureCount, v.PendingCount = "pending", 0, 0, st.TotalCount
		v.Successes, v.Failures = nil, nil
	}
	return v
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	st, ok := s.statuses[r.PathValue("sid")]
	var v statusResource
	if ok {
		v = st.view()
		if st.polls > 0 {
			st.polls--
		}
	}
	s.mu.Unlock()
	if !ok {
		s.fail(w, http.StatusNotFound, "no such status", "")
		return
	}
	s.write(w, http.StatusOK, v)
}
