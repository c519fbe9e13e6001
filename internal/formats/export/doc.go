// Package export owns renkei's exports of active indicators to the formats security devices read:
// CSV, plain blocklists (ip, cidr, domain, url, hash), Suricata rules with dataset and hash-list
// files, Snort rules and Zeek intel files.
//
// Collect reads store versions the caller has already filtered by the policy, keeps the active
// indicators (not revoked, valid_from ≤ now < valid_until, pattern_type stix) whose TLP may go where
// the export goes, applies the personal-data guard (package pii) when one is set, and takes from
// each STIX pattern the values a device can match: ipv4/ipv6 addresses and CIDRs, domain names,
// URLs, e-mail addresses and MD5, SHA-1 and SHA-256 file hashes. A pattern that says more than "any
// of these values was seen" (AND, FOLLOWEDBY, qualifiers, other properties, other operators) cannot be
// expressed in a blocklist or a one-value rule: it is skipped and counted in the Report with its
// reason, as is every other indicator left out.
//
// CollectObjects is the same read for exports that carry STIX objects of several types rather than
// indicator values (the MISP event of package misp, which writes them): the latest version of each
// object, revoked ones and inactive indicators left out, the TLP rule and the personal-data guard
// applied to every object.
//
// The writers are deterministic: the same indicators give the same bytes, whatever order they came
// in. Each escapes what its language needs (see the writer of each format). docs/EXPORT.md is the
// user documentation.
package export
