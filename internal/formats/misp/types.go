package misp

import (
	"net/netip"
	"strings"
)

// A typeSpec maps one MISP attribute type to STIX object paths. The value of the attribute is split
// on '|' into one part per path (the last part takes the rest), and each part is the value of its
// path. Paths are written as the pattern package renders them ("file:hashes.'SHA-1'"). Every path
// of a spec starts from the same root object type, except that "ipv4-addr" stands for the address
// family of the value (ipv4-addr or ipv6-addr).
type typeSpec struct {
	paths []string
	// category is MISP's default category of the type, used on the way back when STIX says nothing.
	category string
}

// Path kinds the builders understand.
const (
	pIPValue     = "ipv4-addr:value"
	pDomain      = "domain-name:value"
	pDomainIP    = "domain-name:resolves_to_refs[*].value"
	pURL         = "url:value"
	pEmail       = "email-addr:value"
	pMAC         = "mac-addr:value"
	pMutex       = "mutex:name"
	pFileName    = "file:name"
	pFileSize    = "file:size"
	pRegKey      = "windows-registry-key:key"
	pRegData     = "windows-registry-key:values[*].data"
	pASN         = "autonomous-system:number"
	pSubject     = "email-message:subject"
	pNetDstValue = "network-traffic:dst_ref.value"
	pNetSrcValue = "network-traffic:src_ref.value"
	pNetDstPort  = "network-traffic:dst_port"
	pNetSrcPort  = "network-traffic:src_port"
	pX509SHA1    = "x509-certificate:hashes.'SHA-1'"
	pX509MD5     = "x509-certificate:hashes.MD5"
	pX509SHA256  = "x509-certificate:hashes.'SHA-256'"
)

// hashNames maps MISP hash attribute types to STIX hash names (the hashing-algorithm-ov names where
// there is one).
var hashNames = map[string]string{
	"md5": "MD5", "sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
	"sha512": "SHA-512", "sha512/224": "SHA-512/224", "sha512/256": "SHA-512/256",
	"sha3-224": "SHA3-224", "sha3-256": "SHA3-256", "sha3-384": "SHA3-384", "sha3-512": "SHA3-512",
	"ssdeep": "SSDEEP", "tlsh": "TLSH",
}

// hashPath returns the file hash path of a STIX hash name.
func hashPath(name string) string {
	if plainHashName(name) {
		return "file:hashes." + name
	}
	return "file:hashes.'" + name + "'"
}

func plainHashName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// typeSpecs returns the table of MISP attribute types with a STIX equivalent. It is built on each
// call by specs(), which the converters call once.
func typeSpecs() map[string]typeSpec {
	m := map[string]typeSpec{
		"ip-src":                  {[]string{pIPValue}, "Network activity"},
		"ip-dst":                  {[]string{pIPValue}, "Network activity"},
		"domain":                  {[]string{pDomain}, "Network activity"},
		"hostname":                {[]string{pDomain}, "Network activity"},
		"domain|ip":               {[]string{pDomain, pDomainIP}, "Network activity"},
		"url":                     {[]string{pURL}, "Network activity"},
		"uri":                     {[]string{pURL}, "Network activity"},
		"email":                   {[]string{pEmail}, "Payload delivery"},
		"email-src":               {[]string{pEmail}, "Payload delivery"},
		"email-dst":               {[]string{pEmail}, "Network activity"},
		"email-reply-to":          {[]string{pEmail}, "Payload delivery"},
		"target-email":            {[]string{pEmail}, "Targeting data"},
		"email-subject":           {[]string{pSubject}, "Payload delivery"},
		"mac-address":             {[]string{pMAC}, "Network activity"},
		"mutex":                   {[]string{pMutex}, "Artifacts dropped"},
		"filename":                {[]string{pFileName}, "Payload delivery"},
		"email-attachment":        {[]string{pFileName}, "Payload delivery"},
		"attachment":              {[]string{pFileName}, "External analysis"},
		"size-in-bytes":           {[]string{pFileSize}, "Other"},
		"regkey":                  {[]string{pRegKey}, "Persistence mechanism"},
		"regkey|value":            {[]string{pRegKey, pRegData}, "Persistence mechanism"},
		"AS":                      {[]string{pASN}, "Network activity"},
		"ip-dst|port":             {[]string{pNetDstValue, pNetDstPort}, "Network activity"},
		"ip-src|port":             {[]string{pNetSrcValue, pNetSrcPort}, "Network activity"},
		"x509-fingerprint-sha1":   {[]string{pX509SHA1}, "Network activity"},
		"x509-fingerprint-md5":    {[]string{pX509MD5}, "Network activity"},
		"x509-fingerprint-sha256": {[]string{pX509SHA256}, "Network activity"},
		"malware-sample":          {[]string{pFileName, hashPath("MD5")}, "Payload delivery"},
	}
	for typ, name := range hashNames {
		m[typ] = typeSpec{[]string{hashPath(name)}, "Payload delivery"}
		m["filename|"+typ] = typeSpec{[]string{pFileName, hashPath(name)}, "Payload delivery"}
	}
	return m
}

// inferOrder is the order in which FromSTIX tries types when a STIX object carries no misp:type
// label: the first type whose paths are exactly the paths found wins.
var inferOrder = []string{
	"ip-dst", "domain", "domain|ip", "url", "email", "email-subject", "mac-address", "mutex",
	"filename", "size-in-bytes", "regkey", "regkey|value", "AS", "ip-dst|port", "ip-src|port",
	"x509-fingerprint-sha1", "x509-fingerprint-md5", "x509-fingerprint-sha256",
	"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512/224", "sha512/256",
	"sha3-224", "sha3-256", "sha3-384", "sha3-512", "ssdeep", "tlsh",
	"filename|md5", "filename|sha1", "filename|sha224", "filename|sha256", "filename|sha384",
	"filename|sha512", "filename|sha512/224", "filename|sha512/256", "filename|sha3-224",
	"filename|sha3-256", "filename|sha3-384", "filename|sha3-512", "filename|ssdeep", "filename|tlsh",
}

// noteTypes are attribute types kept as notes: text with no STIX observable.
// Everything not in the type table and not special (link, vulnerability, yara, snort, sigma) is
// kept as a note too; see docs/MISP.md.

// patternTypes are MISP attribute types whose value is itself a detection rule: with to_ids they
// become indicators with that pattern_type.
var patternTypes = map[string]string{"yara": "yara", "snort": "snort", "sigma": "sigma", "pcre": "pcre", "suricata": "suricata"}

// splitValue splits a value into n parts on '|' (the last part keeps any further '|').
func splitValue(v string, n int) ([]string, bool) {
	if n == 1 {
		return []string{v}, true
	}
	parts := strings.SplitN(v, "|", n)
	return parts, len(parts) == n
}

// ipType returns the SCO type of an address or CIDR block, or "" when v is neither.
func ipType(v string) string {
	if p, err := netip.ParsePrefix(v); err == nil {
		if p.Addr().Is4() {
			return "ipv4-addr"
		}
		return "ipv6-addr"
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return ""
	}
	if a.Is4() {
		return "ipv4-addr"
	}
	if a.Is4In6() {
		return ""
	}
	return "ipv6-addr"
}

// rootType returns the STIX type a path starts from.
func rootType(path string) string {
	t, _, _ := strings.Cut(path, ":")
	return t
}
