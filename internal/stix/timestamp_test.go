package stix

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	good := []struct {
		in   string
		want time.Time
	}{
		{"2016-01-20T12:31:12Z", time.Date(2016, 1, 20, 12, 31, 12, 0, time.UTC)},
		{"2016-01-20T12:31:12.123Z", time.Date(2016, 1, 20, 12, 31, 12, 123e6, time.UTC)},
		{"2016-01-20T12:31:12.1234567891234Z", time.Date(2016, 1, 20, 12, 31, 12, 123456789, time.UTC)},
		{"2016-02-29T00:00:00Z", time.Date(2016, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2000-02-29T23:59:59.9Z", time.Date(2000, 2, 29, 23, 59, 59, 9e8, time.UTC)},
	}
	for _, c := range good {
		ts, err := ParseTimestamp(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !ts.Time().Equal(c.want) || ts.String() != c.in {
			t.Errorf("%s: parsed as %v (%q)", c.in, ts.Time(), ts.String())
		}
	}
	for _, in := range []string{"", "2016-01-20", "2016-01-20T12:31:12", "2016-01-20T12:31:12+00:00",
		"2016-01-20 12:31:12Z", "2016-01-20T12:31:12.Z", "2016-13-01T00:00:00Z", "2015-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2016-04-31T00:00:00Z", "2016-01-20T24:00:00Z", "2016-01-20T12:60:00Z",
		"2016-01-20T12:31:60Z", "2016-01-00T00:00:00Z", "２016-01-20T12:31:12Z"} {
		if _, err := ParseTimestamp(in); !errors.Is(err, ErrTimestamp) {
			t.Errorf("%q: want ErrTimestamp, got %v", in, err)
		}
	}
}

// TestParseTimestampAgreesWithTime compares the hand-written parser with time.Parse on random
// timestamps, valid and not.
func TestParseTimestampAgreesWithTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		s := time.Date(1900+r.IntN(300), time.Month(1+r.IntN(12)), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC).Format("2006-01-02T15:04:05")
		// Perturb a field now and then to get invalid dates as well.
		b := []byte(s)
		if r.IntN(4) == 0 {
			b[r.IntN(len(b))] = byte('0' + r.IntN(10))
		}
		s = string(b) + "Z"
		want, werr := time.Parse(time.RFC3339, s)
		got, gerr := ParseTimestamp(s)
		if (werr == nil) != (gerr == nil) || werr == nil && !got.Time().Equal(want) {
			t.Fatalf("%s: time.Parse %v %v, ParseTimestamp %v %v", s, want, werr, got.Time(), gerr)
		}
	}
}

func TestTimestampOrder(t *testing.T) {
	texts := []string{"2016-01-20T12:31:12Z", "2016-01-20T12:31:12.000Z", "2016-01-20T12:31:12.0000000000001Z",
		"2016-01-20T12:31:12.001Z", "2016-01-20T12:31:12.1Z", "2016-01-20T12:31:12.10000000001Z",
		"2016-01-20T12:31:13Z", "2017-01-01T00:00:00Z"}
	for _, a := range texts {
		for _, b := range texts {
			ta, tb := MustTimestamp(a), MustTimestamp(b)
			byKey := 0
			switch {
			case ta.Key() < tb.Key():
				byKey = -1
			case ta.Key() > tb.Key():
				byKey = 1
			}
			if c := ta.Compare(tb); c != byKey {
				t.Errorf("Compare(%s, %s) = %d, keys say %d", a, b, c, byKey)
			}
			if ta.Equal(tb) != (byKey == 0) {
				t.Errorf("Equal(%s, %s) = %v", a, b, ta.Equal(tb))
			}
		}
	}
	if k := MustTimestamp("2016-01-20T12:31:12Z").Key(); k != "2016-01-20T12:31:12.000000000" {
		t.Errorf("Key = %q", k)
	}
	if k := MustTimestamp("2016-01-20T12:31:12.12345678912300Z").Key(); k != "2016-01-20T12:31:12.123456789123" {
		t.Errorf("Key = %q", k)
	}
	var zero Timestamp
	if zero.Key() != "" || zero.Compare(MustTimestamp("2016-01-20T12:31:12Z")) >= 0 {
		t.Error("the zero Timestamp must sort first")
	}
}
