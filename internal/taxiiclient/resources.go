package taxiiclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Discovery is the discovery resource (section 4.1.1).
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot is the API root resource (section 4.2.1).
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is the collection resource (section 5.2.1).
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Status values.
const (
	StatusComplete = "complete"
	StatusPending  = "pending"
)

// Status is the status resource of an add-objects request (section 4.3.1).
type Status struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp,omitempty"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []StatusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []StatusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	Pendings         []StatusDetails `json:"pendings,omitempty"`
}

// StatusDetails is one object in a status resource.
type StatusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// ManifestRecord is one entry of a manifest resource (section 5.3.1).
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

// getJSON GETs u and unmarshals the TAXII resource into v.
func (c *Client) getJSON(ctx context.Context, u *url.URL, v any) (*response, error) {
	resp, err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.body.Close()
	if err := json.UnmarshalRead(resp.body, v); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: decoding the response: %w", u.Redacted(), err)
	}
	return resp, nil
}

// Discover reads the server's discovery resource (GET /taxii2/).
func (c *Client) Discover(ctx context.Context) (*Discovery, error) {
	u := c.BaseURL.JoinPath("taxii2") // JoinPath drops the trailing slash
	u.Path += "/"
	var d Discovery
	if _, err := c.getJSON(ctx, u, &d); err != nil {
		return nil, err
	}
	if d.Title == "" {
		return nil, fmt.Errorf("taxii: GET %s: the discovery resource has no title", u)
	}
	return &d, nil
}

// ResolveRoots returns the discovery's API roots as absolute URLs (relative ones resolved against
// the server's URL), without checking their origin.
func (c *Client) ResolveRoots(d *Discovery) []string {
	out := make([]string, 0, len(d.APIRoots))
	for _, r := range d.APIRoots {
		u, err := url.Parse(r)
		if err != nil {
			out = append(out, r)
			continue
		}
		out = append(out, c.BaseURL.ResolveReference(u).String())
	}
	return out
}

// APIRoot reads an API root's resource (GET {root}/).
func (c *Client) APIRoot(ctx context.Context, root string) (*APIRoot, error) {
	u, err := c.endpoint(root)
	if err != nil {
		return nil, err
	}
	var r APIRoot
	if _, err := c.getJSON(ctx, u, &r); err != nil {
		return nil, err
	}
	if r.MaxContentLength <= 0 {
		return nil, fmt.Errorf("taxii: GET %s: max_content_length is %d, want a positive integer", u, r.MaxContentLength)
	}
	return &r, nil
}

// Collections lists the API root's collections (GET {root}/collections/).
func (c *Client) Collections(ctx context.Context, root string) ([]Collection, error) {
	u, err := c.endpoint(root, "collections")
	if err != nil {
		return nil, err
	}
	var r struct {
		Collections []Collection `json:"collections"`
	}
	if _, err := c.getJSON(ctx, u, &r); err != nil {
		return nil, err
	}
	for i, col := range r.Collections {
		if col.ID == "" {
			return nil, fmt.Errorf("taxii: GET %s: collections[%d] has no id", u, i)
		}
	}
	return r.Collections, nil
}

// Collection reads one collection (GET {root}/collections/{id}/).
func (c *Client) Collection(ctx context.Context, root, id string) (*Collection, error) {
	u, err := c.endpoint(root, "collections", id)
	if err != nil {
		return nil, err
	}
	var col Collection
	if _, err := c.getJSON(ctx, u, &col); err != nil {
		return nil, err
	}
	if col.ID == "" {
		return nil, fmt.Errorf("taxii: GET %s: the collection has no id", u)
	}
	return &col, nil
}

// Status reads the status of an add-objects request (GET {root}/status/{id}/).
func (c *Client) Status(ctx context.Context, root, id string) (*Status, error) {
	u, err := c.endpoint(root, "status", id)
	if err != nil {
		return nil, err
	}
	var s Status
	if _, err := c.getJSON(ctx, u, &s); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", u, err)
	}
	return &s, nil
}

func (s *Status) check() error {
	switch {
	case s.ID == "":
		return errors.New("the status resource has no id")
	case s.Status != StatusComplete && s.Status != StatusPending:
		return fmt.Errorf("the status resource's status is %q, want complete or pending", s.Status)
	}
	return nil
}

// EnvelopeSize is the size of the envelope {"objects":[…]} holding objects of the given total size.
func EnvelopeSize(n int, objectBytes int64) int64 {
	const frame = int64(len(`{"objects":[]}`))
	if n == 0 {
		return int64(len(`{}`))
	}
	return frame + objectBytes + int64(n-1)
}

// AddObjects POSTs objects, each a complete JSON object sent as is, in one envelope to the collection
// (POST {root}/collections/{id}/objects/) and returns the status resource of the 202 answer. A body
// above the API root's max_content_length gets an *Error matching ErrRequestTooLarge.
func (c *Client) AddObjects(ctx context.Context, root, collection string, objects []jsontext.Value) (*Status, error) {
	u, err := c.endpoint(root, "collections", collection, "objects")
	if err != nil {
		return nil, err
	}
	var size int64
	for i, o := range objects {
		if o.Kind() != '{' {
			return nil, fmt.Errorf("taxii: add objects: objects[%d] is not a JSON object", i)
		}
		size += int64(len(o))
	}
	body := bytes.NewBuffer(make([]byte, 0, EnvelopeSize(len(objects), size)))
	if len(objects) == 0 {
		body.WriteString(`{}`)
	} else {
		body.WriteString(`{"objects":[`)
		for i, o := range objects {
			if i > 0 {
				body.WriteByte(',')
			}
			body.Write(o)
		}
		body.WriteString(`]}`)
	}
	resp, err := c.do(ctx, http.MethodPost, u, body, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	defer resp.body.Close()
	var s Status
	if err := json.UnmarshalRead(resp.body, &s); err != nil {
		return nil, fmt.Errorf("taxii: POST %s: decoding the status: %w", u, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("taxii: POST %s: %w", u, err)
	}
	return &s, nil
}

// DeleteObject deletes an object, or the versions q selects (only q.Versions and q.SpecVersions are
// sent), from a collection (DELETE {root}/collections/{id}/objects/{object-id}/).
func (c *Client) DeleteObject(ctx context.Context, root, collection, id string, q Query) error {
	u, err := c.endpoint(root, "collections", collection, "objects", id)
	if err != nil {
		return err
	}
	u.RawQuery = Query{Versions: q.Versions, SpecVersions: q.SpecVersions}.values().Encode()
	resp, err := c.do(ctx, http.MethodDelete, u, nil, http.StatusOK)
	if err != nil {
		return err
	}
	return resp.body.Close()
}
