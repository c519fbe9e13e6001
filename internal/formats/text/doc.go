// Package text owns the extraction of indicators from text written for people (reports, e-mails,
// blog posts, Markdown) and from CSV tables and plain lists, and their conversion to STIX 2.1: a
// report, its indicators and vulnerabilities, and a note for the analyst to review before publishing.
// It does no I/O beyond the io.Reader it is given, never reads the clock, and knows nothing of the
// store or the CLI.
//
// # API
//
//	ex, err := text.Extract(ctx, r, text.Limits{})                          // free text
//	ex, err := text.ExtractTable(ctx, r, text.TableOptions{Columns: cols})  // CSV, with a column mapping
//	ex, err := text.ExtractList(ctx, r, text.ListOptions{Kind: text.KindDomain}) // one value a line
//	objs, err := text.ToSTIX(ex, text.Options{CreatedByRef: id, Markings: m, Clock: clock, Flag: flag})
//	objs.All() / objs.Bundle()                                               // JSON texts, each valid for stix.Decode
//
// ParseColumns reads a mapping such as "1=ip,domain=domain,sha256"; ParseKind a kind's name; Validate
// and Classify check single values; Refang undoes defanging; Pattern builds a STIX pattern.
//
// # What Extract recognises
//
//   - IPv4 addresses (dotted quads, net/netip rules: no leading zeros, parts ≤ 255) and IPv6 addresses
//     (with "::" or eight groups; no zone), optionally with a /prefix, which makes a CIDR block
//     (masked: "192.0.2.9/24" gives 192.0.2.0/24; /32 and /128 give the address). An address
//     followed by ":port" gives the address.
//   - Domains: labels of letters, digits and hyphens whose suffix is on the public-suffix list
//     (golang.org/x/net/publicsuffix, ICANN or private section), with a registrable label before it.
//     IDNs only in their xn-- form.
//   - URLs with scheme http, https, ftp, ftps or sftp and a valid host (a domain as above, or an IP).
//     The URL ends at a space, a quote, '<', '>', '`', '|', or a CJK character; trailing sentence
//     punctuation and unbalanced closing brackets are dropped. URLs without a scheme give their domain.
//   - E-mail addresses (dot-atom local part, domain as above).
//   - MD5, SHA-1, SHA-256 and SHA-512: exactly 32, 40, 64 or 128 hex digits forming a whole word. A
//     longer hex run, or one joined to letters, digits or '_', is not a hash; nor is a run of decimal
//     digits only (skipped, as a number).
//   - CVE ids (CVE-YYYY-NNNN, 4 to 7 digits, any case) and ATT&CK technique ids (T1234, T1234.001;
//     upper-case T).
//
// Values inside a URL are part of it, except hashes, CVE ids and technique ids, which are also
// extracted from URLs ("https://www.virustotal.com/gui/file/<sha256>"). The domain of an e-mail
// address is not extracted on its own. Word boundaries treat letters of alphabetic scripts as part
// of a word, but not ideographs, kana or hangul: "攻撃者はevil.example.co.jpを使用" gives the domain.
//
// # Refanging
//
// Handled, case-insensitively: hxxp, hxxps, hxtp, hxtps, h**p, h**ps, fxp, fxps (as a scheme, before
// ':' or a bracket); "[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}" (with optional spaces inside the
// brackets and around them: "example [dot] com"); "[:]", "[://]", "[:/]", "[/]", "[//]"; "[@]",
// "(@)", "[at]", "(at)", "{at}"; and "\." between letters or digits. Brackets may be mixed. Not
// handled: a bare " dot " or " at " (too common in prose), "meow://" and other joke schemes,
// full-width dots ("．", "。"). Match.Defanged says whether a value was written defanged, and
// Match.Original keeps the text as written.
//
// # False positives, and what is decided about them
//
//   - File names: "invoice.pdf", "setup.exe" are not domains (.pdf and .exe are not suffixes); they
//     are listed as skipped when the extension is a known file extension. Names with a suffix that is
//     also a common file extension (.zip, .mov, .sh, .py, .pl, .md, .rs, .so, .cc, .ps, .ai, .app...)
//     and two labels ("update.zip", "run.py") are skipped too, unless written defanged
//     ("update[.]zip" is a domain: the writer said so).
//   - Version numbers: a dotted quad just after "version", "ver", "v", "build", "release", "firmware",
//     "rev" or "revision" ("version 10.0.0.1", "v1.2.3.4") is skipped as a version, as are quads
//     inside longer dotted runs (1.2.3.4.5, OIDs). Other dotted quads, including private and
//     documentation ranges, are addresses: the warninglists are there to flag them.
//   - Product names on real suffixes (ASP.NET, Socket.IO) are skipped unless defanged.
//   - Paths: a name right after '/' or '\' is part of a path, not a domain.
//
// # Limits
//
// Limits.MaxBytes bounds the input (ErrTooLarge), MaxLineBytes a line (a longer line is skipped and
// the skip says so), MaxIndicators the distinct values kept (the rest are counted in
// Extraction.Dropped), MaxSkipped the skips listed. Single values are bounded too (URLs 4096 bytes,
// domains 253, e-mail addresses 320). Nothing panics on any input (fuzzed).
//
// # Tables and lists
//
// ExtractTable reads CSV with encoding/csv (quotes, '#' comments, any separator). Columns are mapped
// by header name or number to a kind, or left to guess per value. HeaderAuto takes the first record
// for a header when none of its fields is an indicator. A CSV syntax error, a mapping to a missing
// column name, or, with Strict, an invalid value, is an error that gives the line (and column); without
// Strict an invalid value is a Skip with its line, column and field. ExtractList reads one value a
// line, ignoring comments and anything after the first blank.
//
// # STIX
//
// ToSTIX makes an indicator per observable value (pattern_type "stix", pattern_version "2.1", valid_from
// the clock's time; patterns quote values with ' and \ escaped; CIDR blocks use ISSUBSET; hashes use
// file:hashes.MD5, file:hashes.'SHA-1', 'SHA-256', 'SHA-512'), a vulnerability per CVE id (external
// reference source_name "cve"), and a report (name from Options.Name, else the first heading, else the
// first line; published = the clock's time; object_refs = the indicators and vulnerabilities). ATT&CK
// ids become external references of the report (source_name "mitre-attack", external_id, url): the
// catalogue's attack-pattern objects have random ids that this package cannot know, and a reference
// by external id is what resolves to them once the catalogue is imported. The report also carries the
// SHA-256 of the source text as an external reference. The note (object_refs: the report) lists every
// value extracted, with line, column and the text as written, those flagged by Options.Flag (such as
// warninglist hits) first, then every skip with its reason: the analyst reviews it before the report
// is published. Ids are UUIDv5 in Namespace, from the creator and the content (the pattern, the CVE
// id, the digest of the text), so that re-importing the same text makes new versions of the same
// objects rather than new objects.
package text
