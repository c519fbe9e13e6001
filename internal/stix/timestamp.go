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
	// The shape is known, so the fields are read directly (time.Parse is much slower); digits
	// beyond the ninth only matter to Key.
	num := func(i, n int) int {
		v := 0
		for _, c := range s[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		frac = frac[1:]
		for i := 0; i < 9; i++ {
			nsec *= 10
			if i < len(frac) {
				nsec += int(frac[i] - '0')
			}
		}
	}
	switch {
	case month < 1 || month > 12:
		return Timestamp{}, errorf(ErrTimestamp, "%q: month out of range", s)
	case day < 1 || day > daysIn(time.Month(month), year):
		return Timestamp{}, errorf(ErrTimestamp, "%q: day out of range", s)
	case hour > 23 || minute > 59 || sec > 59:
		return Timestamp{}, errorf(ErrTimestamp, "%q: time of day out of range", s)
	}
	return Timestamp{text: s, t: time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)}, nil
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
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
	frac := t.frac()
	if len(frac) > 9 {
		frac = strings.TrimRight(frac, "0")
	}
	b := make([]byte, 0, 20+max(9, len(frac)))
	b = append(b, t.text[:19]...)
	b = append(b, '.')
	b = append(b, frac...)
	for len(b) < 29 {
		b = append(b, '0')
	}
	return string(b)
}

// frac returns the fractional-second digits of the text.
func (t Timestamp) frac() string {
	if dot := strings.IndexByte(t.text, '.'); dot >= 0 {
		return t.text[dot+1 : len(t.text)-1]
	}
	return ""
}

// Compare orders two timestamps chronologically, with the precision of their text. It agrees
// with comparing their Keys, without building them.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.text == "" || u.text == "":
		return strings.Compare(t.text, u.text)
	}
	if c := strings.Compare(t.text[:19], u.text[:19]); c != 0 {
		return c
	}
	a, b := t.frac(), u.frac()
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := byte('0'), byte('0')
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Equal reports whether two timestamps name the same instant (their texts may differ).
func (t Timestamp) Equal(u Timestamp) bool { return t.Compare(u) == 0 }
