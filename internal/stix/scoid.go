package stix

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// SCONamespace is the UUIDv5 namespace of deterministic SCO identifiers (§2.9).
var SCONamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// ErrNoContributingProperties is returned by DeterministicID when the SCO has none of its ID
// contributing properties (it must then use a UUIDv4), or its type has none (process, custom types).
var ErrNoContributingProperties = errors.New("no ID contributing properties")

// hashPreference is the order in which §6 picks the one hash that contributes to an id.
var hashPreference = [...]string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// IDContributingProperties returns the ID contributing properties of an SCO type (§6), or nil for
// types that have none.
func IDContributingProperties(typ string) []string {
	if spec := builtinTypes[typ]; spec != nil && spec.kind == KindSCO {
		return slices.Clone(spec.idProps)
	}
	return nil
}

// DeterministicID computes the UUIDv5 identifier of an SCO of type typ (§2.9): the UUIDv5, in the
// namespace SCONamespace, of the RFC 8785 canonical JSON of its ID contributing properties. raw is
// a JSON object holding the SCO (or at least those properties). When hashes contributes, one hash
// is used: the first of MD5, SHA-1, SHA-256 and SHA-512 present, else the first listed.
func DeterministicID(typ string, raw []byte) (string, error) {
	props := IDContributingProperties(typ)
	if props == nil {
		return "", fmt.Errorf("%w: type %q", ErrNoContributingProperties, typ)
	}
	if !jsontext.Value(raw).IsValid() {
		return "", fmt.Errorf("stix: DeterministicID: invalid JSON")
	}
	i := skipWS(raw, 0)
	if raw[i] != '{' {
		return "", fmt.Errorf("stix: DeterministicID: expected a JSON object")
	}
	d := idData{raw: raw}
	it := newIter(raw, span{i, len(raw)})
	for {
		n, val, ok := it.member()
		if !ok {
			break
		}
		name, err := unquote(raw[n.s:n.e])
		if err != nil {
			return "", err
		}
		d.members = append(d.members, member{name: name, val: val})
	}
	hash, _ := d.hashChoices()
	buf, ok, err := d.canonical(nil, props, hash)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%w: a %s object has none of %s", ErrNoContributingProperties, typ, strings.Join(props, ", "))
	}
	text := uuidV5Text(buf, nil)
	return typ + "--" + string(text[:]), nil
}

// uuidV5Text returns the text form of the UUIDv5 of data in SCONamespace (as uuid.NewSHA1, without
// allocating). scratch is a buffer it may use.
func uuidV5Text(data, scratch []byte) [36]byte {
	buf := append(append(scratch[:0], SCONamespace[:]...), data...)
	sum := sha1.Sum(buf)
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	var out [36]byte
	const digits = "0123456789abcdef"
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[sum[i]>>4], digits[sum[i]&0x0f]
		j += 2
	}
	return out
}

// idData is the input of a deterministic id: an object's text and its top-level members.
type idData struct {
	raw     []byte
	members []member
}

func (d *idData) get(name string) (span, bool) {
	for _, m := range d.members {
		if m.name == name {
			return m.val, true
		}
	}
	return span{}, false
}

// hashEntry is one member of a hashes dictionary.
type hashEntry struct{ name, val span }

// hashChoices returns the hash that contributes to the id (by §6's order of preference) and the
// other hashes, which a producer may have chosen instead.
func (d *idData) hashChoices() (preferred hashEntry, others []hashEntry) {
	sp, ok := d.get("hashes")
	if !ok || sp.kind(d.raw) != '{' {
		return hashEntry{}, nil
	}
	var all []hashEntry
	var names []string
	it := newIter(d.raw, sp)
	for {
		n, val, ok := it.member()
		if !ok {
			break
		}
		all = append(all, hashEntry{n, val})
		names = append(names, string(d.raw[n.s+1:n.e-1]))
	}
	if len(all) == 0 {
		return hashEntry{}, nil
	}
	pick := 0
	for _, want := range hashPreference {
		if i := slices.Index(names, want); i >= 0 {
			pick = i
			break
		}
	}
	preferred = all[pick]
	others = append(all[:pick:pick], all[pick+1:]...)
	return preferred, others
}

// canonical appends to dst the RFC 8785 form of the JSON object holding the ID contributing
// properties present, with hashes reduced to the one entry hash. ok is false when none is present.
// props must be sorted. When every value is a string without escapes, an integer in its shortest
// form or a literal, the text is already canonical and is used as it is; otherwise it goes through
// jsontext's canonicalisation.
func (d *idData) canonical(dst []byte, props []string, hash hashEntry) (out []byte, ok bool, err error) {
	start := len(dst)
	simple := true
	dst = append(dst, '{')
	for _, name := range props {
		sp, present := d.get(name)
		if !present {
			continue
		}
		if ok {
			dst = append(dst, ',')
		}
		ok = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		if name == "hashes" && hash.name.e != 0 {
			dst = append(dst, '{')
			dst = append(dst, d.raw[hash.name.s:hash.name.e]...)
			dst = append(dst, ':')
			dst = append(dst, d.raw[hash.val.s:hash.val.e]...)
			dst = append(dst, '}')
			simple = simple && canonicalScalar(d.raw[hash.name.s:hash.name.e]) && canonicalScalar(d.raw[hash.val.s:hash.val.e])
		} else {
			dst = append(dst, d.raw[sp.s:sp.e]...)
			simple = simple && canonicalScalar(d.raw[sp.s:sp.e])
		}
	}
	dst = append(dst, '}')
	if !ok {
		return dst[:start], false, nil
	}
	if simple {
		return dst, true, nil
	}
	val := jsontext.Value(dst[start:])
	if err := val.Canonicalize(); err != nil {
		return dst[:start], false, err
	}
	return append(dst[:start], val...), true, nil
}

// canonicalScalar reports whether a JSON value is written the way RFC 8785 writes it: a string
// without escapes, an integer of at most 15 digits without sign tricks, or a literal.
func canonicalScalar(v []byte) bool {
	switch v[0] {
	case '"':
		return bytes.IndexByte(v, '\\') < 0
	case 't', 'f', 'n':
		return true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		digits := v
		if digits[0] == '-' {
			digits = digits[1:]
		}
		if len(digits) == 0 || len(digits) > 15 || digits[0] == '0' && len(digits) > 1 || string(v) == "-0" {
			return false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}

func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// checkSCOID verifies an SCO identifier that claims to be deterministic (a UUIDv5). UUIDv4 (and
// other versions) are accepted as they are: §2.9 only says SCOs SHOULD use UUIDv5.
func (v *validator) checkSCOID() {
	id := v.obj.ID
	if uuidVersion(id) != '5' || v.spec.idProps == nil {
		return
	}
	d := idData{raw: v.raw, members: v.members}
	preferred, others := d.hashChoices()
	_, claimed, _ := strings.Cut(id, "--")
	want := ""
	// The preferred hash first, then the others a producer may have chosen (a bounded number).
	candidates := append([]hashEntry{preferred}, others[:min(len(others), 15)]...)
	for i, h := range candidates {
		buf, ok, err := d.canonical(v.scratch[:0], v.spec.idProps, h)
		v.scratch = buf
		ip := v.top("id")
		if err != nil {
			v.problem(ip, "sco-id", "cannot compute the deterministic id: "+err.Error())
			return
		}
		if !ok {
			v.problemf(ip, "sco-id", "%s is a UUIDv5 but the object has none of its ID contributing properties (%s); it must use a UUIDv4",
				id, strings.Join(v.spec.idProps, ", "))
			return
		}
		text := uuidV5Text(buf, v.idBuf[:0])
		if equalFoldASCII(text[:], claimed) {
			return
		}
		if i == 0 {
			want = v.obj.Type + "--" + string(text[:])
		}
	}
	ip := v.top("id")
	v.problemf(ip, "sco-id", "%s is a UUIDv5 but does not match the object's ID contributing properties (%s), which give %s",
		id, strings.Join(v.spec.idProps, ", "), want)
}
