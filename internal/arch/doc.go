// Package arch holds no code: its test checks that imports between renkei's packages flow one way
// (cli → server/web/federation → ingest/taxii → policy/provenance/match/correlate/formats → store → stix)
// and that only the HTTP packages import net/http.
package arch
