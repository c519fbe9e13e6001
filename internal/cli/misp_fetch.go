package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// errBlockedAddress is returned when a feed fetch would reach an address it must not reach.
var errBlockedAddress = errors.New("address not allowed")

// blockedAddr reports why an address must not be fetched from (loopback, link-local — cloud metadata
// services live there —, private, unspecified, multicast, CGNAT, or IPv4 mapped into IPv6 of those),
// or "" when it may.
func blockedAddr(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local (cloud metadata services live there)"
	case a.IsPrivate():
		return "private"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case netip.MustParsePrefix("100.64.0.0/10").Contains(a):
		return "shared address space (CGNAT)"
	case a == netip.MustParseAddr("fd00:ec2::254"):
		return "cloud metadata"
	}
	return ""
}

// guardControl is a net.Dialer Control hook: it runs after DNS resolution, on the address actually
// dialled, so a name that resolves to a forbidden address is refused too.
func guardControl(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot read dialled address %q", errBlockedAddress, address)
		}
		if why := blockedAddr(ap.Addr()); why != "" {
			return fmt.Errorf("%w: %s is a %s address (use --allow-private-addresses to allow it)", errBlockedAddress, ap.Addr(), why)
		}
		return nil
	}
}

// httpFetcher fetches the files of a MISP feed below a base URL.
type httpFetcher struct {
	base   *url.URL
	client *http.Client
}

// newHTTPFetcher makes a fetcher for an https:// feed URL (http:// only with allowInsecure, for
// tests). Every connection, redirects included, goes through guardControl.
func newHTTPFetcher(raw string, allowPrivate, allowInsecure bool) (*httpFetcher, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("feed URL %q: %w", raw, err)
	}
	if u.Scheme != "https" && !(allowInsecure && u.Scheme == "http") {
		return nil, fmt.Errorf("feed URL %q: only https:// feeds are fetched", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: guardControl(allowPrivate)}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the address actually reached
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if req.URL.Scheme != "https" && !(allowInsecure && req.URL.Scheme == "http") {
				return fmt.Errorf("redirect to %s: only https is followed", req.URL.Redacted())
			}
			return nil
		}}
	return &httpFetcher{base: u, client: c}, nil
}

// Fetch gets base/name.
func (f *httpFetcher) Fetch(ctx context.Context, name string) (io.ReadCloser, error) {
	u := f.base.JoinPath(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetch %s: %s", u.Redacted(), resp.Status)
	}
	return resp.Body, nil
}
