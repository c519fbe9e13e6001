package server

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/formats/export"
	"github.com/renkei-cti/renkei/internal/formats/misp"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// handleExport answers GET /export/{format}?collection=C&destination=internal: the active indicators
// the viewer may read, in the format; for format misp, what the viewer may read as one MISP event
// (event_uuid and event_info set the event's uuid and info). Every version is read through the
// viewer's store scope and checked with policy.CanVersion, the personal-data guard rewrites or
// blocks each copy, and the TLP rule of docs/EXPORT.md applies. The counts of what was left out, by
// reason, are in the X-Renkei-Skipped header.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, ok := ViewerFrom(ctx)
	if !ok {
		return &HTTPError{Status: http.StatusUnauthorized, Title: "authentication required"}
	}
	q := r.URL.Query()
	isMISP := r.PathValue("format") == "misp"
	isSTIX := r.PathValue("format") == "stix"
	var format export.Format
	contentType, types := "application/json", misp.ExportTypes()
	switch {
	case isSTIX:
		contentType, types = "application/stix+json;version=2.1", nil
		if t := q.Get("type"); t != "" {
			types = strings.Split(t, ",")
			for _, typ := range types {
				if !stix.ValidTypeName(typ) {
					return &HTTPError{Status: http.StatusBadRequest, Title: "bad type parameter",
						Description: fmt.Sprintf("type %q is not a STIX type name", typ)}
				}
			}
		}
	case !isMISP:
		var err error
		if format, err = export.ParseFormat(r.PathValue("format")); err != nil {
			return &HTTPError{Status: http.StatusNotFound, Title: "unknown export format", Description: err.Error() + ", or stix, or misp"}
		}
		contentType, types = format.ContentType(), []string{"indicator"}
	}
	eo := misp.EventOptions{UUID: q.Get("event_uuid"), Info: q.Get("event_info")}
	if isMISP && eo.UUID != "" {
		if _, err := uuid.Parse(eo.UUID); err != nil || len(eo.UUID) != 36 {
			return &HTTPError{Status: http.StatusBadRequest, Title: "bad event_uuid parameter",
				Description: fmt.Sprintf("event_uuid %q is not a UUID", eo.UUID)}
		}
	}
	opts := export.Options{Now: time.Now(), DefaultTLP: policy.DefaultTLP, PII: s.pii}
	switch d := q.Get("destination"); d {
	case "", "external":
	case "internal":
		opts.Internal = true
	default:
		return &HTTPError{Status: http.StatusBadRequest, Title: "bad destination parameter",
			Description: fmt.Sprintf("destination %q: want internal or external", d)}
	}
	filter := store.Filter{Scope: policy.StoreScope(v), Types: types}
	if name := q.Get("collection"); name != "" {
		c, err := s.readableCollection(r, v, name)
		if err != nil {
			return err
		}
		filter.Collection = c.ID
	}
	tooMany := func(err error) error {
		if errors.Is(err, export.ErrTooMany) {
			return &HTTPError{Status: http.StatusUnprocessableEntity, Title: "too many objects", Description: err.Error(), Err: err}
		}
		return fmt.Errorf("export: %w", err)
	}
	var body bytes.Buffer
	var rep export.Report
	switch {
	case isSTIX:
		set, err := export.CollectObjects(ctx, s.readable(r, v, filter), opts)
		if err != nil {
			return tooMany(err)
		}
		rep = set.Report
		if err := export.WriteBundle(&body, set); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	case isMISP:
		set, err := export.CollectObjects(ctx, s.readable(r, v, filter), opts)
		if err != nil {
			return tooMany(err)
		}
		b, mrep, err := misp.WriteExport(set, eo)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		body.Write(b)
		rep = mrep
	default:
		set, err := export.Collect(ctx, s.readable(r, v, filter), opts)
		if err != nil {
			return tooMany(err)
		}
		rep = set.Report
		if err := export.Write(&body, format, set, export.WriteOptions{}, &rep); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Renkei-Exported", strconv.Itoa(rep.Exported))
	h.Set("X-Renkei-Skipped", skippedHeader(&rep))
	s.logger.InfoContext(ctx, "export", "request_id", RequestID(ctx), "user", v.UserID, "format", r.PathValue("format"),
		"exported", rep.Exported, "skipped", rep.Skipped(), "redacted", rep.Redacted, "internal", opts.Internal)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body.Bytes()); err != nil {
		s.logger.DebugContext(ctx, "export: client gone", "err", err)
	}
	return nil
}

// readableCollection finds a collection the viewer may read; any other is not found, so that a
// client cannot learn which collections exist.
func (s *Server) readableCollection(r *http.Request, v policy.Viewer, name string) (store.Collection, error) {
	notFound := &HTTPError{Status: http.StatusNotFound, Title: "collection not found"}
	c, err := s.store.Collection(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound
	}
	if err != nil {
		return c, fmt.Errorf("export: collection: %w", err)
	}
	grants, err := s.store.Grants(r.Context(), c.ID)
	if err != nil {
		return c, fmt.Errorf("export: grants: %w", err)
	}
	if read, _ := policy.CollectionAccess(v, grants); !read {
		return c, notFound
	}
	return c, nil
}

// readable scans the store with f and yields only the forms the viewer may read.
func (s *Server) readable(r *http.Request, v policy.Viewer, f store.Filter) iter.Seq2[store.Version, error] {
	return func(yield func(store.Version, error) bool) {
		for ver, err := range s.store.Scan(r.Context(), f) {
			if err != nil {
				yield(ver, err)
				return
			}
			if !policy.CanVersion(v, policy.ActionRead, &ver).Allow {
				continue
			}
			if !yield(ver, nil) {
				return
			}
		}
	}
}

// skippedHeader renders the counts of a report as "reason=n, ...", reasons sorted.
func skippedHeader(rep *export.Report) string {
	var parts []string
	for reason, n := range rep.Counts {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.ReplaceAll(string(reason), " ", "-"), n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
