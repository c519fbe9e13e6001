package stix

// TLP is a Traffic Light Protocol level. Levels are ordered from the least to the most
// restrictive, so they can be compared: TLPClear < TLPGreen < TLPAmber < TLPAmberStrict < TLPRed.
// TLP 1.0 WHITE is TLPClear. TLPNone means "no TLP marking".
type TLP uint8

const (
	TLPNone TLP = iota
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

func (l TLP) String() string {
	switch l {
	case TLPClear:
		return "TLP:CLEAR"
	case TLPGreen:
		return "TLP:GREEN"
	case TLPAmber:
		return "TLP:AMBER"
	case TLPAmberStrict:
		return "TLP:AMBER+STRICT"
	case TLPRed:
		return "TLP:RED"
	}
	return "none"
}

// Identifiers of the predefined TLP marking definitions: TLP 1.0 from STIX 2.1 §7.2.1.4, TLP 2.0
// from the OASIS TLP 2.0 marking extension (oasis-open/cti-stix-common-objects,
// extension-definition-specifications/tlp-2.0).
const (
	TLP1White = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1Green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1Amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1Red   = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"

	TLP2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLP2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLP2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLP2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLP2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"

	// TLP2ExtensionID is the extension-definition the TLP 2.0 marking definitions use.
	TLP2ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
)

// builtinMarking is one predefined TLP marking definition.
type builtinMarking struct {
	id    string
	level TLP
	name  string // the value of definition.tlp (1.0) or tlp_2_0 (2.0)
	json  string
}

var tlp1 = []builtinMarking{
	{TLP1White, TLPClear, "white", tlp1JSON(TLP1White, "WHITE", "white")},
	{TLP1Green, TLPGreen, "green", tlp1JSON(TLP1Green, "GREEN", "green")},
	{TLP1Amber, TLPAmber, "amber", tlp1JSON(TLP1Amber, "AMBER", "amber")},
	{TLP1Red, TLPRed, "red", tlp1JSON(TLP1Red, "RED", "red")},
}

var tlp2 = []builtinMarking{
	{TLP2Clear, TLPClear, "clear", tlp2JSON(TLP2Clear, "CLEAR", "clear")},
	{TLP2Green, TLPGreen, "green", tlp2JSON(TLP2Green, "GREEN", "green")},
	{TLP2Amber, TLPAmber, "amber", tlp2JSON(TLP2Amber, "AMBER", "amber")},
	{TLP2AmberStrict, TLPAmberStrict, "amber+strict", tlp2JSON(TLP2AmberStrict, "AMBER+STRICT", "amber+strict")},
	{TLP2Red, TLPRed, "red", tlp2JSON(TLP2Red, "RED", "red")},
}

var (
	tlp1ByID = byID(tlp1)
	tlp2ByID = byID(tlp2)
)

func byID(ms []builtinMarking) map[string]*builtinMarking {
	m := make(map[string]*builtinMarking, len(ms))
	for i := range ms {
		m[ms[i].id] = &ms[i]
	}
	return m
}

// tlp1JSON writes a TLP 1.0 marking definition as the specification gives it (§7.2.1.4).
func tlp1JSON(id, upper, lower string) string {
	return `{"type":"marking-definition","spec_version":"2.1","id":"` + id +
		`","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:` + upper +
		`","definition":{"tlp":"` + lower + `"}}`
}

// tlp2JSON writes a TLP 2.0 marking definition as OASIS publishes it.
func tlp2JSON(id, upper, lower string) string {
	return `{"type":"marking-definition","spec_version":"2.1","id":"` + id +
		`","created":"2022-10-01T00:00:00.000Z","name":"TLP:` + upper + `","extensions":{"` + TLP2ExtensionID +
		`":{"extension_type":"property-extension","tlp_2_0":"` + lower + `"}}}`
}

// BuiltinMarking is a predefined TLP marking definition, for the store to seed.
type BuiltinMarking struct {
	ID    string
	Level TLP
	// Version is the TLP version: 1 (STIX 2.1 §7.2.1.4) or 2 (OASIS TLP 2.0 extension).
	Version int
	// JSON is the marking definition object, compact, with the properties and values published.
	JSON []byte
}

// BuiltinMarkings returns the nine predefined TLP marking definitions (TLP 1.0 then TLP 2.0). The
// slices are fresh copies.
func BuiltinMarkings() []BuiltinMarking {
	out := make([]BuiltinMarking, 0, len(tlp1)+len(tlp2))
	for _, m := range tlp1 {
		out = append(out, BuiltinMarking{ID: m.id, Level: m.level, Version: 1, JSON: []byte(m.json)})
	}
	for _, m := range tlp2 {
		out = append(out, BuiltinMarking{ID: m.id, Level: m.level, Version: 2, JSON: []byte(m.json)})
	}
	return out
}

// TLPLevel maps the id of a predefined TLP marking definition (1.0 or 2.0) to its level. Any other
// id gives TLPNone and false.
func TLPLevel(markingID string) (TLP, bool) {
	if m, ok := tlp1ByID[markingID]; ok {
		return m.level, true
	}
	if m, ok := tlp2ByID[markingID]; ok {
		return m.level, true
	}
	return TLPNone, false
}

// MaxTLP returns the most restrictive TLP level among marking ids (TLPNone when none is a TLP
// marking).
func MaxTLP(markingIDs []string) TLP {
	level := TLPNone
	for _, id := range markingIDs {
		if l, ok := TLPLevel(id); ok && l > level {
			level = l
		}
	}
	return level
}
