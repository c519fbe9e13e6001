package taxiiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Sentinel errors an *Error matches with errors.Is, by its HTTP status.
var (
	ErrBadRequest           = errors.New("bad request")              // 400
	ErrUnauthorized         = errors.New("unauthorized")             // 401
	ErrForbidden            = errors.New("forbidden")                // 403
	ErrNotFound             = errors.New("not found")                // 404
	ErrNotAcceptable        = errors.New("not acceptable")           // 406
	ErrRequestTooLarge      = errors.New("request entity too large") // 413
	ErrUnsupportedMediaType = errors.New("unsupported media type")   // 415
	ErrUnprocessable        = errors.New("unprocessable content")    // 422
)

var statusSentinels = map[int]error{
	http.StatusBadRequest:            ErrBadRequest,
	http.StatusUnauthorized:          ErrUnauthorized,
	http.StatusForbidden:             ErrForbidden,
	http.StatusNotFound:              ErrNotFound,
	http.StatusNotAcceptable:         ErrNotAcceptable,
	http.StatusRequestEntityTooLarge: ErrRequestTooLarge,
	http.StatusUnsupportedMediaType:  ErrUnsupportedMediaType,
	http.StatusUnprocessableEntity:   ErrUnprocessable,
}

// Error is a response with an unexpected HTTP status, with the TAXII error resource the server sent
// (its fields are empty when the body was not one).
type Error struct {
	Method     string
	URL        string // without credentials
	StatusCode int    // the HTTP status of the response

	// The TAXII error resource (section 3.6.1).
	Title           string         `json:"title"`
	Description     string         `json:"description,omitempty"`
	ErrorID         string         `json:"error_id,omitempty"`
	ErrorCode       string         `json:"error_code,omitempty"`
	HTTPStatus      string         `json:"http_status,omitempty"`
	ExternalDetails string         `json:"external_details,omitempty"`
	Details         jsontext.Value `json:"details,omitempty"`

	// Body is the start of a body that was not a TAXII error resource (an HTML page from a proxy),
	// with control characters removed; "" otherwise.
	Body string `json:"-"`
	// Challenge is the WWW-Authenticate header of a 401.
	Challenge string `json:"-"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "taxii: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Title != "" {
		b.WriteString(": " + e.Title)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.ErrorID != "" {
		b.WriteString(" (error_id " + e.ErrorID + ")")
	}
	if e.Title == "" && e.Body != "" {
		b.WriteString(": " + e.Body)
	}
	return b.String()
}

// Is matches the sentinel error of e's status (ErrNotFound for 404…).
func (e *Error) Is(target error) bool {
	s, ok := statusSentinels[e.StatusCode]
	return ok && s == target
}

// readError makes the *Error for a response with an unexpected status.
func readError(method string, u *url.URL, resp *http.Response) error {
	e := &Error{Method: method, URL: u.Redacted(), StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusUnauthorized {
		e.Challenge = resp.Header.Get("WWW-Authenticate")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		e.Body = "(reading the body: " + err.Error() + ")"
		return e
	}
	if checkMediaType(resp.Header.Get("Content-Type")) == nil || looksLikeJSON(body) {
		var res struct {
			Title           string         `json:"title"`
			Description     string         `json:"description"`
			ErrorID         string         `json:"error_id"`
			ErrorCode       string         `json:"error_code"`
			HTTPStatus      string         `json:"http_status"`
			ExternalDetails string         `json:"external_details"`
			Details         jsontext.Value `json:"details"`
		}
		if err := json.Unmarshal(body, &res); err == nil && res.Title != "" {
			e.Title, e.Description, e.ErrorID, e.ErrorCode = res.Title, res.Description, res.ErrorID, res.ErrorCode
			e.HTTPStatus, e.ExternalDetails, e.Details = res.HTTPStatus, res.ExternalDetails, res.Details
			if e.HTTPStatus != "" && e.HTTPStatus != strconv.Itoa(resp.StatusCode) {
				e.Description = strings.TrimSpace(e.Description + " [the error resource says http_status " + e.HTTPStatus + "]")
			}
			return e
		}
	}
	e.Body = printable(body, 200)
	return e
}

func looksLikeJSON(b []byte) bool {
	s := strings.TrimSpace(string(b[:min(len(b), 16)]))
	return strings.HasPrefix(s, "{")
}

// printable returns the first n runes of b with control characters and runs of space folded.
func printable(b []byte, n int) string {
	var out strings.Builder
	space := false
	count := 0
	for _, r := range string(b) {
		if count == n {
			out.WriteString("…")
			break
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && out.Len() > 0 {
			out.WriteByte(' ')
			count++
		}
		space = false
		out.WriteRune(r)
		count++
	}
	return out.String()
}
