package cli

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestBlockedAddr(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"169.254.169.254", true}, {"fe80::1", true},
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"fd00::1", true},
		{"::ffff:127.0.0.1", true}, {"0.0.0.0", true}, {"100.64.0.1", true}, {"fd00:ec2::254", true},
		{"192.0.2.10", false}, {"8.8.8.8", false}, {"2001:4860:4860::8888", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := blockedAddr(netip.MustParseAddr(tc.addr)) != ""; got != tc.blocked {
				t.Errorf("blocked = %v, want %v", got, tc.blocked)
			}
		})
	}
}

func TestHTTPFetcherRefusesLoopbackAfterResolution(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	// "localhost" is a name: the guard sees the address it resolves to.
	url := "http://localhost:" + srv.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):] + "/feed/"
	tests := []struct {
		name         string
		allowPrivate bool
		wantErr      bool
	}{
		{"refused", false, true},
		{"allowed with --allow-private-addresses", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newHTTPFetcher(url, tc.allowPrivate, true)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := f.Fetch(t.Context(), "manifest.json")
			if tc.wantErr {
				if !errors.Is(err, errBlockedAddress) {
					t.Fatalf("error %v, want %v", err, errBlockedAddress)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
		})
	}
	if _, err := newHTTPFetcher("http://example.org/feed", false, false); err == nil {
		t.Error("an http:// feed was accepted")
	}
}
