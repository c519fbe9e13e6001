// Package match owns renkei's matching engine below the pattern evaluator: the compiled indicator
// index (an exact-value fingerprint table, a CIDR prefix table and domain suffix matching on label
// boundaries), its lock-free snapshot swap as indicators arrive or are revoked, the log readers (JSON
// lines, Zeek TSV, CSV and plain text) that turn log lines into candidate values, and the Matcher
// that looks every candidate up on all cores and reports hits in input order.
//
// The Index knows nothing about STIX: it maps Entry values (kind, value, and a Ref) to Refs.
// Compile builds a Compiled from a store's active STIX indicators: the Index, and the table from
// Ref to indicator (id, the labels the sharing policy reads, the pattern's text) with which hits
// are evaluated in full (Verify) and filtered per viewer. A Compiled is kept in an index file that
// is mapped, not decoded, when it is loaded (persist.go); Load reuses the file while it is fresh
// and compiles it again when the store changed (open.go).
package match

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unsafe"
)

// Kind is the kind of an indicator value or of a candidate value read from a log.
type Kind uint8

// The kinds. KindIP and KindHash are conveniences: an IP is read as IPv4 or IPv6 from its form, and
// a hash as MD5, SHA-1, SHA-256 or SHA-512 from its length. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is the IPv4 address.
const (
	KindInvalid Kind = iota
	KindIPv4
	KindIPv6
	KindIP
	KindCIDR
	KindDomain
	KindURL
	KindEmail
	KindMD5
	KindSHA1
	KindSHA256
	KindSHA512
	KindHash
	KindOther
	numKinds
)

var kindNames = [numKinds]string{"invalid", "ipv4", "ipv6", "ip", "cidr", "domain", "url", "email",
	"md5", "sha1", "sha256", "sha512", "hash", "other"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind reads a kind by its name ("ipv4", "domain", "sha256", …, as Kind.String writes them).
// "domain-name", "ipv4-addr", "ipv6-addr", "email-addr", "sha-1" and "sha-256" are accepted too.
func ParseKind(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "domain-name", "hostname", "host":
		return KindDomain, nil
	case "ipv4-addr":
		return KindIPv4, nil
	case "ipv6-addr":
		return KindIPv6, nil
	case "email-addr":
		return KindEmail, nil
	case "sha-1":
		return KindSHA1, nil
	case "sha-256":
		return KindSHA256, nil
	case "sha-512":
		return KindSHA512, nil
	case "other-string", "string":
		return KindOther, nil
	}
	for k := KindIPv4; k < numKinds; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return KindInvalid, fmt.Errorf("unknown kind %q (want one of ipv4, ipv6, ip, cidr, domain, url, email, md5, sha1, sha256, sha512, hash, other)", s)
}

// Entry is one indicator value to index.
type Entry struct {
	Kind  Kind
	Value string
	// Ref identifies the indicator in the caller's table; it is what a Hit reports. It must be
	// below MaxRef. Several entries may share a Ref (a pattern with several values) and several
	// Refs may share a value.
	Ref uint32
}

// MaxRef bounds Entry.Ref: the top bit is the index's own.
const MaxRef = 1<<31 - 1

// Limits on values.
const (
	// MaxValueLen bounds an indexed or looked-up value, in bytes, after normalisation.
	MaxValueLen  = 8192
	maxDomainLen = 253
	maxLabels    = 127
)

// key classes: the first byte of every stored key. Hex hashes of every algorithm share one class,
// stored as binary; their lengths keep the algorithms apart.
const (
	classIPv4   = 1
	classIPv6   = 2
	classDomain = 3
	classURL    = 4
	classEmail  = 5
	classHash   = 6
	classOther  = 7
)

// The reasons a value is refused. They are fixed values because lookups meet invalid values all
// the time (a tokenizer's guesses) and must not allocate.
var (
	errEmpty    = errors.New("empty value")
	errTooLong  = fmt.Errorf("longer than the limit of %d bytes", MaxValueLen)
	errEmail    = errors.New("not an email address (local@domain, no spaces)")
	errKind     = errors.New("unknown kind")
	errHashLen  = errors.New("wrong number of hex digits (md5 32, sha1 40, sha256 64, sha512 128)")
	errHex      = errors.New("not a hex string")
	errCIDR     = errors.New("not a CIDR block (address/prefix length)")
	errIP       = errors.New("not an IP address")
	errFamily   = errors.New("address of the other IP version")
	errDomain   = errors.New("not a domain name (letters, digits, '-', '_', non-empty labels, at most 253 bytes)")
	errURLSpace = errors.New("a URL may not hold white space")
	errURLHost  = errors.New("a URL without a host")
)

// Normalize returns the value as the index stores and compares it, in text form:
//
//	ipv4, ipv6, ip   the address in its canonical form (net/netip); IPv4-mapped IPv6 becomes IPv4;
//	                 a value with a prefix length is a CIDR (and /32 or /128 is the address)
//	cidr             the masked prefix (10.1.2.3/8 becomes 10.0.0.0/8)
//	domain           ASCII lower case, surrounding space, one trailing dot and a leading "*." removed
//	url              scheme and host in ASCII lower case, default port (80 for http, 443 for https,
//	                 21 for ftp) removed, trailing dot of the host removed, the fragment removed, an
//	                 empty path made "/"; a URL without "scheme://" is read as "http://"; the rest
//	                 (user info, path, query, percent escapes) is kept as it is
//	email            ASCII lower case (local part included, as stix.NormalizeObservable does)
//	md5 … sha512     lower-case hex of the right length (32, 40, 64, 128 digits)
//	other            exactly as given
//
// Non-ASCII letters are not case-folded and internationalised names are not converted to
// punycode: an indicator and a log must agree on the form.
func Normalize(kind Kind, value string) (Kind, string, error) {
	k, key, err := encodeKey(nil, kind, []byte(value))
	if err != nil {
		return k, "", err
	}
	return k, decodeKey(k, key), nil
}

// decodeKey renders an encoded key (without its class byte) as text.
func decodeKey(k Kind, key []byte) string {
	switch k {
	case KindIPv4, KindIPv6:
		a, _ := netip.AddrFromSlice(key)
		return a.String()
	case KindCIDR:
		var p netip.Prefix
		if err := p.UnmarshalBinary(key); err != nil {
			return ""
		}
		return p.String()
	case KindMD5, KindSHA1, KindSHA256, KindSHA512:
		return hex.EncodeToString(key)
	}
	return string(key)
}

// encodeKey appends the stored form of value to dst: binary addresses and hashes, normalised text
// otherwise. It returns the exact kind (KindIP and KindHash resolved, a CIDR of one address turned
// into an address). For KindCIDR the key is netip.Prefix's binary form. It does not allocate when
// dst has room.
func encodeKey(dst []byte, kind Kind, v []byte) (Kind, []byte, error) {
	if len(v) > 0 && !(v[0] > ' ' && v[0] < 0x80 && v[len(v)-1] > ' ' && v[len(v)-1] < 0x80) {
		v = bytes.TrimSpace(v)
	}
	if len(v) == 0 {
		return kind, dst, errEmpty
	}
	if len(v) > MaxValueLen {
		return kind, dst, errTooLong
	}
	switch kind {
	case KindIPv4, KindIPv6, KindIP, KindCIDR:
		return encodeIP(dst, kind, v)
	case KindDomain:
		return encodeDomain(dst, v)
	case KindURL:
		return encodeURL(dst, v)
	case KindEmail:
		at := bytes.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || bytes.IndexByte(v, ' ') >= 0 {
			return kind, dst, errEmail
		}
		return kind, appendLower(dst, v), nil
	case KindMD5, KindSHA1, KindSHA256, KindSHA512, KindHash:
		return encodeHash(dst, kind, v)
	case KindOther:
		return kind, append(dst, v...), nil
	}
	return kind, dst, errKind
}

func classOf(k Kind) byte {
	switch k {
	case KindIPv4:
		return classIPv4
	case KindIPv6:
		return classIPv6
	case KindDomain:
		return classDomain
	case KindURL:
		return classURL
	case KindEmail:
		return classEmail
	case KindMD5, KindSHA1, KindSHA256, KindSHA512:
		return classHash
	case KindOther:
		return classOther
	}
	return 0
}

// hashKind names the algorithm of a binary hash from its length.
func hashKind(n int) Kind {
	switch n {
	case 16:
		return KindMD5
	case 20:
		return KindSHA1
	case 32:
		return KindSHA256
	case 64:
		return KindSHA512
	}
	return KindInvalid
}

func encodeHash(dst []byte, kind Kind, v []byte) (Kind, []byte, error) {
	k := hashKind(len(v) / 2)
	if len(v)%2 != 0 || k == KindInvalid {
		return kind, dst, errHashLen
	}
	if kind != KindHash && k != kind {
		return kind, dst, errHashLen
	}
	n := len(dst)
	for i := 0; i < len(v); i += 2 {
		hi, lo := unhex[v[i]], unhex[v[i+1]]
		if hi|lo == 0xff {
			return k, dst[:n], errHex
		}
		dst = append(dst, hi<<4|lo)
	}
	return k, dst, nil
}

// unhex maps a hex digit to its value and anything else to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

func encodeIP(dst []byte, kind Kind, v []byte) (Kind, []byte, error) {
	if bytes.IndexByte(v, '/') >= 0 {
		p, err := netip.ParsePrefix(string(v))
		if err != nil {
			return kind, dst, errCIDR
		}
		a := p.Addr()
		if a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if kind == KindIPv4 && !p.Addr().Is4() || kind == KindIPv6 && p.Addr().Is4() {
			return kind, dst, errFamily
		}
		if !p.IsSingleIP() {
			b, err := p.AppendBinary(dst)
			return KindCIDR, b, err
		}
		return appendAddr(dst, p.Addr())
	}
	if kind == KindCIDR {
		return kind, dst, errCIDR
	}
	if kind != KindIPv6 {
		if b, ok := parseIPv4(v); ok {
			return KindIPv4, append(dst, b[:]...), nil
		}
	}
	if kind != KindIPv4 {
		if a, ok := parseIPv6(v); ok {
			if isMapped(&a) {
				if kind == KindIPv6 {
					return kind, dst, errFamily
				}
				return KindIPv4, append(dst, a[12:]...), nil
			}
			return KindIPv6, append(dst, a[:]...), nil
		}
	}
	// Forms parseIPv6 leaves to netip (a zone). The string shares v's bytes: ParseAddr keeps no
	// reference to it.
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(v), len(v)))
	if err != nil {
		return kind, dst, errIP
	}
	a = a.Unmap().WithZone("")
	if kind == KindIPv4 && !a.Is4() || kind == KindIPv6 && a.Is4() {
		return kind, dst, errFamily
	}
	return appendAddr(dst, a)
}

// parseIPv4 reads dotted-quad IPv4 (four decimal numbers up to 255, no leading zeros, as
// netip.ParseAddr) without allocating. Anything else is left to netip.ParseAddr.
func parseIPv4(v []byte) ([4]byte, bool) {
	var out [4]byte
	if len(v) < 7 || len(v) > 15 {
		return out, false
	}
	i := 0
	for n := range 4 {
		if n > 0 {
			if i >= len(v) || v[i] != '.' {
				return out, false
			}
			i++
		}
		if i >= len(v) {
			return out, false
		}
		x := uint(v[i] - '0')
		if x > 9 {
			return out, false
		}
		i++
		if i < len(v) {
			if d := uint(v[i] - '0'); d <= 9 {
				if x == 0 { // a leading zero
					return out, false
				}
				x = x*10 + d
				i++
				if i < len(v) {
					if d := uint(v[i] - '0'); d <= 9 {
						x = x*10 + d
						i++
					}
				}
			}
		}
		if x > 255 {
			return out, false
		}
		out[n] = byte(x)
	}
	return out, i == len(v)
}

func appendAddr(dst []byte, a netip.Addr) (Kind, []byte, error) {
	if a.Is4() {
		b := a.As4()
		return KindIPv4, append(dst, b[:]...), nil
	}
	b := a.As16()
	return KindIPv6, append(dst, b[:]...), nil
}

// lower maps ASCII upper case to lower case and every other byte to itself.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c + 'a' - 'A')
	}
	return t
}()

func appendLower(dst, v []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(v))[:n+len(v)]
	d := dst[n:]
	i := 0
	for ; i+8 <= len(v); i += 8 {
		binary.LittleEndian.PutUint64(d[i:], lowerWord(binary.LittleEndian.Uint64(v[i:])))
	}
	for ; i < len(v); i++ {
		d[i] = lower[v[i]]
	}
	return dst
}

const (
	lsbs = 0x0101010101010101 // the low bit of every byte of a word
	msbs = 0x8080808080808080 // the high bit of every byte
)

// lowerWord maps the ASCII upper-case letters among the 8 bytes of x to lower case, every other
// byte to itself.
func lowerWord(x uint64) uint64 {
	h := x &^ msbs                 // each byte below 0x80, so that adding does not carry over
	ge := h + lsbs*(0x80-'A')      // high bit set where the byte ≥ 'A'
	gt := h + lsbs*(0x80-'Z'-1)    // high bit set where the byte > 'Z'
	upper := (ge ^ gt) &^ x & msbs // 'A' to 'Z', and not a byte ≥ 0x80
	return x | upper>>2            // 0x80>>2 is 0x20, what turns 'A' into 'a'
}

// eqBytes returns the high bit of each byte of x that is c, and no other bit.
func eqBytes(x uint64, c byte) uint64 {
	y := x ^ lsbs*uint64(c) // 0 where the byte is c
	// A byte's high bit is set in (y&^msbs + 0x7f…) | y when the byte is not 0, with no carry
	// between bytes.
	return ^((y&^msbs + lsbs*0x7f) | y) & msbs
}

// inRange returns the high bit of each byte of x, all of them below 0x80, that is in [lo, hi].
func inRange(x uint64, lo, hi byte) uint64 {
	return ((x + lsbs*uint64(0x80-lo)) ^ (x + lsbs*uint64(0x7f-hi))) & msbs
}

// domainWord reports whether the 8 bytes of x are all domainByte; dots is eqBytes(x, '.').
func domainWord(x, dots uint64) bool {
	h := x &^ msbs
	ok := x&msbs | dots | eqBytes(x, '-') | eqBytes(x, '_') |
		inRange(h, '0', '9') | inRange(h, 'a', 'z') | inRange(h, 'A', 'Z')
	return ok&msbs == msbs
}

// hasLess reports whether a byte of x is below n, which is at most 128.
func hasLess(x uint64, n byte) bool {
	return (x-lsbs*uint64(n))&^x&msbs != 0
}

// domainByte is true for the bytes a host name may hold: letters, digits, '-', '_', '.', and
// non-ASCII (internationalised names as received).
var domainByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c >= 0x80
	}
	return t
}()

func encodeDomain(dst, v []byte) (Kind, []byte, error) {
	v = bytes.TrimPrefix(v, []byte("*."))
	v = bytes.TrimSuffix(v, []byte("."))
	if len(v) == 0 || len(v) > maxDomainLen {
		return KindDomain, dst, errDomain
	}
	n := len(dst)
	prev := byte('.')
	for _, c := range v {
		if !domainByte[c] || c == '.' && prev == '.' {
			return KindDomain, dst[:n], errDomain
		}
		prev = c
		dst = append(dst, lower[c])
	}
	return KindDomain, dst, nil
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}

func encodeURL(dst, v []byte) (Kind, []byte, error) {
	// Eight bytes at a time: only a word with a byte up to ' ' is looked at byte by byte.
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if hasLess(binary.LittleEndian.Uint64(v[i:]), ' '+1) && hasURLSpace(v[i:i+8]) {
			return KindURL, dst, errURLSpace
		}
	}
	if hasURLSpace(v[i:]) {
		return KindURL, dst, errURLSpace
	}
	n := len(dst)
	rest := v
	scheme := []byte("http")
	// A scheme holds no ':', so only the first ':' can end one.
	if i := bytes.IndexByte(v[:min(len(v), 33)], ':'); i > 0 && len(v)-i >= 3 && v[i+1] == '/' && v[i+2] == '/' && isScheme(v[:i]) {
		scheme, rest = v[:i], v[i+3:]
	}
	if h := bytes.IndexByte(rest, '#'); h >= 0 {
		rest = rest[:h]
	}
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
		end++
	}
	authority, tail := rest[:end], rest[end:]
	dst = appendLower(dst, scheme)
	dst = append(dst, "://"...)
	if at := bytes.LastIndexByte(authority, '@'); at >= 0 {
		dst = append(dst, authority[:at+1]...)
		authority = authority[at+1:]
	}
	host, port := authority, []byte(nil)
	if c := bytes.LastIndexByte(authority, ':'); c >= 0 && bytes.IndexByte(authority[c:], ']') < 0 {
		host, port = authority[:c], authority[c+1:]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if len(host) == 0 {
		return KindURL, dst[:n], errURLHost
	}
	dst = appendLower(dst, host)
	if len(port) > 0 {
		sch := dst[n : n+len(scheme)]
		if def, ok := defaultPorts[string(sch)]; !ok || def != string(port) {
			dst = append(dst, ':')
			dst = append(dst, port...)
		}
	}
	if len(tail) == 0 || tail[0] == '?' {
		dst = append(dst, '/')
	}
	dst = append(dst, tail...)
	return KindURL, dst, nil
}

// hasURLSpace reports whether v holds white space (a URL may not).
func hasURLSpace(v []byte) bool {
	for _, c := range v {
		if c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return true
		}
	}
	return false
}

func isScheme(s []byte) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i, c := range s {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
