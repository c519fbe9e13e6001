package taxii_test

import (
	"bytes"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/formats/pii"
	"github.com/renkei-cti/renkei/internal/stix"
)

// TestPersonalDataGuard: a form read by another organisation than its creator's leaves through the
// node's personal-data guard; the creator's own users read the bytes as stored.
func TestPersonalDataGuard(t *testing.T) {
	const (
		phone = "090-1234-5678"
		withP = "indicator--20000000-0000-4000-8000-000000000001" // A, CLEAR, a phone number in its description
		clean = "indicator--20000000-0000-4000-8000-000000000002" // A, CLEAR, nothing personal
	)
	raw := func(id, desc string) string {
		return `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created_by_ref":"` + orgA +
			`","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"i",` +
			`"description":"` + desc + `","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",` +
			`"valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["` + stix.TLP2Clear + `"]}`
	}
	stored := raw(withP, "the victim's admin answers on "+phone)
	key := bytes.Repeat([]byte{7}, pii.MinKeyBytes)
	for _, c := range []struct {
		mode pii.Mode
		// what bob (B) and the peer (R) read of withP: "" when it is withheld
		want string
	}{
		{pii.ModeRedact, "[pii-redacted:phone]"},
		{pii.ModeHash, "[pii-hash:phone:"},
		{pii.ModeBlock, ""},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			f := newAccounts(t)
			f.importRaw(f.shared.ID, stored)
			f.importRaw(f.shared.ID, raw(clean, "nothing personal"))
			f.pii = &pii.Policy{Mode: c.mode, Key: key}
			f.start(nil)

			// The creator's organisation reads the bytes as stored.
			if body := string(f.get(f.objects("shared"), "alice", 200).body); !strings.Contains(body, stored) {
				t.Errorf("alice does not read the stored bytes:\n%s", body)
			}
			for _, user := range []string{"bob", "peer"} {
				objects := f.get(f.objects("shared"), user, 200)
				manifest := f.get(root+"collections/shared/manifest/", user, 200)
				object := f.get(f.objects("shared")+withP+"/", user, 200)
				for name, r := range map[string]response{"objects": objects, "manifest": manifest, "object": object} {
					if bytes.Contains(r.body, []byte(phone)) {
						t.Errorf("%s reads the phone number in %s:\n%s", user, name, r.body)
					}
				}
				got := ids(t, objects)
				if c.want == "" {
					if slices.Contains(got, withP+"@01") || !slices.Contains(got, clean+"@01") {
						t.Errorf("%s reads %v: want %s withheld and %s there", user, got, withP, clean)
					}
					if strings.Contains(string(manifest.body), withP) {
						t.Errorf("%s's manifest lists the withheld object:\n%s", user, manifest.body)
					}
					continue
				}
				if !slices.Contains(got, withP+"@01") || !strings.Contains(string(objects.body), c.want) {
					t.Errorf("%s reads %v without %q:\n%s", user, got, c.want, objects.body)
				}
				if !strings.Contains(string(object.body), c.want) {
					t.Errorf("%s's object endpoint: no %q:\n%s", user, c.want, object.body)
				}
			}
			// The stored object is unchanged, and the logs never hold the value.
			if got := f.get(f.objects("shared")+withP+"/", "alice", 200).body; !bytes.Contains(got, []byte(stored)) {
				t.Errorf("the stored form changed:\n%s", got)
			}
			if strings.Contains(f.logs.String(), phone) || strings.Contains(f.logs.String(), "1234-5678") {
				t.Errorf("the logs hold the personal value:\n%s", f.logs)
			}
		})
	}
}

// TestGuardMemoPerPolicy: the guard notes in a cached form's memo word that it found the form clean,
// and a handler with another personal-data policy on the same store must not take that note for
// its own: two servers over one store, one whose policy looks only for e-mail addresses (a phone
// number is clean to it) and one with every rule, read the same form in turns.
func TestGuardMemoPerPolicy(t *testing.T) {
	const (
		phone = "090-1234-5678"
		id    = "indicator--20000000-0000-4000-8000-000000000003"
	)
	stored := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created_by_ref":"` + orgA +
		`","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"i",` +
		`"description":"call ` + phone + `","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",` +
		`"valid_from":"2024-01-01T00:00:00Z","object_marking_refs":["` + stix.TLP2Clear + `"]}`
	f := newAccounts(t)
	f.importRaw(f.shared.ID, stored)
	f.pii = &pii.Policy{Mode: pii.ModeRedact, Rules: []pii.Rule{pii.RuleEmail}}
	f.start(nil)
	emailOnly := f.srv
	f.pii = &pii.Policy{Mode: pii.ModeRedact}
	f.start(nil)
	every := f.srv
	for round := range 3 {
		for _, c := range []struct {
			name     string
			srv      *httptest.Server
			redacted bool
		}{{"e-mail only", emailOnly, false}, {"every rule", every, true}} {
			f.srv = c.srv
			body := f.get(f.objects("shared"), "bob", 200).body
			if got := bytes.Contains(body, []byte(phone)); got == c.redacted {
				t.Errorf("round %d, policy %s: phone number in the page: %t, want %t\n%s", round, c.name, got, !c.redacted, body)
			}
			if c.redacted && !bytes.Contains(body, []byte("[pii-redacted:phone]")) {
				t.Errorf("round %d, policy %s: no redaction in the page\n%s", round, c.name, body)
			}
		}
	}
}
