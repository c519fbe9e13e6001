package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll runs the splitter to the end and returns the objects' bytes and per-object errors.
func splitAll(t *testing.T, r io.Reader) (objs []string, objErrs []string, fatal error) {
	t.Helper()
	s := newSplitter(r, 1<<20)
	for {
		o, err := s.next()
		if errors.Is(err, io.EOF) {
			return objs, objErrs, nil
		}
		if errors.Is(err, ErrInput) {
			return objs, objErrs, err
		}
		if err != nil {
			objErrs = append(objErrs, err.Error())
			continue
		}
		objs = append(objs, string(o.raw))
	}
}

func TestSplitter(t *testing.T) {
	a := `{"type": "x-a",   "id": "x-a--1"}`
	b := "{\n\t\"type\":\"x-b\",\n\t\"id\":\"x-b--2\"\n}"
	tests := []struct {
		name    string
		in      string
		want    []string
		objErrs int
		fatal   string
	}{
		{"bundle", `{"type":"bundle","id":"bundle--1","objects":[` + a + `, ` + b + `]}`, []string{a, b}, 0, ""},
		{"bundle, objects first", `{"objects":[` + a + `],"type":"bundle","id":"bundle--1"}`, []string{a}, 0, ""},
		{"indented bundle", "{\n    \"type\": \"bundle\",\n    \"objects\": [\n        " + b + ",\n        " + a + "\n    ]\n}\n", []string{b, a}, 0, ""},
		{"empty bundle", `{"type":"bundle","id":"bundle--1","objects":[]}`, nil, 0, ""},
		{"taxii envelope", `{"more":false,"objects":[` + a + `]}`, []string{a}, 0, ""},
		{"bare object", "  " + b + "  ", []string{b}, 0, ""},
		{"bare object with nested objects member", `{"type":"observed-data","objects":{"0":{"type":"file"}}}`, []string{`{"type":"observed-data","objects":{"0":{"type":"file"}}}`}, 0, ""},
		{"array", "[" + a + ",\n" + b + "]", []string{a, b}, 0, ""},
		{"concatenated", a + "\n" + `{"type":"bundle","objects":[` + b + `]}` + "\n[" + a + "]\n", []string{a, b, a}, 0, ""},
		{"bad element skipped", "[" + a + `, 42, "str", ` + b + "]", []string{a, b}, 2, ""},
		{"truncated", `{"type":"bundle","objects":[` + a + `, {"type":"x-b"`, []string{a}, 0, "ends in the middle"},
		{"not json", `hello`, nil, 0, "bad input"},
		{"top-level number", `42`, nil, 0, "expected a bundle"},
		{"second objects member", `{"type":"bundle","objects":[` + a + `],"objects":[` + b + `]}`, []string{a}, 0, "second \"objects\""},
		{"garbage after bundle", `{"objects":[` + a + `]} }`, []string{a}, 0, "bad input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "one byte at a time"} {
				var r io.Reader = strings.NewReader(tc.in)
				if mode != "whole" {
					r = iotest.OneByteReader(r)
				}
				got, objErrs, fatal := splitAll(t, r)
				if len(got) != len(tc.want) {
					t.Fatalf("%s: got %d objects %q, want %d", mode, len(got), got, len(tc.want))
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("%s: object %d = %q, want the bytes as received %q", mode, i, got[i], tc.want[i])
					}
				}
				if len(objErrs) != tc.objErrs {
					t.Errorf("%s: object errors %q, want %d", mode, objErrs, tc.objErrs)
				}
				if tc.fatal == "" && fatal != nil {
					t.Errorf("%s: unexpected error %v", mode, fatal)
				}
				if tc.fatal != "" && (fatal == nil || !strings.Contains(fatal.Error(), tc.fatal)) {
					t.Errorf("%s: error %v, want one containing %q", mode, fatal, tc.fatal)
				}
			}
		})
	}
}

func TestSplitterOffsets(t *testing.T) {
	a := `{"type":"x-a","id":"x-a--1"}`
	in := "{\"type\":\"bundle\",\"objects\":[\n  " + a + ",\n  " + a + "]}"
	s := newSplitter(strings.NewReader(in), 1<<20)
	for i := 0; i < 2; i++ {
		o, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if o.index != i {
			t.Errorf("index = %d, want %d", o.index, i)
		}
		if got := in[o.offset : o.offset+int64(len(a))]; got != a {
			t.Errorf("object %d offset %d points at %q", i, o.offset, got)
		}
	}
}

func TestSplitterObjectLimit(t *testing.T) {
	big := `{"type":"x-a","id":"x-a--1","x_pad":"` + strings.Repeat("p", 200) + `"}`
	small := `{"type":"x-b"}`
	s := newSplitter(strings.NewReader("["+big+","+small+"]"), 100)
	if _, err := s.next(); err == nil || !strings.Contains(err.Error(), "limit of 100") || errors.Is(err, ErrInput) {
		t.Fatalf("oversized element: err = %v, want a per-object limit error", err)
	}
	if o, err := s.next(); err != nil || string(o.raw) != small {
		t.Fatalf("the object after an oversized one: %q, %v", o.raw, err)
	}
	s = newSplitter(strings.NewReader(big), 100)
	if _, err := s.next(); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "limit of 100") {
		t.Fatalf("oversized bare object: err = %v, want a framing limit error", err)
	}
}

// TestSplitterRefusesHugeValuesWhileReading checks that a value far larger than the object limit ends
// the input as it is read, wherever it stands: an element, a bare object's member, a bundle's tail.
func TestSplitterRefusesHugeValuesWhileReading(t *testing.T) {
	huge := `"` + strings.Repeat("x", 8<<20) + `"`
	for name, in := range map[string]string{
		"element":     `[{"type":"x-a","s":` + huge + `}]`,
		"bare object": `{"type":"x-a","s":` + huge + `}`,
		"bundle tail": `{"objects":[],"x":` + huge + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSplitter(strings.NewReader(in), 1000)
			var err error
			for err == nil {
				_, err = s.next()
			}
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "larger than the limit of 1000 bytes") {
				t.Fatalf("err = %v, want the value refused as too large", err)
			}
			if s.rec.n > 3<<20 {
				t.Errorf("read %d bytes before refusing a value over a limit of 1000", s.rec.n)
			}
		})
	}
}
