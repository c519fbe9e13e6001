package text

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Kind is the kind of an extracted value.
type Kind string

// The kinds of value extracted. Those that are observables carry the name of their stix observable
// kind (see Kind.Observable).
const (
	KindIPv4     Kind = "ipv4-addr"
	KindIPv6     Kind = "ipv6-addr"
	KindIPv4CIDR Kind = "ipv4-cidr"
	KindIPv6CIDR Kind = "ipv6-cidr"
	KindDomain   Kind = "domain-name"
	KindURL      Kind = "url"
	KindEmail    Kind = "email-addr"
	KindMD5      Kind = "hash:MD5"
	KindSHA1     Kind = "hash:SHA-1"
	KindSHA256   Kind = "hash:SHA-256"
	KindSHA512   Kind = "hash:SHA-512"
	KindCVE      Kind = "cve"
	KindATTACK   Kind = "attack-technique"
)

// Kinds lists every kind, in the order the package documentation gives them.
var Kinds = []Kind{KindIPv4, KindIPv6, KindIPv4CIDR, KindIPv6CIDR, KindDomain, KindURL, KindEmail,
	KindMD5, KindSHA1, KindSHA256, KindSHA512, KindCVE, KindATTACK}

// IsIndicator reports whether values of the kind become STIX indicators (CVE and ATT&CK ids do not).
func (k Kind) IsIndicator() bool { return k != KindCVE && k != KindATTACK && k.valid() }

func (k Kind) valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Observable returns the stix observable kind of the values (stix.ObsIPv4...), or "" for CVE and
// ATT&CK ids. CIDR blocks are ipv4-addr or ipv6-addr values.
func (k Kind) Observable() string {
	switch k {
	case KindIPv4CIDR:
		return stix.ObsIPv4
	case KindIPv6CIDR:
		return stix.ObsIPv6
	case KindCVE, KindATTACK:
		return ""
	}
	return string(k)
}

// kindNames maps the names ParseKind accepts (lower case) to kinds: our own names, the observable
// kinds, the usual short names and the MISP attribute types.
var kindNames = map[string]Kind{
	"ipv4-addr": KindIPv4, "ipv4": KindIPv4, "ip": KindIPv4, "ip-src": KindIPv4, "ip-dst": KindIPv4,
	"ipv6-addr": KindIPv6, "ipv6": KindIPv6,
	"ipv4-cidr": KindIPv4CIDR, "cidr": KindIPv4CIDR, "ipv6-cidr": KindIPv6CIDR,
	"domain-name": KindDomain, "domain": KindDomain, "hostname": KindDomain, "host": KindDomain, "fqdn": KindDomain,
	"url": KindURL, "uri": KindURL, "link": KindURL,
	"email-addr": KindEmail, "email": KindEmail, "e-mail": KindEmail, "email-src": KindEmail, "email-dst": KindEmail,
	"hash:md5": KindMD5, "md5": KindMD5,
	"hash:sha-1": KindSHA1, "sha-1": KindSHA1, "sha1": KindSHA1,
	"hash:sha-256": KindSHA256, "sha-256": KindSHA256, "sha256": KindSHA256,
	"hash:sha-512": KindSHA512, "sha-512": KindSHA512, "sha512": KindSHA512,
	"cve": KindCVE, "vulnerability": KindCVE,
	"attack-technique": KindATTACK, "attack": KindATTACK, "technique": KindATTACK, "mitre-attack": KindATTACK,
}

// ParseKind reads a kind's name: one of the Kind constants, or a usual alias such as "ip", "domain",
// "hostname", "md5", "sha256", "email", "cidr", "technique", or a MISP attribute type ("ip-dst",
// "email-src"...). Case does not matter. "ip" and "cidr" stand for either address family: the value
// decides (see Validate).
func ParseKind(name string) (Kind, error) {
	if k, ok := kindNames[strings.ToLower(strings.TrimSpace(name))]; ok {
		return k, nil
	}
	return "", fmt.Errorf("%w: %q (known: ip, ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, cve, technique)", ErrUnknownKind, name)
}

// ErrUnknownKind is wrapped by ParseKind's errors.
var ErrUnknownKind = errors.New("unknown indicator kind")

// Limits of single values.
const (
	maxURLLen    = 4096
	maxDomainLen = 253
	maxEmailLen  = 320
)

// Validate checks that value is a valid value of kind and returns its normalised form: IP addresses
// in their canonical text (net/netip), CIDR blocks masked (a /32 or /128 block is a CIDR block still),
// domains, e-mail addresses and hashes in lower case, URLs with scheme and host in lower case, CVE
// and ATT&CK ids in upper case. Surrounding space is ignored. Validate does not refang: see Refang.
// For KindIPv4 and KindIPv6 (and their CIDR kinds) a value of the other family is accepted and the
// returned kind says which it is; for every other kind the returned kind is kind.
func Validate(kind Kind, value string) (Kind, string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return kind, "", errors.New("empty value")
	}
	switch kind {
	case KindIPv4, KindIPv6:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return kind, "", fmt.Errorf("%q is not an IP address", v)
		}
		if a.Is4() {
			return KindIPv4, a.String(), nil
		}
		return KindIPv6, a.String(), nil
	case KindIPv4CIDR, KindIPv6CIDR:
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return kind, "", fmt.Errorf("%q is not a CIDR block", v)
		}
		if p.Addr().Is4() {
			return KindIPv4CIDR, p.Masked().String(), nil
		}
		return KindIPv6CIDR, p.Masked().String(), nil
	case KindDomain:
		d, err := validDomain(v)
		return kind, d, err
	case KindURL:
		u, err := validURL(v)
		return kind, u, err
	case KindEmail:
		e, err := validEmail(v)
		return kind, e, err
	case KindMD5, KindSHA1, KindSHA256, KindSHA512:
		n := hashLen[kind]
		if len(v) != n || !isHex(v) {
			return kind, "", fmt.Errorf("%q is not %d hexadecimal digits", v, n)
		}
		return kind, strings.ToLower(v), nil
	case KindCVE:
		c, ok := validCVE(v)
		if !ok {
			return kind, "", fmt.Errorf("%q is not a CVE id (CVE-YYYY-NNNN)", v)
		}
		return kind, c, nil
	case KindATTACK:
		id, ok := validTechnique(v)
		if !ok {
			return kind, "", fmt.Errorf("%q is not an ATT&CK technique id (T1234 or T1234.001)", v)
		}
		return kind, id, nil
	}
	return kind, "", fmt.Errorf("%w: %q", ErrUnknownKind, string(kind))
}

var hashLen = map[Kind]int{KindMD5: 32, KindSHA1: 40, KindSHA256: 64, KindSHA512: 128}

// Classify guesses the kind of a single value (a field of a list), and validates it. It does not
// refang.
func Classify(value string) (Kind, string, error) {
	v := strings.TrimSpace(value)
	try := func(k Kind) (Kind, string, error) { return Validate(k, v) }
	switch {
	case v == "":
		return "", "", errors.New("empty value")
	case strings.Contains(v, "://"):
		return try(KindURL)
	case strings.Contains(v, "@"):
		return try(KindEmail)
	case strings.Contains(v, "/"):
		return try(KindIPv4CIDR)
	case strings.Contains(v, ":"):
		return try(KindIPv6)
	case isHex(v) && (len(v) == 32 || len(v) == 40 || len(v) == 64 || len(v) == 128):
		return try(map[int]Kind{32: KindMD5, 40: KindSHA1, 64: KindSHA256, 128: KindSHA512}[len(v)])
	case len(v) > 4 && strings.EqualFold(v[:4], "CVE-"):
		return try(KindCVE)
	}
	if id, ok := validTechnique(v); ok {
		return KindATTACK, id, nil
	}
	if isDigitsDots(v) {
		return try(KindIPv4)
	}
	d, err := validDomain(v)
	if err != nil {
		return "", "", fmt.Errorf("%q is not an indicator: %w", v, err)
	}
	return KindDomain, d, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigitsDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validDomain checks a host name: letters, digits and hyphens in labels of 1 to 63 characters, at
// most 253 in all, at least two labels, and a suffix on the public-suffix list (ICANN or private)
// with a registrable label before it. IDNs are accepted in their ASCII (xn--) form only.
func validDomain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(s), ".")
	if len(d) > maxDomainLen {
		return "", fmt.Errorf("domain longer than %d characters", maxDomainLen)
	}
	labels := 0
	for l := range strings.SplitSeq(d, ".") {
		labels++
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("%q: empty or over-long label", s)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("%q: a label starts or ends with a hyphen", s)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", fmt.Errorf("%q: %q is not allowed in a host name", s, rune(c))
			}
		}
	}
	if labels < 2 {
		return "", fmt.Errorf("%q has a single label", s)
	}
	tld := d[strings.LastIndexByte(d, '.')+1:]
	if isDigits(tld) {
		return "", fmt.Errorf("%q ends in a number", s)
	}
	suffix, icann := publicsuffix.PublicSuffix(d)
	if !icann && !strings.Contains(suffix, ".") {
		return "", fmt.Errorf("%q: .%s is not a public suffix", s, tld)
	}
	if suffix == d {
		return "", fmt.Errorf("%q is a public suffix, not a domain", s)
	}
	return d, nil
}

// urlSchemes are the schemes of URLs extracted.
var urlSchemes = []string{"http", "https", "ftp", "ftps", "sftp"}

// validURL checks a URL: one of urlSchemes, "://", a host that is an IP literal or a valid domain,
// an optional port, no space or control character, valid UTF-8, at most 4096 bytes. It lower-cases
// the scheme and the host and leaves the rest as written.
func validURL(s string) (string, error) {
	if len(s) > maxURLLen {
		return "", fmt.Errorf("URL longer than %d bytes", maxURLLen)
	}
	if !utf8.ValidString(s) {
		return "", errors.New("URL is not valid UTF-8")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '"' || r == '<' || r == '>' || r == '`' {
			return "", fmt.Errorf("URL contains %q", r)
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", fmt.Errorf("%q has no scheme", s)
	}
	scheme = strings.ToLower(scheme)
	known := false
	for _, k := range urlSchemes {
		known = known || scheme == k
	}
	if !known {
		return "", fmt.Errorf("%q: scheme %q is not one of %s", s, scheme, strings.Join(urlSchemes, ", "))
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		userinfo, auth = auth[:at+1], auth[at+1:]
	}
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		close := strings.IndexByte(auth, ']')
		if close < 0 {
			return "", fmt.Errorf("%q: unclosed [ in host", s)
		}
		host, port = auth[:close+1], auth[close+1:]
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("%q: %s is not an IPv6 address", s, host)
		}
		host = "[" + a.String() + "]"
	} else {
		if c := strings.LastIndexByte(auth, ':'); c >= 0 {
			host, port = auth[:c], auth[c:]
		}
		if isDigitsDots(host) {
			a, err := netip.ParseAddr(host)
			if err != nil || !a.Is4() {
				return "", fmt.Errorf("%q: %s is not an IPv4 address", s, host)
			}
			host = a.String()
		} else {
			d, err := validDomain(host)
			if err != nil {
				return "", fmt.Errorf("host of %q: %w", s, err)
			}
			host = d
		}
	}
	if port != "" {
		if !isDigits(port[1:]) || len(port) > 6 || port[0] != ':' {
			return "", fmt.Errorf("%q: bad port %q", s, port)
		}
	}
	return scheme + "://" + userinfo + host + port + tail, nil
}

// validEmail checks an e-mail address: a dot-atom local part of at most 64 characters and a valid
// domain. The result is in lower case (as stix normalises e-mail addresses).
func validEmail(s string) (string, error) {
	if len(s) > maxEmailLen {
		return "", fmt.Errorf("e-mail address longer than %d bytes", maxEmailLen)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return "", fmt.Errorf("%q is not an e-mail address", s)
	}
	local, dom := s[:at], s[at+1:]
	if len(local) > 64 || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", fmt.Errorf("%q: bad local part", s)
	}
	for i := 0; i < len(local); i++ {
		if !isLocalByte(local[i]) {
			return "", fmt.Errorf("%q: %q is not allowed in the local part", s, rune(local[i]))
		}
	}
	d, err := validDomain(dom)
	if err != nil {
		return "", fmt.Errorf("domain of %q: %w", s, err)
	}
	return strings.ToLower(local) + "@" + d, nil
}

// isLocalByte reports the characters of a dot-atom local part that extraction accepts (RFC 5322's
// atext without the rarely used ones that prose punctuation would drag in).
func isLocalByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._%+-=", c) >= 0
}

// validCVE checks CVE-YYYY-NNNN with a year from 1999 and a sequence of 4 to 7 digits.
func validCVE(s string) (string, bool) {
	if len(s) < 13 || !strings.EqualFold(s[:4], "CVE-") || s[8] != '-' {
		return "", false
	}
	year, seq := s[4:8], s[9:]
	// More than four digits have no leading zero (CVE-2014-0001 but CVE-2014-10001), as stix checks.
	if !isDigits(year) || year < "1999" || !isDigits(seq) || len(seq) < 4 || len(seq) > 7 || len(seq) > 4 && seq[0] == '0' {
		return "", false
	}
	return "CVE-" + year + "-" + seq, true
}

// validTechnique checks T1234 or T1234.001 (enterprise, mobile and ICS technique ids).
func validTechnique(s string) (string, bool) {
	if len(s) != 5 && len(s) != 9 || s[0] != 'T' && s[0] != 't' || !isDigits(s[1:5]) {
		return "", false
	}
	if len(s) == 9 && (s[5] != '.' || !isDigits(s[6:])) {
		return "", false
	}
	return "T" + s[1:], true
}
