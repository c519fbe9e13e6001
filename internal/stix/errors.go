package stix

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every *ValidationError, so callers can test errors.Is(err, ErrInvalid).
var ErrInvalid = errors.New("invalid STIX object")

// A Problem is one rule an object breaks.
type Problem struct {
	Path    string // JSON path of the offending property, such as "$.kill_chain_phases[0].phase_name"
	Rule    string // short, stable rule name, such as "required", "id-format", "timestamp-order"
	Message string // what was wrong, for a person
}

func (p Problem) String() string { return p.Path + ": " + p.Message + " (" + p.Rule + ")" }

// ValidationError reports why an object was rejected: which object, where in it, and which rules.
type ValidationError struct {
	ObjectID string    // the object's id when it could be read, else ""
	Type     string    // the object's type when it could be read, else ""
	Problems []Problem // at least one
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.ObjectID != "" {
		b.WriteString(e.ObjectID)
	} else if e.Type != "" {
		b.WriteString("object of type " + e.Type)
	} else {
		b.WriteString("object")
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) succeed.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
