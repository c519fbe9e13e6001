package gen

import (
	"encoding/hex"
	"strconv"

	"github.com/renkei-cti/renkei/internal/stix"
)

// The kinds of observable generated, each with its own sequence of values.
const (
	scoIPv4 = iota
	scoDomain
	scoURL
	scoFile
	scoEmail
	scoKinds
)

var scoTypes = [scoKinds]string{"ipv4-addr", "domain-name", "url", "file", "email-addr"}

// Observable values are pure functions of (seed, kind, k): the k-th observable of a kind always has
// the same value, so indicators can point at observables written earlier without remembering them.

func ipv4(k uint64) string {
	// Multiplying by an odd constant permutes 0…2^22-1, spreading consecutive k over 100.64.0.0/10.
	x := ((k + 1) * 2654435761) & (1<<22 - 1)
	b := make([]byte, 0, 15)
	b = strconv.AppendUint(b, 100, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, 64+x>>16, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (x>>8)&0xff, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, x&0xff, 10)
	return string(b)
}

func (g *Generator) domain(k uint64) string {
	d := g.digest("domain", k)
	return domainWords[int(d[0])%len(domainWords)] + "-" + domainWords[int(d[1])%len(domainWords)] + "-" +
		strconv.FormatUint(k, 36) + "." + domainSuffixes[int(d[2])%len(domainSuffixes)]
}

func (g *Generator) url(k uint64) string {
	d := g.digest("url", k)
	scheme := "https://"
	if d[0]&3 == 0 {
		scheme = "http://"
	}
	host := g.domain(uint64(d[1])<<8 | uint64(d[2]))
	return scheme + host + "/" + urlPaths[int(d[3])%len(urlPaths)] + "/" + hex.EncodeToString(d[4:8]) +
		strconv.FormatUint(k, 36) + urlExts[int(d[8])%len(urlExts)]
}

// file returns the k-th file's name, SHA-256, MD5 (for some files) and size.
func (g *Generator) file(k uint64) (name, sha256hex, md5hex string, size int64) {
	d := g.digest("file", k)
	name = fileStems[int(d[0])%len(fileStems)] + "_" + strconv.FormatUint(k, 36) + fileExts[int(d[1])%len(fileExts)]
	sha256hex = hex.EncodeToString(d[:])
	m := g.digest("md5", k)
	if m[0]&1 == 0 {
		md5hex = hex.EncodeToString(m[:16])
	}
	size = int64(1024 + uint64(d[2])<<12 + uint64(d[3])<<4)
	return name, sha256hex, md5hex, size
}

func (g *Generator) email(k uint64) string {
	d := g.digest("email", k)
	return givenNames[int(d[0])%len(givenNames)] + "." + familyNames[int(d[1])%len(familyNames)] +
		strconv.FormatUint(k, 36) + "@" + g.domain(uint64(d[2])<<8|uint64(d[3]))
}

// sco writes the next observable of a randomly chosen kind. Each one has a value no earlier
// observable of its kind had, so the bundle holds no two observables with the same id.
func (g *Generator) sco(dst []byte) []byte {
	kind := []int{scoIPv4, scoIPv4, scoIPv4, scoDomain, scoDomain, scoDomain, scoURL, scoURL, scoFile, scoFile, scoFile, scoEmail}[g.rng.IntN(12)]
	k := g.scoCount[kind]
	g.scoCount[kind]++
	typ := scoTypes[kind]

	var value, name, sha, md5 string
	var size int64
	var contributing []byte
	switch kind {
	case scoIPv4:
		value = ipv4(k)
	case scoDomain:
		value = g.domain(k)
	case scoURL:
		value = g.url(k)
	case scoEmail:
		value = g.email(k)
	case scoFile:
		name, sha, md5, size = g.file(k)
	}
	if kind == scoFile {
		// Only one hash contributes to the id: MD5 when present, else SHA-256 (STIX 2.1 §2.9).
		if md5 != "" {
			contributing = appendString(append(contributing, `{"hashes":{"MD5":`...), md5)
		} else {
			contributing = appendString(append(contributing, `{"hashes":{"SHA-256":`...), sha)
		}
		contributing = appendString(append(contributing, `},"name":`...), name)
	} else {
		contributing = appendString(append(contributing, `{"value":`...), value)
	}
	contributing = append(contributing, '}')
	id, err := stix.DeterministicID(typ, contributing)
	if err != nil {
		// contributing is built above from generated ASCII text: failing to canonicalise it is a bug.
		panic(err)
	}

	o := begin(dst)
	o.str("type", typ)
	o.str("spec_version", "2.1")
	o.str("id", id)
	if kind == scoFile {
		o.key("hashes")
		o.b = append(o.b, '{')
		if md5 != "" {
			o.b = append(appendString(append(o.b, `"MD5":`...), md5), ',')
		}
		o.b = appendString(append(o.b, `"SHA-256":`...), sha)
		o.b = append(o.b, '}')
		o.num("size", size)
		o.str("name", name)
	} else {
		o.str("value", value)
		if kind == scoEmail && g.rng.IntN(2) == 0 {
			o.str("display_name", "Accounts Payable")
		}
	}
	g.scos.add(id)
	g.recent.add(id)
	return o.end()
}

// pattern returns a STIX pattern and a short name for an indicator. Half the time the value is one of
// an observable already generated, so indicators and observables correlate as they do in real data.
func (g *Generator) pattern() (pattern, name string) {
	value := func(kind int) uint64 {
		if n := g.scoCount[kind]; n > 0 && g.rng.IntN(2) == 0 {
			return g.rng.Uint64N(n)
		}
		return g.scoCount[kind] + 1<<20 + g.rng.Uint64N(1<<30)
	}
	switch r := g.rng.IntN(100); {
	case r < 30:
		v := ipv4(value(scoIPv4))
		return "[ipv4-addr:value = '" + v + "']", "Malicious IP " + v
	case r < 50:
		v := g.domain(value(scoDomain))
		return "[domain-name:value = '" + v + "']", "Malicious domain " + v
	case r < 62:
		v := g.url(value(scoURL))
		return "[url:value = '" + escapePattern(v) + "']", "Malicious URL"
	case r < 82:
		name, sha, md5, _ := g.file(value(scoFile))
		if md5 != "" && g.rng.IntN(3) == 0 {
			return "[file:hashes.MD5 = '" + md5 + "']", "Malicious file " + name
		}
		return "[file:hashes.'SHA-256' = '" + sha + "']", "Malicious file " + name
	case r < 88:
		a, b := ipv4(value(scoIPv4)), ipv4(value(scoIPv4))
		return "[ipv4-addr:value = '" + a + "' OR ipv4-addr:value = '" + b + "']", "C2 servers " + a + ", " + b
	case r < 94:
		name, sha, _, _ := g.file(value(scoFile))
		return "[file:hashes.'SHA-256' = '" + sha + "' AND file:name = '" + escapePattern(name) + "']", "Dropper " + name
	default:
		d, u := g.domain(value(scoDomain)), g.url(value(scoURL))
		return "[domain-name:value = '" + d + "'] OR [url:value = '" + escapePattern(u) + "']", "Phishing infrastructure " + d
	}
}

// escapePattern escapes a string for a STIX pattern's single-quoted literal.
func escapePattern(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
