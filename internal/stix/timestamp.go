package stix

import (
	"errors"
	"strings"
	"time"
)

// Timestamp is a STIX timestamp: the text exactly as received, plus the instant it names.
// The text is never reformatted; Key gives a form that sorts chronologically as a string.
type Timestamp struct {
	text string
	t    time.Time
}

// ErrTimestamp is wrapped by every timestamp parse error.
var ErrTimestamp = errors.New("invalid STIX timestamp")

// ParseTimestamp parses a STIX timestamp: YYYY-MM-DDTHH:MM:SS[.s+]Z, in UTC, with any number of
// fractional digits. The result keeps s as its text.
func ParseTimestamp(s string) (Timestamp, error) {
	if !timestampShape(s) {
		return Timestamp{}, errorf(ErrTimestamp, "%q is not of the form YYYY-MM-DDTHH:MM:SS[.s+]Z", s)
	}
	// time.Parse accepts at most 9 fractional digits; the extra ones only matter to Key.
	p := s
	if dot := strings.IndexByte(s, '.'); dot >= 0 && len(s)-dot-2 > 9 {
		p = s[:dot+10] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, p)
	if err != nil {
		return Timestamp{}, errorf(ErrTimestamp, "%q: %v", s, err)
	}
	return Timestamp{text: s, t: t}, nil
}

// MustTimestamp is ParseTimestamp for constants in code and tests; it panics on bad input.
func MustTimestamp(s string) Timestamp {
	ts, err := ParseTimestamp(s)
	if err != nil {
		panic(err)
	}
	return ts
}

// timestampShape checks the character classes of a STIX timestamp without allocating.
func timestampShape(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(shape); i++ {
		c := s[i]
		if shape[i] == 'd' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != shape[i] {
			return false
		}
	}
	rest := s[len(shape) : len(s)-1]
	if rest == "" {
		return true
	}
	if rest[0] != '.' || len(rest) == 1 {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the timestamp's text exactly as received ("" for the zero Timestamp).
func (t Timestamp) String() string { return t.text }

// Time returns the instant.
func (t Timestamp) Time() time.Time { return t.t }

// IsZero reports whether the timestamp is absent.
func (t Timestamp) IsZero() bool { return t.text == "" }

// Fraction returns the number of fractional-second digits in the text.
func (t Timestamp) Fraction() int {
	if dot := strings.IndexByte(t.text, '.'); dot >= 0 {
		return len(t.text) - dot - 2
	}
	return 0
}

// Key returns a string that sorts chronologically and is equal for equal instants:
// "YYYY-MM-DDTHH:MM:SS.fffffffff" with at least nine fractional digits, more only when the
// text has more significant digits. The zero Timestamp has the key "".
func (t Timestamp) Key() string {
	if t.text == "" {
		return ""
	}
	base := t.text[:19]
	frac := ""
	if dot := strings.IndexByte(t.text, '.'); dot >= 0 {
		frac = t.text[dot+1 : len(t.text)-1]
	}
	if len(frac) > 9 {
		frac = strings.TrimRight(frac, "0")
	}
	for len(frac) < 9 {
		frac += "0"
	}
	return base + "." + frac
}

// Compare orders two timestamps chronologically, with the precision of their text.
func (t Timestamp) Compare(u Timestamp) int { return strings.Compare(t.Key(), u.Key()) }

// Equal reports whether two timestamps name the same instant (their texts may differ).
func (t Timestamp) Equal(u Timestamp) bool { return t.Key() == u.Key() }
