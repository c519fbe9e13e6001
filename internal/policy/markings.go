package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/stix"
)

// Distribution says which organisations an object is addressed to. Combine several with the lattice
// of docs/POLICY.md ("Several markings"), not by comparing values.
type Distribution uint8

const (
	// DistUnset is the zero value: no distribution marking. Classify never returns it; Can treats it
	// as DistOrganisation.
	DistUnset        Distribution = iota
	DistOrganisation              // the owner organisation only
	DistGroup                     // the members of a named sharing group (Label.Group)
	DistCommunity                 // every organisation hosted on the owner's node
	DistFederation                // the owner's node and the nodes directly connected to it
	DistAll                       // every organisation the object reaches, relays included
)

func (d Distribution) String() string {
	switch d {
	case DistOrganisation:
		return "organisation"
	case DistGroup:
		return "sharing group"
	case DistCommunity:
		return "community"
	case DistFederation:
		return "federation"
	case DistAll:
		return "all"
	}
	return "unset"
}

// The fixed identifiers of renkei's own definitions. They were generated once and never change:
// every renkei node, and any third-party tool, recognises a distribution by these ids alone.
const (
	// IdentityID is the identity of the renkei project, creator of the definitions below.
	IdentityID = "identity--cb14a7a9-68e3-42b8-b2ae-031a54d3b938"
	// ExtensionID is the extension-definition (a property-extension) that renkei's distribution
	// marking definitions and sharing-group marking definitions use.
	ExtensionID = "extension-definition--b890d513-2e40-4813-b681-25ba88bc4d30"

	MarkingOrganisation = "marking-definition--ce6e33a4-9a2b-4c7e-8b03-55724b7d0003"
	MarkingCommunity    = "marking-definition--08b72bc8-68ac-4f78-b7bd-7b2b34e2107c"
	MarkingFederation   = "marking-definition--9d5ad602-ce3d-48de-8bbc-275480cdd751"
	MarkingAll          = "marking-definition--1b4a48e6-50ea-45ad-9c28-ed631014e77f"
)

// groupNamespace is the UUIDv5 namespace of sharing-group marking definition ids: the id of a
// group's revision is UUIDv5(groupNamespace, "<group id>/<revision>").
var groupNamespace = uuid.MustParse("8f88f743-f58f-4b2c-aa00-660c883b708b")

// definitionsCreated is the created timestamp of renkei's fixed definitions.
const definitionsCreated = "2025-01-01T00:00:00.000Z"

// ExtensionSchema is the extension-definition's schema: the section of docs/POLICY.md that defines
// the properties.
const ExtensionSchema = "https://github.com/renkei-cti/renkei/blob/main/docs/POLICY.md#how-distribution-travels-in-stix"

// Values of the extension's distribution property.
const (
	extOrganisation = "organisation"
	extCommunity    = "community"
	extFederation   = "federation"
	extAll          = "all"
	extGroup        = "sharing-group"
)

var distributionMarkings = []struct {
	id   string
	dist Distribution
	name string // the value of the extension's distribution property
}{
	{MarkingOrganisation, DistOrganisation, extOrganisation},
	{MarkingCommunity, DistCommunity, extCommunity},
	{MarkingFederation, DistFederation, extFederation},
	{MarkingAll, DistAll, extAll},
}

// DistributionLevel maps the id of one of renkei's fixed distribution marking definitions to its
// distribution. Any other id (sharing groups included) gives DistUnset and false.
func DistributionLevel(markingID string) (Distribution, bool) {
	// Four fixed ids: comparing them beats a map lookup and does not allocate.
	switch markingID {
	case MarkingOrganisation:
		return DistOrganisation, true
	case MarkingCommunity:
		return DistCommunity, true
	case MarkingFederation:
		return DistFederation, true
	case MarkingAll:
		return DistAll, true
	}
	return DistUnset, false
}

// DistributionMarkingID returns the fixed marking definition id of a distribution level;
// DistGroup and DistUnset have none and give "".
func DistributionMarkingID(d Distribution) string {
	for _, m := range distributionMarkings {
		if m.dist == d {
			return m.id
		}
	}
	return ""
}

// Definition is one of renkei's fixed STIX objects, for the store to seed at init beside
// stix.BuiltinMarkings.
type Definition struct {
	ID string
	// Distribution is the level a distribution marking stands for; DistUnset for the identity and
	// the extension-definition.
	Distribution Distribution
	// JSON is the object, compact.
	JSON []byte
}

const identityJSON = `{"type":"identity","spec_version":"2.1","id":"` + IdentityID +
	`","created":"` + definitionsCreated + `","modified":"` + definitionsCreated +
	`","name":"renkei","description":"The renkei project, creator of renkei's distribution marking definitions.","identity_class":"organization"}`

const extensionJSON = `{"type":"extension-definition","spec_version":"2.1","id":"` + ExtensionID +
	`","created":"` + definitionsCreated + `","modified":"` + definitionsCreated + `","created_by_ref":"` + IdentityID +
	`","name":"renkei distribution","description":"Says which organisations a STIX object is addressed to: the owner organisation, the owner's node (community), the nodes connected to it (federation), everyone (all), or a named sharing group of organisations. Used on marking-definition objects referenced from object_marking_refs.","schema":"` +
	ExtensionSchema + `","version":"1.0.0","extension_types":["property-extension"]}`

func distributionJSON(id, name string) string {
	return `{"type":"marking-definition","spec_version":"2.1","id":"` + id + `","created":"` + definitionsCreated +
		`","created_by_ref":"` + IdentityID + `","name":"renkei distribution: ` + name + `","extensions":{"` + ExtensionID +
		`":{"extension_type":"property-extension","distribution":"` + name + `"}}}`
}

// Definitions returns renkei's fixed STIX objects: the renkei identity, the extension-definition,
// then the four distribution marking definitions (organisation, community, federation, all). The
// slices are fresh copies.
func Definitions() []Definition {
	out := []Definition{
		{ID: IdentityID, JSON: []byte(identityJSON)},
		{ID: ExtensionID, JSON: []byte(extensionJSON)},
	}
	for _, m := range distributionMarkings {
		out = append(out, Definition{ID: m.id, Distribution: m.dist, JSON: []byte(distributionJSON(m.id, m.name))})
	}
	return out
}

// isPredefined reports whether id names a definition every node holds and every viewer may read:
// the TLP 1.0 and 2.0 marking definitions, the TLP 2.0 extension-definition, and renkei's own.
func isPredefined(id string) bool {
	if _, ok := stix.TLPLevel(id); ok {
		return true
	}
	if _, ok := DistributionLevel(id); ok {
		return true
	}
	return id == ExtensionID || id == IdentityID || id == stix.TLP2ExtensionID
}

// Limits of a sharing group.
const (
	MaxGroupMembers  = 4096
	MaxGroupNameSize = 256 // bytes of UTF-8
)

// SharingGroup is a named list of organisations an object can be addressed to. A group has a
// stable ID; each change of its members is a new Revision, published as a new marking definition
// (STIX marking definitions cannot be versioned). A node applies the members of the latest trusted
// revision to objects marked with any revision of the group.
type SharingGroup struct {
	ID       string // a UUID in canonical (lower-case) form
	Name     string
	Owner    string // identity id of the organisation that manages the group
	Revision int    // 1, 2, …
	// Members are the identity ids of the member organisations, possibly hosted on other nodes.
	// The owner always reads what is addressed to its group, listed or not.
	Members []string
	Created time.Time // the marking definition's created, kept to the millisecond
}

// ErrNotSharingGroup: the object is not a renkei sharing-group marking definition.
var ErrNotSharingGroup = errors.New("not a renkei sharing-group marking definition")

// SharingGroupMarkingID returns the id of the marking definition of a revision of a group.
func SharingGroupMarkingID(groupID string, revision int) string {
	return "marking-definition--" + uuid.NewSHA1(groupNamespace, []byte(groupID+"/"+strconv.Itoa(revision))).String()
}

// MarkingID returns the id of the marking definition of this revision of the group.
func (g SharingGroup) MarkingID() string { return SharingGroupMarkingID(g.ID, g.Revision) }

// Validate checks a group's fields and returns every problem found, joined.
func (g SharingGroup) Validate() error {
	var errs []error
	if u, err := uuid.Parse(g.ID); err != nil || u.String() != g.ID {
		errs = append(errs, fmt.Errorf("group id %q is not a UUID in canonical lower-case form", g.ID))
	}
	if g.Name == "" || len(g.Name) > MaxGroupNameSize || !utf8.ValidString(g.Name) {
		errs = append(errs, fmt.Errorf("group name must be 1 to %d bytes of UTF-8, got %d bytes", MaxGroupNameSize, len(g.Name)))
	}
	if !isIdentityID(g.Owner) {
		errs = append(errs, fmt.Errorf("group owner %q is not an identity id", g.Owner))
	}
	if g.Revision < 1 {
		errs = append(errs, fmt.Errorf("group revision %d: revisions start at 1", g.Revision))
	}
	if len(g.Members) > MaxGroupMembers {
		errs = append(errs, fmt.Errorf("group has %d members, more than the limit of %d", len(g.Members), MaxGroupMembers))
	} else {
		seen := make(map[string]bool, len(g.Members))
		for i, m := range g.Members {
			switch {
			case !isIdentityID(m):
				errs = append(errs, fmt.Errorf("member %d (%q) is not an identity id", i, m))
			case seen[m]:
				errs = append(errs, fmt.Errorf("member %d (%s) is listed twice", i, m))
			}
			seen[m] = true
		}
	}
	if g.Created.IsZero() {
		errs = append(errs, errors.New("group created time is missing"))
	}
	return errors.Join(errs...)
}

func isIdentityID(s string) bool {
	rest, ok := strings.CutPrefix(s, "identity--")
	if !ok {
		return false
	}
	u, err := uuid.Parse(rest)
	return err == nil && u.String() == rest
}

// SharingGroupMarking returns the marking definition of one revision of a sharing group, compact,
// with the members in the order given. The group is validated first.
func SharingGroupMarking(g SharingGroup) ([]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("sharing group %s: %w", g.ID, err)
	}
	b := make([]byte, 0, 512+len(g.Members)*50)
	b = append(b, `{"type":"marking-definition","spec_version":"2.1","id":"`...)
	b = append(b, g.MarkingID()...)
	b = append(b, `","created":"`...)
	b = append(b, g.Created.UTC().Format("2006-01-02T15:04:05.000Z")...)
	b = append(b, `","created_by_ref":"`...)
	b = append(b, g.Owner...)
	b = append(b, `","name":`...)
	b, err := jsontext.AppendQuote(b, "renkei sharing group: "+g.Name)
	if err != nil {
		return nil, fmt.Errorf("sharing group %s: name: %w", g.ID, err)
	}
	b = append(b, `,"extensions":{"`...)
	b = append(b, ExtensionID...)
	b = append(b, `":{"extension_type":"property-extension","distribution":"`+extGroup+`","group_id":"`...)
	b = append(b, g.ID...)
	b = append(b, `","group_name":`...)
	if b, err = jsontext.AppendQuote(b, g.Name); err != nil {
		return nil, fmt.Errorf("sharing group %s: name: %w", g.ID, err)
	}
	b = append(b, `,"group_revision":`...)
	b = strconv.AppendInt(b, int64(g.Revision), 10)
	b = append(b, `,"group_members":[`...)
	for i, m := range g.Members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, m...) // validated: identity--<uuid>, nothing to escape
		b = append(b, '"')
	}
	b = append(b, "]}}}"...)
	return b, nil
}

// markingDoc is what ParseSharingGroupMarking reads of a marking definition.
type markingDoc struct {
	Type         string                    `json:"type"`
	ID           string                    `json:"id"`
	Created      string                    `json:"created"`
	CreatedByRef string                    `json:"created_by_ref"`
	Extensions   map[string]jsontext.Value `json:"extensions"`
}

type groupExt struct {
	ExtensionType string    `json:"extension_type"`
	Distribution  string    `json:"distribution"`
	GroupID       string    `json:"group_id"`
	GroupName     string    `json:"group_name"`
	GroupRevision *int      `json:"group_revision"`
	GroupMembers  *[]string `json:"group_members"`
}

// ParseSharingGroupMarking reads a sharing group from its marking definition. It returns
// ErrNotSharingGroup when obj is not a marking definition using renkei's extension with
// distribution "sharing-group", and an error naming the problems when it is one but is malformed:
// a bad field, or an id that is not the one SharingGroupMarkingID gives for its group and revision.
//
// It does not decide whether to trust the revision: see docs/POLICY.md, "Trusting a group's members".
func ParseSharingGroupMarking(obj *stix.Object) (SharingGroup, error) {
	if obj.Type != "marking-definition" || !slices.ContainsFunc(obj.Edges, func(e stix.Edge) bool {
		return e.Type == "extensions" && e.Target == ExtensionID
	}) {
		return SharingGroup{}, ErrNotSharingGroup
	}
	var doc markingDoc
	if err := json.Unmarshal(obj.Raw, &doc); err != nil {
		return SharingGroup{}, fmt.Errorf("%s: %w", obj.ID, err)
	}
	raw, ok := doc.Extensions[ExtensionID]
	if !ok {
		return SharingGroup{}, ErrNotSharingGroup
	}
	var ext groupExt
	if err := json.Unmarshal(raw, &ext); err != nil {
		return SharingGroup{}, fmt.Errorf("%s: extensions.%s: %w", obj.ID, ExtensionID, err)
	}
	if ext.Distribution != extGroup {
		return SharingGroup{}, ErrNotSharingGroup
	}
	var errs []error
	if ext.ExtensionType != "property-extension" {
		errs = append(errs, fmt.Errorf("extension_type is %q, want property-extension", ext.ExtensionType))
	}
	g := SharingGroup{ID: ext.GroupID, Name: ext.GroupName, Owner: doc.CreatedByRef}
	if ext.GroupRevision == nil {
		errs = append(errs, errors.New("group_revision is missing"))
	} else {
		g.Revision = *ext.GroupRevision
	}
	if ext.GroupMembers == nil {
		errs = append(errs, errors.New("group_members is missing"))
	} else {
		g.Members = *ext.GroupMembers
	}
	if t, err := time.Parse(time.RFC3339Nano, doc.Created); err == nil {
		g.Created = t
	}
	if err := g.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && obj.ID != g.MarkingID() {
		errs = append(errs, fmt.Errorf("id should be %s for group %s revision %d", g.MarkingID(), g.ID, g.Revision))
	}
	if len(errs) > 0 {
		return SharingGroup{}, fmt.Errorf("sharing-group marking definition %s: %w", obj.ID, errors.Join(errs...))
	}
	return g, nil
}
