package warninglist

import "strings"

// class groups the kinds of value Check accepts by how they are matched.
type class uint8

const (
	classOther class = iota // a MISP attribute type this package does not know: string lists only
	classIP
	classDomain
	classURL
	classEmail
	classMD5
	classSHA1
	classSHA224
	classSHA256
	classSHA384
	classSHA512
	classSSDEEP
	classTLSH
	numClasses
)

// misptypes lists, for each class, the MISP attribute types whose values it holds: a list applies to
// a value of the class when its matching_attributes name one of them.
var misptypes = [numClasses][]string{
	classIP:     {"ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip", "ip"},
	classDomain: {"domain", "hostname", "domain|ip", "hostname|port"},
	classURL:    {"url", "uri", "link"},
	classEmail:  {"email", "email-src", "email-dst", "target-email", "email-reply-to", "whois-registrant-email"},
	classMD5:    {"md5", "filename|md5"},
	classSHA1:   {"sha1", "filename|sha1"},
	classSHA224: {"sha224", "filename|sha224"},
	classSHA256: {"sha256", "filename|sha256"},
	classSHA384: {"sha384", "filename|sha384"},
	classSHA512: {"sha512", "filename|sha512"},
	classSSDEEP: {"ssdeep", "filename|ssdeep"},
	classTLSH:   {"tlsh", "filename|tlsh"},
}

// classOf returns the class of a kind: an observable kind of package stix or a MISP attribute type.
// Kinds of neither are classOther.
func classOf(kind string) class {
	switch kind {
	case "ipv4-addr", "ipv6-addr", "ip-src", "ip-dst", "ip":
		return classIP
	case "domain-name", "domain", "hostname":
		return classDomain
	case "url", "uri", "link":
		return classURL
	case "email-addr", "email", "email-src", "email-dst", "target-email", "email-reply-to", "whois-registrant-email":
		return classEmail
	case "hash:MD5", "md5":
		return classMD5
	case "hash:SHA-1", "sha1":
		return classSHA1
	case "hash:SHA-224", "sha224":
		return classSHA224
	case "hash:SHA-256", "sha256":
		return classSHA256
	case "hash:SHA-384", "sha384":
		return classSHA384
	case "hash:SHA-512", "sha512":
		return classSHA512
	case "hash:SSDEEP", "ssdeep":
		return classSSDEEP
	case "hash:TLSH", "tlsh":
		return classTLSH
	}
	return classOther
}

// foldCase reports whether values of the class compare without regard to ASCII case.
func (c class) foldCase() bool {
	switch c {
	case classDomain, classEmail, classMD5, classSHA1, classSHA224, classSHA256, classSHA384, classSHA512, classTLSH:
		return true
	}
	return false
}

// compound splits a MISP compound attribute type ("domain|ip", "filename|md5", "ip-dst|port") into
// the kinds of its parts; ok is false for other kinds.
func compound(kind string) (first, second string, ok bool) {
	first, second, ok = strings.Cut(kind, "|")
	return first, second, ok && first != "" && second != "" && !strings.Contains(second, "|")
}

// hostOfURL returns the host of a URL (without user information, port or IPv6 brackets), or "".
func hostOfURL(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		rest = strings.TrimPrefix(u, "//")
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			return rest[1:end]
		}
		return ""
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// normHost lower-cases a host name and removes a trailing dot and a leading "*." or ".".
func normHost(h string) string {
	h = strings.TrimSpace(h)
	h = strings.TrimSuffix(h, ".")
	h = strings.TrimPrefix(h, "*.")
	h = strings.TrimPrefix(h, ".")
	return lowerASCII(h)
}

// lowerASCII lower-cases ASCII letters, without allocating when there are none.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
