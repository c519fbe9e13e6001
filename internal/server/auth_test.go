package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// authStore holds the accounts Authenticate reads; other methods panic (the embedded interface is nil).
type authStore struct {
	store.Store
	tokens map[[sha256.Size]byte]store.Token
	users  map[string]store.User
	groups []store.Group
}

func (a *authStore) TokenByHash(_ context.Context, h [sha256.Size]byte) (store.Token, error) {
	t, ok := a.tokens[h]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (a *authStore) User(_ context.Context, id string) (store.User, error) {
	u, ok := a.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (a *authStore) NodeInfo(context.Context) (store.NodeInfo, error) {
	return store.NodeInfo{ID: "node-1", OwnerOrg: "identity--org-a"}, nil
}

func (a *authStore) ListGroups(context.Context) ([]store.Group, error) { return a.groups, nil }

// Organisation: every organisation is hosted here but identity--remote.
func (a *authStore) Organisation(_ context.Context, id string) (store.Organisation, error) {
	return store.Organisation{ID: id, Name: id, Remote: id == "identity--remote"}, nil
}

// addToken stores a new token for user and returns its secret.
func (a *authStore) addToken(t *testing.T, user string, edit func(*store.Token)) string {
	t.Helper()
	secret, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ID: "tok-" + string(secret)[len(secret)-6:], UserID: user, Hash: hash, CreatedAt: time.Now().Add(-time.Hour)}
	if edit != nil {
		edit(&tok)
	}
	a.tokens[hash] = tok
	return string(secret)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuthenticate(t *testing.T) {
	st := &authStore{
		tokens: map[[sha256.Size]byte]store.Token{},
		users: map[string]store.User{
			"u-alice": {ID: "u-alice", Name: "alice", OrgID: "identity--org-a", Role: store.RoleAnalyst},
			"u-bob":   {ID: "u-bob", Name: "bob", OrgID: "identity--org-b", Role: store.RoleReader},
			"u-carol": {ID: "u-carol", Name: "carol", OrgID: "identity--org-a", Role: store.RoleReader, Disabled: true},
			"u-peer":  {ID: "u-peer", Name: "peer1", OrgID: "identity--org-p", Role: store.RolePeer},
			"u-dave":  {ID: "u-dave", Name: "dave", OrgID: "identity--remote", Role: store.RoleAnalyst},
		},
		groups: []store.Group{
			{ID: "g-owned", OwnerOrg: "identity--org-a"},
			{ID: "g-member", OwnerOrg: "identity--org-b", Members: []string{"identity--org-b", "identity--org-a"}},
			{ID: "g-other", OwnerOrg: "identity--org-b", Members: []string{"identity--org-b"}},
		},
	}
	alice := st.addToken(t, "u-alice", nil)
	aliceForever := st.addToken(t, "u-alice", func(tok *store.Token) { tok.ExpiresAt = time.Time{} })
	aliceLater := st.addToken(t, "u-alice", func(tok *store.Token) { tok.ExpiresAt = time.Now().Add(time.Hour) })
	expired := st.addToken(t, "u-alice", func(tok *store.Token) { tok.ExpiresAt = time.Now().Add(-time.Minute) })
	revoked := st.addToken(t, "u-alice", func(tok *store.Token) { tok.RevokedAt = time.Now().Add(-time.Minute) })
	disabled := st.addToken(t, "u-carol", nil)
	bob := st.addToken(t, "u-bob", nil)
	peer := st.addToken(t, "u-peer", nil)
	dave := st.addToken(t, "u-dave", nil)
	unknown, _, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}

	s, logs := newTestServer(t, st, nil)
	var seen policy.Viewer
	h := s.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := ViewerFrom(r.Context())
		if !ok {
			t.Error("the handler got no viewer")
		}
		seen = v
		w.WriteHeader(http.StatusNoContent)
	}))
	// The viewers the tokens stand for: nothing in the request but the token decides them.
	aliceViewer := policy.Viewer{UserID: "u-alice", Role: store.RoleAnalyst, Org: "identity--org-a", Node: "node-1", Local: true,
		Groups: []string{"g-owned", "g-member"}}
	tests := []struct {
		name   string
		header http.Header
		want   *policy.Viewer // nil: 401
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + alice}}, &aliceViewer},
		{"bearer scheme in lower case", http.Header{"Authorization": {"bearer " + alice}}, &aliceViewer},
		{"bearer, no expiry", http.Header{"Authorization": {"Bearer " + aliceForever}}, &aliceViewer},
		{"bearer, expires later", http.Header{"Authorization": {"Bearer " + aliceLater}}, &aliceViewer},
		{"basic", http.Header{"Authorization": {basic("alice", alice)}}, &aliceViewer},
		{"internal-looking headers change nothing", http.Header{"Authorization": {"Bearer " + alice},
			"X-Renkei-Org": {"identity--org-b"}, "X-Renkei-Role": {"admin"}, "X-Forwarded-User": {"bob"}, "X-Remote-User": {"bob"}}, &aliceViewer},
		{"other user", http.Header{"Authorization": {"Bearer " + bob}},
			&policy.Viewer{UserID: "u-bob", Role: store.RoleReader, Org: "identity--org-b", Node: "node-1", Local: true, Groups: []string{"g-member", "g-other"}}},
		{"peer is not local", http.Header{"Authorization": {basic("peer1", peer)}},
			&policy.Viewer{UserID: "u-peer", Role: store.RolePeer, Org: "identity--org-p"}},
		{"user of a remote organisation is not local", http.Header{"Authorization": {"Bearer " + dave}},
			&policy.Viewer{UserID: "u-dave", Role: store.RoleAnalyst, Org: "identity--remote"}},
		{"no credentials", nil, nil},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, nil},
		{"unknown scheme", http.Header{"Authorization": {"Token " + alice}}, nil},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + alice, "Bearer " + bob}}, nil},
		{"unknown token", http.Header{"Authorization": {"Bearer " + string(unknown)}}, nil},
		{"token without its prefix", http.Header{"Authorization": {"Bearer " + strings.TrimPrefix(alice, TokenPrefix)}}, nil},
		{"expired token", http.Header{"Authorization": {"Bearer " + expired}}, nil},
		{"expired token over basic", http.Header{"Authorization": {basic("alice", expired)}}, nil},
		{"revoked token", http.Header{"Authorization": {"Bearer " + revoked}}, nil},
		{"revoked token over basic", http.Header{"Authorization": {basic("alice", revoked)}}, nil},
		{"disabled user", http.Header{"Authorization": {"Bearer " + disabled}}, nil},
		{"disabled user over basic", http.Header{"Authorization": {basic("carol", disabled)}}, nil},
		{"basic with another user's name", http.Header{"Authorization": {basic("bob", alice)}}, nil},
		{"basic with no password", http.Header{"Authorization": {basic("alice", "")}}, nil},
		{"basic not base64", http.Header{"Authorization": {"Basic %%%"}}, nil},
	}
	var bodies []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = policy.Viewer{}
			rec := do(t, h, http.MethodGet, "/taxii2/", nil, tc.header)
			if tc.want != nil {
				if rec.Code != http.StatusNoContent {
					t.Fatalf("status %d, want 204; body %s", rec.Code, rec.Body)
				}
				if seen.UserID != tc.want.UserID || seen.Role != tc.want.Role || seen.Org != tc.want.Org ||
					seen.Node != tc.want.Node || seen.Local != tc.want.Local || !slices.Equal(seen.Groups, tc.want.Groups) {
					t.Errorf("viewer %+v, want %+v", seen, *tc.want)
				}
				return
			}
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if seen.UserID != "" {
				t.Errorf("the handler ran for a refused request, as %+v", seen)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != WWWAuthenticate {
				t.Errorf("WWW-Authenticate %q, want %q", got, WWWAuthenticate)
			}
			e := decodeError(t, rec)
			if e.HTTPStatus != "401" || e.Title == "" {
				t.Errorf("error body %+v", e)
			}
			// Every refusal reads the same: it does not tell a revoked token from an unknown one.
			e.ErrorID = ""
			bodies = append(bodies, e.Title+"|"+e.Description)
		})
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("refusals differ: %q and %q", bodies[0], b)
		}
	}
	// No token, nor its hash, reaches the log, though every refusal is logged.
	out := logs.String()
	if !strings.Contains(out, "token revoked") || !strings.Contains(out, "token expired") || !strings.Contains(out, "user disabled") {
		t.Errorf("the log does not give the reasons of refusals:\n%s", out)
	}
	for _, secret := range []string{alice, aliceForever, aliceLater, expired, revoked, disabled, bob, peer, string(unknown)} {
		body := strings.TrimPrefix(secret, TokenPrefix)
		hash := HashToken(secret)
		for _, leak := range []string{body, base64.StdEncoding.EncodeToString([]byte("alice:" + secret)), string(hash[:]),
			base64.RawURLEncoding.EncodeToString(hash[:])} {
			if strings.Contains(out, leak) {
				t.Errorf("the log holds a token or its hash %q:\n%s", leak, out)
			}
		}
	}
}

func TestAuthenticateStoreFault(t *testing.T) {
	// A user the store cannot find behind a valid token is a fault of the node: 500, not 401.
	st := &authStore{tokens: map[[sha256.Size]byte]store.Token{}, users: map[string]store.User{}}
	tok := st.addToken(t, "u-gone", nil)
	s, _ := newTestServer(t, st, nil)
	h := s.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran")
	}))
	rec := do(t, h, http.MethodGet, "/", nil, http.Header{"Authorization": {"Bearer " + tok}})
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "u-gone") {
		t.Errorf("the error body names the private cause: %s", rec.Body)
	}
}

// TestViewerCache: an accepted token's viewer is reused for ViewerTTL without reading the store, a
// revocation takes effect after it, a token's expiry is never outlived, and refusals are not cached.
func TestViewerCache(t *testing.T) {
	st := &authStore{
		tokens: map[[sha256.Size]byte]store.Token{},
		users:  map[string]store.User{"u-alice": {ID: "u-alice", Name: "alice", OrgID: "identity--org-a", Role: store.RoleAnalyst}},
	}
	clock := time.Now()
	alice := st.addToken(t, "u-alice", nil)
	soon := st.addToken(t, "u-alice", func(tok *store.Token) { tok.ExpiresAt = clock.Add(ViewerTTL / 2) })
	s, _ := newTestServer(t, st, nil)
	s.now = func() time.Time { return clock }
	h := s.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	code := func(token string) int {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/taxii2/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code(alice) != http.StatusNoContent || code(soon) != http.StatusNoContent {
		t.Fatal("valid tokens refused")
	}
	// Revoke alice's token in the store: still accepted from the cache within the TTL, not after.
	for hash, tok := range st.tokens {
		if tok.ExpiresAt.IsZero() {
			tok.RevokedAt = clock
			st.tokens[hash] = tok
		}
	}
	clock = clock.Add(ViewerTTL / 4)
	if code(alice) != http.StatusNoContent {
		t.Error("the cached viewer was not used within the TTL")
	}
	clock = clock.Add(ViewerTTL / 2) // past soon's expiry, still within alice's TTL
	if code(soon) != http.StatusUnauthorized {
		t.Error("a cached viewer outlived its token's expiry")
	}
	clock = clock.Add(ViewerTTL)
	if code(alice) != http.StatusUnauthorized {
		t.Error("a revoked token still works after the TTL")
	}
}
