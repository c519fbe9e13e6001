package stix

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Observable kinds. Object.Observables lists the normalised values an object carries, for
// correlation and matching. They come from SCOs (top-level, and those inside the deprecated
// observed-data "objects" container); SCOs marked defanged are skipped, as their values are not
// real. Indicator patterns are not read here.
//
//	kind                          from                                  normalised value
//	ipv4-addr                     ipv4-addr value                       dotted quad; a CIDR block stays a
//	                                                                    CIDR block, but /32 becomes the address
//	ipv6-addr                     ipv6-addr value                       RFC 5952 form (net/netip); /128 becomes
//	                                                                    the address, other blocks stay CIDR
//	domain-name                   domain-name value                     lower case, trailing dot removed
//	url                           url value                             as received, surrounding space trimmed
//	email-addr                    email-addr value                      lower case
//	mac-addr                      mac-addr value                        lower case, colon-separated
//	hash:<algorithm>              hashes of file, artifact,             hex algorithms (MD5, SHA-1, SHA-256,
//	                              x509-certificate                      SHA-512, SHA3-256, SHA3-512, TLSH)
//	                                                                    in lower case; others as received.
//	                                                                    The algorithm is named as in §10.7
//	                                                                    ("sha256" and "SHA256" become SHA-256)
//	autonomous-system             autonomous-system number              decimal
//	mutex                         mutex name                            as received
//	windows-registry-key          windows-registry-key key              lower case
//	user-account                  user-account user_id                  as received
//	x509-certificate:serial       x509-certificate serial_number        lower case, without ':' and spaces
const (
	ObsIPv4      = "ipv4-addr"
	ObsIPv6      = "ipv6-addr"
	ObsDomain    = "domain-name"
	ObsURL       = "url"
	ObsEmail     = "email-addr"
	ObsMAC       = "mac-addr"
	ObsASN       = "autonomous-system"
	ObsMutex     = "mutex"
	ObsRegKey    = "windows-registry-key"
	ObsUserID    = "user-account"
	ObsX509Sr    = "x509-certificate:serial"
	ObsHashKind  = "hash:" // followed by the algorithm name, such as "hash:SHA-256"
	maxObsPerObj = 4096
)

// NormalizeObservable normalises a value of an observable kind the way Decode does, so that
// callers (search, the matcher) can look up values. ok is false when the value is not valid for
// the kind.
func NormalizeObservable(kind, value string) (string, bool) {
	switch kind {
	case ObsIPv4, ObsIPv6:
		return normIP(value, kind == ObsIPv4)
	case ObsDomain:
		s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(value)), ".")
		return s, s != ""
	case ObsURL:
		s := strings.TrimSpace(value)
		return s, s != ""
	case ObsEmail, ObsRegKey:
		s := strings.ToLower(strings.TrimSpace(value))
		return s, s != ""
	case ObsMAC:
		hw, err := net.ParseMAC(strings.TrimSpace(value))
		if err != nil || len(hw) != 6 {
			return "", false
		}
		return hw.String(), true
	case ObsASN:
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(value)), "AS"), 10, 32)
		return strconv.FormatUint(n, 10), err == nil
	case ObsX509Sr:
		s := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(value))
		return s, s != ""
	case ObsMutex, ObsUserID:
		return value, value != ""
	}
	if alg, ok := strings.CutPrefix(kind, ObsHashKind); ok {
		alg = HashAlgorithm(alg)
		if _, hex := hashLengths[alg]; hex || alg == "TLSH" {
			return strings.ToLower(strings.TrimSpace(value)), value != ""
		}
		return value, value != ""
	}
	return "", false
}

// HashAlgorithm names a hash algorithm as the hash-algorithm-ov vocabulary does (§10.7), accepting
// the usual variants of case and hyphenation ("sha256", "SHA256", "sha-1"); other names are
// returned unchanged.
func HashAlgorithm(name string) string {
	switch strings.ToUpper(strings.ReplaceAll(name, "_", "-")) {
	case "MD5":
		return "MD5"
	case "SHA-1", "SHA1":
		return "SHA-1"
	case "SHA-256", "SHA256":
		return "SHA-256"
	case "SHA-512", "SHA512":
		return "SHA-512"
	case "SHA3-256":
		return "SHA3-256"
	case "SHA3-512":
		return "SHA3-512"
	case "SSDEEP":
		return "SSDEEP"
	case "TLSH":
		return "TLSH"
	}
	return name
}

func normIP(s string, v4 bool) (string, bool) {
	s = strings.TrimSpace(s)
	var buf [64]byte
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4() != v4 {
			return "", false
		}
		if p.IsSingleIP() {
			return p.Addr().String(), true
		}
		if string(p.AppendTo(buf[:0])) == s {
			return s, true
		}
		return p.String(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is4() != v4 {
		return "", false
	}
	if string(a.AppendTo(buf[:0])) == s { // already canonical: keep the string, no allocation
		return s, true
	}
	return a.String(), true
}

// collectObservables fills Object.Observables.
func (v *validator) collectObservables() {
	o := v.obj
	if o.Kind == KindSCO {
		v.observablesOf(o.Type, v.root)
		return
	}
	if o.Type != "observed-data" {
		return
	}
	objs, ok := v.get("objects")
	if !ok || objs.kind(v.raw) != '{' {
		return
	}
	it := newIter(v.raw, objs)
	for {
		_, val, ok := it.member()
		if !ok {
			return
		}
		if t, ok := v.lookup(val, "type"); ok && t.kind(v.raw) == '"' {
			v.observablesOf(v.unquoted(t), val)
		}
	}
}

// observablesOf adds the observables of one SCO, given as the object value sp.
func (v *validator) observablesOf(typ string, sp span) {
	find := func(name string) (span, bool) {
		if sp == v.root {
			return v.get(name)
		}
		return v.lookup(sp, name)
	}
	if d, ok := find("defanged"); ok && v.raw[d.s] == 't' {
		return
	}
	str := func(name string) (string, bool) {
		x, ok := find(name)
		if !ok || x.kind(v.raw) != '"' {
			return "", false
		}
		return v.unquoted(x), true
	}
	add := func(kind, value string) {
		if n, ok := NormalizeObservable(kind, value); ok && len(v.obj.Observables) < maxObsPerObj {
			v.obj.Observables = append(v.obj.Observables, Observable{Kind: kind, Value: n})
		}
	}
	switch typ {
	case "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "mac-addr":
		if s, ok := str("value"); ok {
			add(typ, s)
		}
	case "mutex":
		if s, ok := str("name"); ok {
			add(ObsMutex, s)
		}
	case "windows-registry-key":
		if s, ok := str("key"); ok {
			add(ObsRegKey, s)
		}
	case "user-account":
		if s, ok := str("user_id"); ok {
			add(ObsUserID, s)
		}
	case "autonomous-system":
		if x, ok := find("number"); ok && isNumberKind(x.kind(v.raw)) {
			if n, ok := parseInt(v.raw[x.s:x.e]); ok && n >= 0 {
				add(ObsASN, strconv.FormatInt(n, 10))
			}
		}
	case "x509-certificate":
		if s, ok := str("serial_number"); ok {
			add(ObsX509Sr, s)
		}
		v.hashObservables(find, add)
	case "file", "artifact":
		v.hashObservables(find, add)
	}
}

func (v *validator) hashObservables(find func(string) (span, bool), add func(kind, value string)) {
	h, ok := find("hashes")
	if !ok || h.kind(v.raw) != '{' {
		return
	}
	it := newIter(v.raw, h)
	for {
		n, val, ok := it.member()
		if !ok {
			return
		}
		if val.kind(v.raw) == '"' {
			add(ObsHashKind+HashAlgorithm(v.unquoted(n)), v.unquoted(val))
		}
	}
}
