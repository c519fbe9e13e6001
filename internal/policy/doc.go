// Package policy owns the single decision of who may see and change what on a renkei node: the
// label of an object (its TLP level, its distribution and its owner), the viewer (user, role,
// organisation, sharing groups, local or federated), and Can, the one function every read and write
// path calls. It also owns how distribution travels in STIX: renkei's fixed distribution marking
// definitions and the marking definitions of sharing groups, carried by an extension-definition of
// renkei's own. docs/POLICY.md is the decision written as tables; the access-matrix test reads those
// tables and checks Can against them.
//
// The package knows nothing of HTTP or of storage: authentication (disabled users, expired or
// revoked tokens) happens before a Viewer exists, and the store supplies what Classify needs through
// the Directory interface.
package policy
