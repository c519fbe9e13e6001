package stix

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBuiltinMarkings(t *testing.T) {
	ms := BuiltinMarkings()
	if len(ms) != 9 {
		t.Fatalf("%d builtin markings, want 9", len(ms))
	}
	want := map[string]struct {
		level   TLP
		version int
		name    string
	}{
		"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": {TLPClear, 1, "TLP:WHITE"},
		"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": {TLPGreen, 1, "TLP:GREEN"},
		"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": {TLPAmber, 1, "TLP:AMBER"},
		"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": {TLPRed, 1, "TLP:RED"},
		"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": {TLPClear, 2, "TLP:CLEAR"},
		"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": {TLPGreen, 2, "TLP:GREEN"},
		"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": {TLPAmber, 2, "TLP:AMBER"},
		"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": {TLPAmberStrict, 2, "TLP:AMBER+STRICT"},
		"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": {TLPRed, 2, "TLP:RED"},
	}
	for _, m := range ms {
		w, ok := want[m.ID]
		if !ok {
			t.Errorf("unexpected marking %s", m.ID)
			continue
		}
		if m.Level != w.level || m.Version != w.version {
			t.Errorf("%s: level %v version %d, want %v %d", m.ID, m.Level, m.Version, w.level, w.version)
		}
		obj, err := Decode(m.JSON)
		if err != nil {
			t.Errorf("%s: rejected: %v", m.ID, err)
			continue
		}
		if obj.ID != m.ID || obj.Kind != KindMeta || obj.SpecVersion != SpecVersion21 {
			t.Errorf("%s: decoded as %s %v %s", m.ID, obj.ID, obj.Kind, obj.SpecVersion)
		}
		var body struct {
			Name           string
			Created        string
			DefinitionType string `json:"definition_type"`
			Definition     struct{ TLP string }
			Extensions     map[string]struct {
				ExtensionType string `json:"extension_type"`
				TLP           string `json:"tlp_2_0"`
			}
		}
		if err := json.Unmarshal(m.JSON, &body); err != nil {
			t.Fatal(err)
		}
		level := body.Definition.TLP
		created := "2017-01-20T00:00:00.000Z"
		if w.version == 2 {
			level = body.Extensions[TLP2ExtensionID].TLP
			created = "2022-10-01T00:00:00.000Z"
			if body.Extensions[TLP2ExtensionID].ExtensionType != "property-extension" {
				t.Errorf("%s: extension_type %q", m.ID, body.Extensions[TLP2ExtensionID].ExtensionType)
			}
		} else if body.DefinitionType != "tlp" {
			t.Errorf("%s: definition_type %q", m.ID, body.DefinitionType)
		}
		if body.Name != w.name || "TLP:"+strings.ToUpper(level) != w.name || body.Created != created {
			t.Errorf("%s: name %q level %q created %q", m.ID, body.Name, level, body.Created)
		}
		// The slices are copies: changing one must not change the next call's.
		m.JSON[0] = 'x'
	}
	for _, m := range BuiltinMarkings() {
		if m.JSON[0] != '{' {
			t.Fatal("BuiltinMarkings shares its bytes")
		}
	}
}

func TestTLPLevels(t *testing.T) {
	if !(TLPNone < TLPClear && TLPClear < TLPGreen && TLPGreen < TLPAmber && TLPAmber < TLPAmberStrict && TLPAmberStrict < TLPRed) {
		t.Fatal("TLP levels are not ordered")
	}
	cases := []struct {
		id   string
		want TLP
		ok   bool
	}{
		{TLP1White, TLPClear, true},
		{TLP1Green, TLPGreen, true},
		{TLP1Amber, TLPAmber, true},
		{TLP1Red, TLPRed, true},
		{TLP2Clear, TLPClear, true},
		{TLP2AmberStrict, TLPAmberStrict, true},
		{TLP2Red, TLPRed, true},
		{"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168", TLPNone, false},
		{"", TLPNone, false},
	}
	for _, c := range cases {
		got, ok := TLPLevel(c.id)
		if got != c.want || ok != c.ok {
			t.Errorf("TLPLevel(%q) = %v, %v; want %v, %v", c.id, got, ok, c.want, c.ok)
		}
	}
	if got := MaxTLP([]string{TLP1White, "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168", TLP2AmberStrict, TLP1Green}); got != TLPAmberStrict {
		t.Errorf("MaxTLP = %v", got)
	}
	if got := MaxTLP(nil); got != TLPNone {
		t.Errorf("MaxTLP(nil) = %v", got)
	}
	if TLPAmberStrict.String() != "TLP:AMBER+STRICT" || TLPNone.String() != "none" {
		t.Errorf("String: %s %s", TLPAmberStrict, TLPNone)
	}
}
