// Package misp owns the conversion between MISP and STIX 2.1: MISP core-format events
// ({"Event": …}) to STIX objects and back, MISP feeds (a manifest.json plus one file per event,
// read incrementally through a Fetcher), and the MISP threat-actor galaxy (clusters to intrusion
// sets), and writes what a renkei export collected as one MISP event. It reads only what it is given
// (an io.Reader, an fs.FS, a Fetcher or STIX objects), never the clock, and knows nothing of HTTP,
// the store or the CLI. The mapping is documented in docs/MISP.md.
//
// # API
//
//	evs, err := misp.DecodeEvents(r, misp.Limits{})       // one event, an array, or {"response": [...]}
//	res, err := misp.ToSTIX(ev, misp.Options{})           // res.Objects: JSON texts, each valid for stix.Decode
//	res.Bundle()                                          // a STIX bundle of them
//	res, err := misp.Convert(ev, misp.Options{}, emit)    // the same, each object handed to emit as made
//	out, err := misp.FromSTIX(objs)                       // STIX objects → MISP events, as JSON
//	out, err := misp.ExportEvent(objs, misp.EventOptions{}) // STIX objects → one MISP event (renkei export)
//	b, rep, err := misp.WriteExport(set, misp.EventOptions{}) // export.CollectObjects' set → event JSON
//	g, err := misp.DecodeGalaxy(r, misp.Limits{})         // a galaxy clusters file
//	objs, err := g.ToSTIX()                               // intrusion sets (and state sponsors)
//	rep, err := misp.ReadFeed(ctx, fetcher, state, fn)    // a MISP feed, skipping events already read
//
// Output is deterministic: the same event gives the same bytes. Identifiers come from MISP uuids
// where MISP has one (attribute uuid → indicator, observed-data, note and SCO ids; event uuid →
// report id; Orgc uuid → identity id), else UUIDv5 in Namespace of the content.
//
// Every attribute of an event has exactly one outcome (Outcome): an indicator, an observable, a
// note, an external reference, a vulnerability, or skipped with a reason; Result.Counts adds up to
// the number of attributes read.
package misp
