package pii

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// Rule names a detector.
type Rule string

// The detectors.
const (
	RuleMyNumber Rule = "my-number"
	RuleCard     Rule = "payment-card"
	RulePhone    Rule = "phone"
	RuleEmail    Rule = "email"
	// RuleMalformed is reported by Scan for bytes that are not one valid JSON value (or are over the
	// size limit): what cannot be read cannot be shown clean.
	RuleMalformed Rule = "malformed-json"
)

// Rules lists the detectors in the order overlapping matches are resolved.
func Rules() []Rule { return []Rule{RuleMyNumber, RuleCard, RulePhone, RuleEmail} }

// ruleSet is a set of rules; the zero value means every rule.
type ruleSet struct{ m map[Rule]bool }

func (s ruleSet) has(r Rule) bool { return s.m == nil || s.m[r] }

// Finding is one match: which rule fired and where. It never holds the matched value.
type Finding struct {
	Rule Rule
	// Path is the JSON Pointer (RFC 6901) of the string holding the match, e.g. "/description" or
	// "/external_references/0/description".
	Path string
	// InName is true when the match is in an object member's name rather than in a value.
	InName bool
	// Offset and Length locate the match, in bytes, inside the decoded string.
	Offset, Length int
}

func (f Finding) String() string {
	where := f.Path
	if f.InName {
		where += " (member name)"
	}
	return fmt.Sprintf("%s at %s, bytes %d-%d", f.Rule, where, f.Offset, f.Offset+f.Length)
}

// LogValue logs a finding without its value (there is none to log).
func (f Finding) LogValue() slog.Value {
	return slog.GroupValue(slog.String("rule", string(f.Rule)), slog.String("path", f.Path),
		slog.Bool("in_name", f.InName), slog.Int("offset", f.Offset), slog.Int("length", f.Length))
}

// Mode is what a policy does with an object that carries personal data.
type Mode uint8

const (
	ModeBlock  Mode = iota + 1 // the object does not leave
	ModeRedact                 // each match is replaced by [pii-redacted:RULE]
	ModeHash                   // each match is replaced by [pii-hash:RULE:TOKEN], TOKEN a keyed hash
)

func (m Mode) String() string {
	switch m {
	case ModeBlock:
		return "block"
	case ModeRedact:
		return "redact"
	case ModeHash:
		return "hash"
	}
	return "unknown"
}

// ParseMode reads "block", "redact" or "hash".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "block":
		return ModeBlock, nil
	case "redact":
		return ModeRedact, nil
	case "hash":
		return ModeHash, nil
	}
	return 0, fmt.Errorf("personal-data mode %q: want block, redact or hash", s)
}

// MinKeyBytes is the shortest key ModeHash accepts.
const MinKeyBytes = 32

// DefaultMaxBytes bounds the size of one object the guard reads.
const DefaultMaxBytes = 16 << 20

// Policy is a node's personal-data policy.
type Policy struct {
	Mode Mode
	// Key is the node's secret key for ModeHash (at least MinKeyBytes). Partners who receive
	// copies from the same node can match equal values by their tokens; nobody without the key can
	// test a guess.
	Key []byte
	// Rules, when set, limits the detectors; empty means all of them.
	Rules []Rule
	// MaxBytes bounds the input (0: DefaultMaxBytes); larger input is refused.
	MaxBytes int
}

// LogValue keeps the key out of logs.
func (p Policy) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mode", p.Mode.String()), slog.Int("rules", len(p.Rules)))
}

// Validate checks the policy.
func (p Policy) Validate() error {
	switch p.Mode {
	case ModeBlock, ModeRedact:
	case ModeHash:
		if len(p.Key) < MinKeyBytes {
			return fmt.Errorf("personal-data policy: hash mode needs a key of at least %d bytes, got %d", MinKeyBytes, len(p.Key))
		}
	default:
		return fmt.Errorf("personal-data policy: unknown mode %d", p.Mode)
	}
	known := map[Rule]bool{}
	for _, r := range Rules() {
		known[r] = true
	}
	for _, r := range p.Rules {
		if !known[r] {
			return fmt.Errorf("personal-data policy: unknown rule %q", r)
		}
	}
	return nil
}

// LoadPolicy builds the policy of a node's settings: mode is block, redact or hash; keyFile, needed by
// hash only, holds the key in hex or as raw bytes (surrounding white space ignored).
func LoadPolicy(mode, keyFile string) (*Policy, error) {
	m, err := ParseMode(mode)
	if err != nil {
		return nil, err
	}
	p := &Policy{Mode: m}
	if m == ModeHash {
		if keyFile == "" {
			return nil, errors.New("personal-data policy: hash mode needs a key file")
		}
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("personal-data key: %w", err)
		}
		k := bytes.TrimSpace(b)
		if dec, err := hex.DecodeString(string(k)); err == nil {
			k = dec
		}
		p.Key = k
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p Policy) ruleSet() ruleSet {
	if len(p.Rules) == 0 {
		return ruleSet{}
	}
	m := map[Rule]bool{}
	for _, r := range p.Rules {
		m[r] = true
	}
	return ruleSet{m: m}
}

// ErrBlocked is returned by Apply when the object may not leave. It is wrapped by a *BlockedError.
var ErrBlocked = errors.New("personal data: object blocked")

// BlockedError says why Apply blocked an object.
type BlockedError struct {
	Findings []Finding
	Reason   string
}

func (e *BlockedError) Error() string {
	if len(e.Findings) == 0 {
		return ErrBlocked.Error() + ": " + e.Reason
	}
	return fmt.Sprintf("%s: %s (%d findings, first %s)", ErrBlocked, e.Reason, len(e.Findings), e.Findings[0])
}

func (e *BlockedError) Unwrap() error { return ErrBlocked }

// hit is a match in one string token of the input.
type hit struct {
	match
	path     string
	inName   bool
	tokStart int // byte range of the JSON string token (quotes included) in the input
	tokEnd   int
	decoded  string
}

// scan reads raw and returns the matches that count as personal data.
func scan(raw []byte, rules ruleSet, maxBytes int) ([]hit, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(raw) > maxBytes {
		return nil, fmt.Errorf("object of %d bytes is over the limit of %d", len(raw), maxBytes)
	}
	if !jsontext.Value(raw).IsValid() {
		return nil, errors.New("not one valid JSON value (or a duplicate member name, or invalid UTF-8)")
	}
	if !mayHold(raw, rules) {
		return nil, nil
	}
	return scanTokens(raw, rules)
}

// scanTokens is scan after the checks: it decodes every string of raw and runs the detectors.
func scanTokens(raw []byte, rules ruleSet) ([]hit, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	var hits []hit
	// types maps the JSON Pointer of each object to its "type" member, for the e-mail exemptions.
	types := map[string]string{}
	var (
		buf        []byte
		nameIsType bool // the last member name read is "type"
	)
	for {
		k := dec.PeekKind()
		if k == 0 {
			// End of input, or an error that ReadToken reports.
			_, err := dec.ReadToken()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading JSON: %w", err)
			}
			continue
		}
		if k != '"' {
			if _, err := dec.ReadToken(); err != nil {
				return nil, fmt.Errorf("reading JSON: %w", err)
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("reading JSON: %w", err)
		}
		end := int(dec.InputOffset())
		start := end - len(v)
		depth := dec.StackDepth()
		kind, n := dec.StackIndex(depth)
		inName := kind == '{' && n%2 == 1
		// The decoded string: the token's inside when it has no escape, else unquoted into buf. It
		// is copied only when it is kept (a type, or a string with matches).
		var str string
		if bytes.IndexByte(v, '\\') < 0 {
			str = unsafe.String(unsafe.SliceData(v[1:]), len(v)-2)
		} else {
			if buf, err = jsontext.AppendUnquote(buf[:0], v); err != nil {
				return nil, fmt.Errorf("reading JSON at %s: %w", dec.StackPointer(), err)
			}
			str = unsafe.String(unsafe.SliceData(buf), len(buf))
		}
		isType := !inName && kind == '{' && nameIsType
		if inName {
			nameIsType = str == "type"
		}
		if isType {
			types[parentOf(string(dec.StackPointer()))] = strings.Clone(str)
		}
		ms := detect(str, rules)
		if len(ms) == 0 {
			continue
		}
		ptr, kept := string(dec.StackPointer()), strings.Clone(str)
		for _, m := range ms {
			hits = append(hits, hit{match: m, path: ptr, inName: inName, tokStart: start, tokEnd: end, decoded: kept})
		}
	}
	// E-mail addresses that are indicators or an organisation's role addresses are not personal.
	out := hits[:0]
	for _, h := range hits {
		if h.rule == RuleEmail && !h.inName && indicatorAddress(h, types) {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

// mayHold reports whether the JSON text raw may hold a match, from its bytes alone: most objects
// have no run of digits long enough for any rule and no '@', and need no decoding. The bytes of a
// string's content are its decoded characters except for escapes; of those, only \u escapes can
// stand for a digit, a separator or '@', so raw with a \u escape is always decoded. Runs of numeric
// characters in raw are never shorter than in the decoded strings (quotes end both), so segments
// finds on raw every run it would find on a string.
func mayHold(raw []byte, rules ruleSet) bool {
	if bytes.Contains(raw, []byte(`\u`)) {
		return true
	}
	if rules.has(RuleEmail) && bytes.IndexByte(raw, '@') >= 0 {
		return true
	}
	if !rules.has(RuleMyNumber) && !rules.has(RuleCard) && !rules.has(RulePhone) {
		return false
	}
	found := false
	segments(unsafe.String(unsafe.SliceData(raw), len(raw)), func(int, int) { found = true })
	return found
}

// indicatorAddress: the address is in the pattern of an indicator, or is the value of an
// email-addr object (at the top level or in a STIX 2.0 observed-data's objects), or a role address.
func indicatorAddress(h hit, types map[string]string) bool {
	if roleAddress(h.decoded[h.start:h.end]) {
		return true
	}
	parent, last := parentOf(h.path), lastToken(h.path)
	switch {
	case last == "pattern" && parent == "" && types[""] == "indicator":
		return true
	case last == "value" && types[parent] == "email-addr":
		return parent == "" || strings.HasPrefix(parent, "/objects/") && strings.Count(parent, "/") == 2 && types[""] == "observed-data"
	}
	return false
}

func parentOf(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[:i]
	}
	return ""
}

func lastToken(ptr string) string {
	t := ptr[strings.LastIndexByte(ptr, '/')+1:]
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}

func findingsOf(hits []hit) []Finding {
	fs := make([]Finding, len(hits))
	for i, h := range hits {
		fs[i] = Finding{Rule: h.rule, Path: h.path, InName: h.inName, Offset: h.start, Length: h.end - h.start}
	}
	return fs
}

// Scan lists the personal data in one JSON value with every detector. Bytes that are not one valid
// JSON value (or are larger than DefaultMaxBytes) give a single RuleMalformed finding: a caller that
// shares only what has no findings never shares what the guard could not read.
func Scan(raw []byte) []Finding {
	hits, err := scan(raw, ruleSet{}, 0)
	if err != nil {
		return []Finding{{Rule: RuleMalformed}}
	}
	return findingsOf(hits)
}

// Apply applies the policy to one JSON value and returns the bytes that may leave, with the
// findings. With no findings, out is raw itself. When a replacement exposes a further match (a number
// glued to an address), the copy is rewritten again and the further findings are appended, their
// offsets in the partly rewritten string. With findings, ModeBlock returns no bytes and an
// error wrapping ErrBlocked; ModeRedact and ModeHash return a copy in which each string holding a
// match is re-encoded with the matches replaced, every other byte unchanged. A match in a member name
// blocks whatever the mode. Input that is not valid JSON, or over the size limit, is an error
// (ErrBlocked too: it must not leave unchecked).
func Apply(raw []byte, p Policy) (out []byte, findings []Finding, err error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	hits, err := scan(raw, p.ruleSet(), p.MaxBytes)
	if err != nil {
		return nil, nil, &BlockedError{Reason: err.Error()}
	}
	findings = findingsOf(hits)
	if len(hits) == 0 {
		return raw, nil, nil
	}
	if p.Mode == ModeBlock {
		return nil, findings, &BlockedError{Findings: findings, Reason: "personal data found"}
	}
	for _, h := range hits {
		if h.inName {
			return nil, findings, &BlockedError{Findings: findings, Reason: "personal data in a member name"}
		}
	}
	// A replacement can expose a match that its neighbour hid (an address glued to a number):
	// rewrite until the copy is clean, a bounded number of times.
	out = raw
	for pass := 0; ; pass++ {
		if out, err = rewrite(out, hits, p); err != nil {
			return nil, findings, err
		}
		if hits, err = scan(out, p.ruleSet(), 2*len(out)+1); err != nil {
			return nil, findings, &BlockedError{Findings: findings, Reason: err.Error()}
		}
		if len(hits) == 0 {
			return out, findings, nil
		}
		findings = append(findings, findingsOf(hits)...)
		if pass == maxPasses-1 {
			return nil, findings, &BlockedError{Findings: findings, Reason: "personal data left after rewriting"}
		}
	}
}

// maxPasses bounds the rewriting of one object.
const maxPasses = 4

// rewrite re-encodes each string of raw that holds hits, with the hits replaced.
func rewrite(raw []byte, hits []hit, p Policy) ([]byte, error) {
	// Hits come in input order, grouped by token.
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].tokStart != hits[j].tokStart {
			return hits[i].tokStart < hits[j].tokStart
		}
		return hits[i].start < hits[j].start
	})
	out := make([]byte, 0, len(raw)+64*len(hits))
	prev := 0
	for i := 0; i < len(hits); {
		j := i
		for j < len(hits) && hits[j].tokStart == hits[i].tokStart {
			j++
		}
		h := hits[i]
		if h.inName {
			return nil, &BlockedError{Findings: findingsOf(hits), Reason: "personal data in a member name"}
		}
		var b strings.Builder
		at := 0
		for _, x := range hits[i:j] {
			b.WriteString(h.decoded[at:x.start])
			b.WriteString(replacement(p, x.match))
			at = x.end
		}
		b.WriteString(h.decoded[at:])
		out = append(out, raw[prev:h.tokStart]...)
		var err error
		if out, err = jsontext.AppendQuote(out, b.String()); err != nil {
			return nil, fmt.Errorf("personal data: re-encoding %s: %w", h.path, err)
		}
		prev = h.tokEnd
		i = j
	}
	return append(out, raw[prev:]...), nil
}

// replacement renders what takes the place of a match.
func replacement(p Policy, m match) string {
	if p.Mode == ModeHash {
		return "[pii-hash:" + string(m.rule) + ":" + Token(p.Key, m.rule, m.norm) + "]"
	}
	return "[pii-redacted:" + string(m.rule) + "]"
}

// Token is the keyed hash of a normalised value: the first 128 bits of HMAC-SHA256(key, rule ":"
// value), in hex. The same key, rule and value always give the same token.
func Token(key []byte, rule Rule, norm string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(rule))
	mac.Write([]byte{':'})
	mac.Write([]byte(norm))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}
