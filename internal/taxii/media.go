package taxii

import (
	"mime"
	"net/http"
	"strings"
)

// checkAccept accepts a request whose Accept header admits TAXII 2.1: application/taxii+json with
// version 2.1 or no version (which means the latest, 2.1), application/*, or */*. A request without
// an Accept header accepts anything (RFC 9110); the specification asks clients to send one, and
// docs/TAXII.md notes the leniency. Anything else is 406.
func checkAccept(values []string) error {
	if len(values) == 0 {
		return nil
	}
	for _, v := range values {
		for _, rng := range strings.Split(v, ",") {
			rng = strings.TrimSpace(rng)
			if rng == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(rng)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok && strings.TrimLeft(q, "0.") == "" {
				continue // q=0: not acceptable
			}
			switch mt {
			case "*/*", "application/*":
				return nil
			case "application/taxii+json":
				if ver, ok := params["version"]; !ok || ver == "2.1" {
					return nil
				}
			}
		}
	}
	return &Error{Status: http.StatusNotAcceptable, Title: "not acceptable",
		Description: "this server answers with " + MediaTAXII + "; send it in Accept"}
}

// checkContentType accepts application/taxii+json with version 2.1 or no version; anything else is 415.
func checkContentType(v string) error {
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && mt == "application/taxii+json" {
		if ver, ok := params["version"]; !ok || ver == "2.1" {
			return nil
		}
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Title: "unsupported media type",
		Description: "send the objects as " + MediaTAXII + " in a TAXII envelope"}
}
