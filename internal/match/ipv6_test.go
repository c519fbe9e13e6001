package match

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// checkIPv6 compares parseIPv6 with netip.ParseAddr on s: what it accepts, netip accepts with
// the same bytes and no zone.
func checkIPv6(t *testing.T, s string) bool {
	t.Helper()
	got, ok := parseIPv6([]byte(s))
	a, err := netip.ParseAddr(s)
	if ok && (err != nil || !a.Is6() || a.Zone() != "" || a.As16() != got) {
		t.Fatalf("parseIPv6(%q) = %v, netip gives %v, %v", s, got, a, err)
	}
	return ok
}

func TestParseIPv6(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool // parseIPv6 takes it (else netip is asked, or it is not an address)
	}{
		{"::", true}, {"::1", true}, {"1::", true}, {"2001:db8::1", true}, {"2001:DB8:0:0:0:0:0:1", true},
		{"1:2:3:4:5:6:7:8", true}, {"1:2:3:4:5:6:7::", true}, {"::2:3:4:5:6:7:8", true},
		{"::ffff:192.0.2.1", true}, {"::192.0.2.1", true}, {"64:ff9b::192.0.2.33", true}, {"1:2:3:4:5:6:1.2.3.4", true},
		{"fe80::1%eth0", false}, {"1:2:3:4:5:6:7:8:9", false}, {"1::2::3", false}, {"12345::", false}, {":1::", false},
		{"1:", false}, {":", false}, {":::", false}, {"1:2:3:4:5:6:7", false}, {"::1:2:3:4:5:6:7:8", false},
		{"1:2:3:4:5:6:7:1.2.3.4", false}, {"::1.2.3", false}, {"::01.2.3.4", false}, {"g::", false}, {"", false},
		{"1.2.3.4", false}, {"::ffff:1.2.3.4.5", false}, {"2001:db8::1/64", false},
	} {
		if got := checkIPv6(t, tt.in); got != tt.want {
			t.Errorf("parseIPv6(%q) ok = %v, want %v", tt.in, got, tt.want)
		}
	}
	// Every address netip writes, in its compressed and its full form, is taken.
	r := rand.New(rand.NewPCG(6, 6))
	for range 20000 {
		var b [16]byte
		for i := range b {
			if r.IntN(3) > 0 {
				b[i] = byte(r.Uint32())
			}
		}
		if r.IntN(8) == 0 {
			copy(b[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
		}
		a := netip.AddrFrom16(b)
		for _, s := range []string{a.String(), a.StringExpanded(), strings.ToUpper(a.StringExpanded())} {
			if !checkIPv6(t, s) {
				t.Fatalf("parseIPv6(%q) refused", s)
			}
		}
	}
}

func FuzzParseIPv6(f *testing.F) {
	for _, s := range []string{"::", "2001:db8::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "fe80::1%eth0", "1::2::3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkIPv6(t, s) })
}
