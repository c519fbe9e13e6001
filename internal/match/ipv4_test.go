package match

import (
	"net/netip"
	"testing"
)

// TestParseIPv4 checks the fast IPv4 reader against netip.ParseAddr: it accepts exactly the
// dotted quads netip does, with the same bytes, and declines everything else.
func TestParseIPv4(t *testing.T) {
	inputs := []string{"0.0.0.0", "1.2.3.4", "255.255.255.255", "10.9.200.1", "256.1.1.1", "1.2.3", "1.2.3.4.5",
		"01.2.3.4", "1.2.3.04", "1.2.3.4 ", "1..3.4", "", "1.2.3.-4", "1.2.3.4a", "1000.1.1.1", "::1", "1.2.3.4/8",
		"0.0.0.00", "192.168.001.1", "9.9.9.9"}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			got, ok := parseIPv4([]byte(in))
			a, err := netip.ParseAddr(in)
			want := err == nil && a.Is4()
			if ok != want {
				t.Fatalf("ok %v, netip says %v (%v)", ok, want, err)
			}
			if ok && got != a.As4() {
				t.Errorf("got %v, want %v", got, a.As4())
			}
		})
	}
}
