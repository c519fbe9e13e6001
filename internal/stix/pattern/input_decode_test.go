package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/testdata"
)

// decodeBoth reads data with ReadObservations and ReadObjects and with the encoding/json-based
// reference (input_ref_test.go), and fails unless both give the same observations and objects, or
// both fail (with ErrInput). It returns ReadObservations' result.
func decodeBoth(t *testing.T, data []byte, lim InputLimits) ([]Observation, error) {
	t.Helper()
	want, wantErr := readObservationsReference(bytes.NewReader(data), lim)
	got, err := ReadObservations(bytes.NewReader(data), lim)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("ReadObservations: error %v, the reference: %v\ninput: %.300q", err, wantErr, data)
	}
	if err != nil {
		if !errors.Is(err, ErrInput) {
			t.Fatalf("ReadObservations: error %v does not wrap ErrInput", err)
		}
	} else if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadObservations:\n got %#v\nwant %#v\ninput: %.300q", got, want, data)
	}
	wantObjs, wantObjsErr := readObjectsReference(bytes.NewReader(data), lim)
	objs, objsErr := ReadObjects(bytes.NewReader(data), lim)
	if (objsErr != nil) != (wantObjsErr != nil) {
		t.Fatalf("ReadObjects: error %v, the reference: %v\ninput: %.300q", objsErr, wantObjsErr, data)
	}
	if objsErr == nil && !reflect.DeepEqual(objs, wantObjs) {
		t.Fatalf("ReadObjects:\n got %#v\nwant %#v\ninput: %.300q", objs, wantObjs, data)
	}
	return got, err
}

const (
	times   = `"first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:01Z"`
	filler  = `{"type":"identity","id":"identity--f","name":"filler"},`
	fillers = filler + filler + filler + filler + filler + filler + filler + filler + filler + filler // one id
)

// distinctFillers is n objects of distinct ids, named after prefix.
func distinctFillers(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"type":"identity","id":"identity--%s-%d","name":"filler"},`, prefix, i)
	}
	return b.String()
}

// od is 2.1 observed-data with the given id and more members (JSON text, may be empty).
func od(id, more string) string {
	s := `{"type":"observed-data","id":"` + id + `",` + times
	if more != "" {
		s += "," + more
	}
	return s + "}"
}

func TestReadObservationsEdgeCases(t *testing.T) {
	deep := func(n int) string {
		return `[` + od("observed-data--d", `"object_refs":["x--1"]`) + `,{"type":"x","id":"x--1","a":` +
			strings.Repeat("[", n) + strings.Repeat("]", n) + `}]`
	}
	big := `{"type":"x","id":"x--big","value":"` + strings.Repeat("a", 3000) + `"}`
	for _, tc := range []struct {
		name    string
		input   string
		lim     InputLimits // DefaultInputLimits when zero
		obs     int         // observations expected, when there is no error
		objects []int       // objects of each observation, when given
		err     string      // a part of the error, when one is expected
	}{
		{name: "refs forward", input: `[` + od("observed-data--1", `"object_refs":["ipv4-addr--a","file--b"]`) +
			`,{"type":"ipv4-addr","id":"ipv4-addr--a","value":"10.0.0.1"},{"id":"file--b","type":"file","hashes":{"MD5":"x"}}]`,
			obs: 1, objects: []int{2}},
		{name: "refs backward and far", input: `[{"type":"ipv4-addr","id":"ipv4-addr--a","value":"10.0.0.1"},` + fillers +
			od("observed-data--1", `"object_refs":["ipv4-addr--a","file--b","missing--c"]`) + `,` + fillers +
			`{"type":"file","id":"file--b","name":"f"}]`, obs: 1, objects: []int{2}},
		{name: "refs far, ids distinct", input: `[{"type":"ipv4-addr","id":"ipv4-addr--a","value":"10.0.0.1"},` + distinctFillers("a", 12) +
			od("observed-data--1", `"object_refs":["ipv4-addr--a","file--b","missing--c","identity--b-3"]`) + `,` + distinctFillers("b", 12) +
			`{"type":"file","id":"file--b","name":"f"}]`, obs: 1, objects: []int{3}},
		{name: "duplicate ids: the first is referenced", input: `[{"type":"x","id":"x--1","v":"first"},` +
			od("observed-data--1", `"object_refs":["x--1"]`) + `,{"type":"x","id":"x--1","v":"second"}]`, obs: 1, objects: []int{1}},
		{name: "duplicate ids after the observed-data", input: `[` + od("observed-data--1", `"object_refs":["x--1"]`) +
			`,{"type":"x","id":"x--1","v":"first"},{"type":"x","id":"x--1","v":"second"}]`, obs: 1, objects: []int{1}},
		{name: "a reference to observed-data", input: `[` + od("observed-data--1", `"object_refs":["observed-data--2"]`) +
			`,` + od("observed-data--2", `"number_observed":2`) + `]`, obs: 2, objects: []int{1, 0}},
		{name: "bundle", input: `{"type":"bundle","id":"bundle--1","objects":[` + od("observed-data--1", `"object_refs":["x--1"]`) +
			`,{"type":"x","id":"x--1"}]}`, obs: 1, objects: []int{1}},
		{name: "bundles referencing each other", input: `[{"type":"bundle","objects":[` + od("observed-data--1", `"object_refs":["x--1"]`) +
			`]},{"type":"bundle","objects":[{"type":"x","id":"x--1"}]}]`, obs: 1, objects: []int{1}},
		{name: "bundle objects null", input: `{"type":"bundle","id":"bundle--1","objects":null}`},
		{name: "bundle without objects", input: `[{"type":"bundle","id":"bundle--1"}]`},
		{name: "bundle objects not an array", input: `[{"type":"bundle","objects":{}}]`, err: "[0]: the objects of a bundle must be an array"},
		{name: "bundle object not an object", input: `{"type":"bundle","objects":[{"type":"x"},1]}`, err: "the input.objects[1] is not a JSON object"},
		{name: "a bundle in a bundle is an object", input: `{"type":"bundle","objects":[{"type":"bundle","id":"bundle--2","objects":[` +
			od("observed-data--1", "") + `]},` + od("observed-data--2", `"object_refs":["bundle--2"]`) + `]}`, obs: 1, objects: []int{1}},
		{name: "2.0 objects dictionary, keys sorted", input: `{"type":"observed-data","id":"observed-data--1",` + times +
			`,"objects":{"1":{"type":"file","extensions":{"ntfs-ext":{"alternate_data_streams":[{"name":"a","size":1}]}}},` +
			`"0":{"type":"directory","path":"C:\\x"},"10":{"type":"x","a_ref":"0"}}}`, obs: 1, objects: []int{3}},
		{name: "2.0 and 2.1 together", input: `[` + od("observed-data--1", `"objects":{"0":{"type":"x"}},"object_refs":["x--1"]`) +
			`,{"type":"x","id":"x--1"}]`, obs: 1, objects: []int{2}},
		{name: "numbers", input: `[` + od("observed-data--1", `"number_observed":3.0,"object_refs":["x--1"]`) +
			`,{"type":"x","id":"x--1","a":0,"b":-0,"c":1.5,"d":-2.5e10,"e":1E-7,"f":123456789012345678901234567890,` +
			`"g":1e999,"h":[1,2.0,3e+0],"i":true,"j":false,"k":null,"l":{},"m":[]}]`, obs: 1, objects: []int{1}},
		{name: "number_observed a string", input: od("observed-data--1", `"number_observed":"3"`), err: "observed-data observed-data--1: number_observed"},
		{name: "number_observed 0", input: od("observed-data--1", `"number_observed":0`), err: "number_observed"},
		{name: "number_observed too large", input: od("observed-data--1", `"number_observed":1e9`), err: "number_observed"},
		{name: "number_observed null", input: od("observed-data--1", `"number_observed":null`), err: "number_observed"},
		{name: "number_observed a fraction", input: od("observed-data--1", `"number_observed":2.5`), err: "number_observed"},
		{name: "unicode escapes", input: `[` + od("observed-data--1", `"object_refs":["x--\u00e9"]`) +
			`,{"type":"x","id":"x--é","a":"\u00e9\ud83d\ude00 \ud800 \udc00 \ud800\u0041 \ud800\ud800\udc00 \/\b\f\n\r\t\"\\ é😀",` +
			`"\u00e9\"key":"v","k\u0000":"\u0000"}]`, obs: 1, objects: []int{1}},
		{name: "invalid UTF-8", input: "[" + od("observed-data--1", `"object_refs":["x--1"]`) +
			",{\"type\":\"x\",\"id\":\"x--1\",\"a\":\"\xff\xfe \xed\xa0\x80 \xc3\",\"\xffk\":1}]", obs: 1, objects: []int{1}},
		{name: "member names written with escapes", input: `[{"typ\u0065":"observed-data","\u0069d":"observed-data--1",` + times +
			`,"object_\u0072efs":["x--1"]},{"type":"x","id":"x--1"}]`, obs: 1, objects: []int{1}},
		{name: "type written with escapes", input: `[{"type":"observ\u0065d-data","id":"observed-data--1",` + times + `}]`, obs: 1},
		{name: "duplicate type: the last counts", input: `[{"type":"file","type":"observed-data","id":"observed-data--1",` + times + `}]`, obs: 1},
		{name: "duplicate type: not observed-data", input: `[{"type":"observed-data","type":"file","id":"file--1",` + times + `}]`},
		{name: "duplicate first_observed: the last counts", input: `[` + od("observed-data--1", `"first_observed":"2019-12-31T00:00:00Z"`) + `]`, obs: 1},
		{name: "duplicate first_observed: the last is bad", input: od("observed-data--1", `"first_observed":"bad"`), err: "first_observed"},
		{name: "duplicate id", input: `[{"type":"observed-data","id":7,` + times + `,"id":"observed-data--1"},{"id":"x--1","id":5,"type":"x"}]`, obs: 1},
		{name: "first_observed missing", input: `{"type":"observed-data","id":"observed-data--1","last_observed":"2020-01-01T00:00:00Z"}`,
			err: "observed-data observed-data--1: first_observed is missing or not a string"},
		{name: "first_observed invalid", input: `{"type":"observed-data","id":"observed-data--1","first_observed":"2020-13-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z"}`,
			err: "first_observed"},
		{name: "first_observed a number", input: `{"type":"observed-data","id":"observed-data--1","first_observed":1,"last_observed":"2020-01-01T00:00:00Z"}`,
			err: "first_observed"},
		{name: "last before first", input: `{"type":"observed-data","first_observed":"2020-01-02T00:00:00Z","last_observed":"2020-01-01T00:00:00Z"}`,
			err: "observed-data object 0: last_observed"},
		{name: "id not a string", input: `[{"type":"x"},{"type":"observed-data","id":1}]`, err: "observed-data object 1: first_observed"},
		{name: "object_refs not an array", input: od("observed-data--1", `"object_refs":"x--1"`), err: "object_refs is not an array"},
		{name: "object_refs null", input: od("observed-data--1", `"object_refs":null`), obs: 1},
		{name: "object_refs element not a string", input: od("observed-data--1", `"object_refs":["x--1",2]`), err: "object_refs[1] is not a string"},
		{name: "objects not an object", input: od("observed-data--1", `"objects":[]`), err: "objects is not a JSON object"},
		{name: "objects entry not an object", input: od("observed-data--1", `"objects":{"0":"x"}`), err: `objects["0"] is not a JSON object`},
		{name: "objects null", input: od("observed-data--1", `"objects":null`), obs: 1},
		{name: "objects empty", input: od("observed-data--1", `"objects":{}`), obs: 1},
		{name: "white space everywhere", input: " \n[ \t{ \"type\" : \"observed-data\" ,\r\n \"id\" : \"observed-data--1\" , " +
			"\"first_observed\" :\"2020-01-01T00:00:00Z\", \"last_observed\"\t:\t\"2020-01-01T00:00:00Z\" , \"object_refs\" : [ \"x--1\" , \"x--2\" ] } ,\n" +
			"{ \"type\" : \"x\" , \"id\" : \"x--1\" , \"a\" : [ 1 , { } , [ ] , { \"b\" : null } ] } , { \"id\" : \"x--2\" , \"type\" : \"x\" } ]\n",
			obs: 1, objects: []int{2}},
		{name: "a large object with its type first", input: `[` + od("observed-data--1", `"object_refs":["x--big"]`) + `,` + big + `]`, obs: 1, objects: []int{1}},
		{name: "nesting 9,990 deep", input: deep(9990), obs: 1, objects: []int{1}},
		{name: "nesting 10,001 deep", input: deep(9999), err: "not JSON"},
		{name: "empty array", input: `[]`},
		{name: "one object not observed-data", input: `{"type":"x","id":"x--1"}`},
		{name: "truncated", input: `[{"type":"observed-data","id":"observed-data--1"`, err: "not JSON"},
		{name: "truncated array", input: `[`, err: "not JSON"},
		{name: "truncated string", input: `[{"type":"x","id":"x--1`, err: "not JSON"},
		{name: "empty", input: ``, err: "not JSON"},
		{name: "trailing comma", input: `[{"type":"x",}]`, err: "not JSON"},
		{name: "bad literal", input: `[{"type":"x","a":nul}]`, err: "not JSON"},
		{name: "control character in a string", input: "[{\"type\":\"x\",\"a\":\"\x01\"}]", err: "not JSON"},
		{name: "more than one value", input: `{"type":"x"} {"type":"x"}`, err: "more than one JSON value"},
		{name: "garbage after the value", input: `[] x`, err: "more than one JSON value"},
		{name: "a number", input: `1`, err: "the input is not a JSON object"},
		{name: "null", input: `null`, err: "the input is not a JSON object"},
		{name: "an array of numbers", input: `[{"type":"x"},1]`, err: "[1] is not a JSON object"},
		{name: "an array of arrays", input: `[[]]`, err: "[0] is not a JSON object"},
		{name: "objects within the limit", input: `[{"type":"x"},{"type":"bundle","objects":[{"type":"y"}]}]`, lim: InputLimits{MaxBytes: 1 << 20, MaxObjects: 2}},
		{name: "objects beyond the limit", input: `[{"type":"x"},{"type":"bundle","objects":[{"type":"y"},{"type":"z"}]}]`,
			lim: InputLimits{MaxBytes: 1 << 20, MaxObjects: 2}, err: "more than 2 objects"},
		{name: "bytes beyond the limit", input: `[{"type":"x"}]`, lim: InputLimits{MaxBytes: 10, MaxObjects: 2}, err: "more than 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := tc.lim
			if lim == (InputLimits{}) {
				lim = DefaultInputLimits
			}
			obs, err := decodeBoth(t, []byte(tc.input), lim)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(obs) != tc.obs {
				t.Fatalf("%d observations, want %d", len(obs), tc.obs)
			}
			for i, n := range tc.objects {
				if len(obs[i].Objects) != n {
					t.Fatalf("observation %d has %d objects, want %d: %#v", i, len(obs[i].Objects), n, obs[i].Objects)
				}
			}
		})
	}
}

// TestReadObservationsValues checks values the decoder makes, beyond agreeing with the reference.
func TestReadObservationsValues(t *testing.T) {
	in := `[` + od("observed-data--1", `"number_observed":3,"object_refs":["x--1","x--1"]`) +
		`,{"type":"x","id":"x--1","n":1.5e3,"s":"a\u00e9\ud83d\ude00\ud800","l":[true,null,{}]}]`
	obs, err := ReadObservations(strings.NewReader(in), DefaultInputLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].ID != "observed-data--1" || obs[0].Count != 3 || len(obs[0].Objects) != 2 {
		t.Fatalf("got %#v", obs)
	}
	p := obs[0].Objects[0].Props
	for _, c := range []struct {
		key  string
		want any
	}{
		{"type", "x"},
		{"n", json.Number("1.5e3")},
		{"s", "aé😀\uFFFD"},
		{"l", []any{true, nil, map[string]any{}}},
	} {
		if !reflect.DeepEqual(p[c.key], c.want) {
			t.Errorf("%s = %#v, want %#v", c.key, p[c.key], c.want)
		}
	}
	// Both references get the same decoded object.
	if reflect.ValueOf(obs[0].Objects[1].Props).UnsafePointer() != reflect.ValueOf(p).UnsafePointer() {
		t.Error("the same object referenced twice is decoded twice")
	}
}

// TestReadObservationsExamples compares the decoder with the reference on the OASIS examples and
// the MISP STIX 2.1 exports of the shared test data.
func TestReadObservationsExamples(t *testing.T) {
	var files []string
	for _, dir := range [][]string{{"stix-schemas", "examples"}, {"stix-examples"}, {"misp", "events", "misp-stix"}} {
		root := testdata.Path(t, dir...)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	observed := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			obs, err := decodeBoth(t, data, DefaultInputLimits)
			if err != nil {
				t.Skipf("not an input of observations: %v", err)
			}
			for _, o := range obs {
				observed += len(o.Objects)
			}
		})
	}
	if observed == 0 {
		t.Fatalf("no observed-data with objects in %d files", len(files))
	}
}

// FuzzReadObservations: the decoder never panics, and agrees with the reference.
func FuzzReadObservations(f *testing.F) {
	f.Add(fuzzData)
	f.Add(`[` + od("observed-data--1", `"object_refs":["x--1"]`) + `,{"type":"x","id":"x--1","a":"\u00e9\ud800","b":[1,2.5e3,{}]}]`)
	f.Add(`{"type":"bundle","objects":[{"typ\u0065":"observed-data","id":"o",` + times + `,"objects":{"0":{"type":"x"}}}]}`)
	f.Add("[{\"type\":\"x\",\"id\":\"\xff\",\"a\":null},{\"type\":\"observed-data\",\"id\":1," + times + ",\"object_refs\":[\"\xff\"]}]")
	f.Fuzz(func(t *testing.T, s string) {
		decodeBoth(t, []byte(s), InputLimits{MaxBytes: 1 << 16, MaxObjects: 64})
	})
}
