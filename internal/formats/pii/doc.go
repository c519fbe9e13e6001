// Package pii owns renkei's personal-data guard: it finds personal data in a STIX object's JSON
// before a copy of the object leaves the organisation (exports, TAXII reads by other organisations,
// federation pushes), and applies the node's policy to that copy: block it, redact the values, or
// replace them with keyed hashes that partners can still match.
//
// # Detectors
//
//   - my-number: Japan's 12-digit individual number (マイナンバー), written as 12 digits or 4-4-4, with
//     the check digit of the Order for Enforcement of the My Number Act, art. 8 (see CheckDigit).
//   - payment-card: 13 to 19 digits, optionally in groups separated by single spaces or hyphens,
//     that pass the Luhn check and start with the IIN of a common scheme (Visa, Mastercard, American
//     Express, Discover, JCB, Diners Club, UnionPay).
//   - email: an e-mail address of an individual. An address is an indicator, not personal data,
//     when it is in the pattern of an indicator (STIX indicators describe malicious or suspicious
//     activity) or the value of an email-addr object; one of the role local parts (abuse, security,
//     soc, cert, csirt, noc, postmaster…) is an organisation's, not a person's. Anywhere else (a
//     description, a name, a note's content, an opinion's explanation, custom properties) it is
//     personal.
//   - phone: E.164 (+81 90 1234 5678, +1-202-555-0143), Japanese national numbers with separators
//     (03-1234-5678, 090-1234-5678, 0120-123-456, (03)1234-5678) or as 11 digits for mobile and IP
//     phones (09012345678), and North American numbers ((202) 555-0143, 202-555-0143).
//
// Full-width digits and hyphens (０９０－１２３４－５６７８) count as their ASCII forms. A match must
// stand on its own: a letter, a digit or a joining character next to it (as in a hash, a UUID, an
// IP address or a version number) means it is part of something else.
//
// # API
//
// Scan(raw) lists the findings of one JSON value: the rule, the JSON Pointer (RFC 6901) of the string
// that holds the match, and the byte offset and length of the match inside the decoded string. A
// Finding never holds the value, so it is safe to log. Apply(raw, policy) returns the copy that may
// leave: raw itself when nothing was found, else new bytes in which only the affected strings were
// re-encoded (every other byte is kept), or ErrBlocked. A match in an object's member name cannot be
// rewritten safely (two names could become one), so it blocks the object whatever the mode.
//
// The stored object is never changed. A redacted or hashed copy is a different rendition of the same
// object version (same id, same modified) with different bytes: its digest differs from the stored
// one, and an object signature computed on the stored bytes does not verify on the copy. A node that
// signs what it shares must sign the copy, or share the object unchanged. See docs/EXPORT.md.
package pii
