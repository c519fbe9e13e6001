package pattern_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// synthObservations is the pattern set benchmark's input: generated observed-data, STIX 2.1 with
// object_refs and their SCOs and one in five STIX 2.0 with an objects dictionary, some of them
// carrying values of generated patterns.
func synthObservations(tb testing.TB, first, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := synth.STIXObservations(&buf, first, n, 1000, 7, 20); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadObservationsSynth decodes generated observed-data with ReadObservations and with the
// encoding/json-based reference, and requires the same observations; ReadObjects likewise.
func TestReadObservationsSynth(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first, n int
	}{
		{"one", 0, 1},
		{"a batch", 0, 2000},
		{"another batch", 50_000, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := synthObservations(t, tc.first, tc.n)
			want, err := pattern.ReadObservationsReference(bytes.NewReader(data), pattern.DefaultInputLimits)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pattern.ReadObservations(bytes.NewReader(data), pattern.DefaultInputLimits)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Fatalf("%d observations, want %d", len(got), tc.n)
			}
			v20 := 0
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("observation %d:\n got %#v\nwant %#v", i, got[i], want[i])
				}
				if len(got[i].Objects) > 0 && got[i].Objects[0].Ref == "0" {
					v20++
				}
			}
			if tc.n >= 500 && (v20 == 0 || v20 == tc.n) {
				t.Fatalf("%d of %d observations are STIX 2.0: the input does not mix both", v20, tc.n)
			}
			wantObjs, err := pattern.ReadObjectsReference(bytes.NewReader(data), pattern.DefaultInputLimits)
			if err != nil {
				t.Fatal(err)
			}
			gotObjs, err := pattern.ReadObjects(bytes.NewReader(data), pattern.DefaultInputLimits)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotObjs, wantObjs) {
				t.Fatal("ReadObjects differs from the reference")
			}
		})
	}
}

// BenchmarkReadObservations compares the decoder with the encoding/json-based reference on the
// pattern set benchmark's input (20,000 observed-data).
func BenchmarkReadObservations(b *testing.B) {
	data := synthObservations(b, 0, 20_000)
	for _, tc := range []struct {
		name string
		read func(r *bytes.Reader, lim pattern.InputLimits) ([]pattern.Observation, error)
	}{
		{"Decoder", func(r *bytes.Reader, lim pattern.InputLimits) ([]pattern.Observation, error) {
			return pattern.ReadObservations(r, lim)
		}},
		{"Reference", func(r *bytes.Reader, lim pattern.InputLimits) ([]pattern.Observation, error) {
			return pattern.ReadObservationsReference(r, lim)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			n := 0
			for b.Loop() {
				obs, err := tc.read(bytes.NewReader(data), pattern.DefaultInputLimits)
				if err != nil {
					b.Fatal(err)
				}
				n += len(obs)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "obs/s")
		})
	}
}
