package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

// WWWAuthenticate is the challenge sent with every 401: TAXII clients use Basic (the user name and a
// token as the password), other clients a Bearer token.
const WWWAuthenticate = `Basic realm="renkei", Bearer`

const viewerKey ctxKey = requestIDKey + 1

// ViewerFrom returns the viewer Authenticate put in ctx, and whether there is one.
func ViewerFrom(ctx context.Context) (policy.Viewer, bool) {
	v, ok := ctx.Value(viewerKey).(policy.Viewer)
	return v, ok
}

// authFailure is why a request's credentials were refused. It is logged, never sent: every refusal
// gets the same response, so a client cannot learn whether a token exists, expired or was revoked.
type authFailure string

const (
	authMissing   authFailure = "no credentials"
	authMalformed authFailure = "malformed Authorization header"
	authUnknown   authFailure = "unknown token"
	authExpired   authFailure = "token expired"
	authRevoked   authFailure = "token revoked"
	authDisabled  authFailure = "user disabled"
	authWrongUser authFailure = "basic user name is not the token's user"
)

// Authenticate wraps next so that only requests with a valid API token reach it, with the viewer the
// token stands for in the request's context (ViewerFrom). A token is accepted as
// "Authorization: Bearer TOKEN" or as HTTP Basic with the user's name and the token as the password.
// Unknown, expired and revoked tokens, and the tokens of disabled users, get 401 with a
// WWW-Authenticate challenge. Nothing a client sends other than the token decides the viewer. The
// token is never logged, nor its hash.
func (s *Server) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, failure, err := s.cachedViewerOf(r, s.now())
		switch {
		case err != nil:
			s.writeError(w, r, err)
			return
		case failure != "":
			s.logger.LogAttrs(r.Context(), slog.LevelInfo, "authentication failed",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("reason", string(failure)))
			w.Header().Set("WWW-Authenticate", WWWAuthenticate)
			writeErrorResource(w, r, &HTTPError{
				Status:      http.StatusUnauthorized,
				Title:       "authentication required",
				Description: "send a valid API token as a Bearer token, or as the password of HTTP Basic with your user name",
			})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey, v)))
	})
}

// credentials reads the token, and the user name of Basic, from the Authorization header.
func credentials(r *http.Request) (token, basicUser string, failure authFailure) {
	h := r.Header.Values("Authorization")
	switch {
	case len(h) == 0:
		return "", "", authMissing
	case len(h) > 1:
		return "", "", authMalformed
	}
	scheme, rest, _ := strings.Cut(h[0], " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = strings.TrimSpace(rest)
		if token == "" || strings.ContainsAny(token, " \t") {
			return "", "", authMalformed
		}
		return token, "", ""
	case strings.EqualFold(scheme, "Basic"):
		u, p, ok := r.BasicAuth()
		if !ok || u == "" || p == "" {
			return "", "", authMalformed
		}
		return p, u, ""
	}
	return "", "", authMalformed
}

// viewerOf authenticates r at the time now. A refusal is a failure; err is a fault of the node.
func (s *Server) viewerOf(r *http.Request, now time.Time) (policy.Viewer, authFailure, error) {
	ctx := r.Context()
	secret, basicUser, failure := credentials(r)
	if failure != "" {
		return policy.Viewer{}, failure, nil
	}
	tok, err := s.store.TokenByHash(ctx, HashToken(secret))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return policy.Viewer{}, authUnknown, nil
	case err != nil:
		return policy.Viewer{}, "", fmt.Errorf("authenticate: %w", err)
	case !tok.RevokedAt.IsZero():
		return policy.Viewer{}, authRevoked, nil
	case !tok.ExpiresAt.IsZero() && !now.Before(tok.ExpiresAt):
		return policy.Viewer{}, authExpired, nil
	}
	u, err := s.store.User(ctx, tok.UserID)
	if err != nil {
		return policy.Viewer{}, "", fmt.Errorf("authenticate: user of token %s: %w", tok.ID, err)
	}
	if u.Disabled {
		return policy.Viewer{}, authDisabled, nil
	}
	if basicUser != "" && subtle.ConstantTimeCompare([]byte(basicUser), []byte(u.Name)) != 1 {
		return policy.Viewer{}, authWrongUser, nil
	}
	v, err := policy.ViewerFor(ctx, s.store, u)
	if err != nil {
		return policy.Viewer{}, "", fmt.Errorf("authenticate: %w", err)
	}
	return v, "", nil
}

// ViewerTTL is how long an accepted token's viewer is reused without reading the store again: a
// revoked or expired token, a disabled user or a changed group membership takes effect on a running
// server within this time. Refusals are never cached.
const ViewerTTL = time.Second

// maxCachedViewers bounds the cache; when full it is emptied.
const maxCachedViewers = 4096

type cachedViewer struct {
	v     policy.Viewer
	until time.Time
}

// viewerCache maps the SHA-256 of an Authorization header to the viewer it stood for.
type viewerCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedViewer
}

// cachedViewerOf is viewerOf with a cache of accepted credentials: authentication is five store
// queries, a tenth of a TAXII page's cost.
func (s *Server) cachedViewerOf(r *http.Request, now time.Time) (policy.Viewer, authFailure, error) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return s.viewerOf(r, now)
	}
	key := sha256.Sum256([]byte(h[0]))
	c := &s.viewers
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.v, "", nil
	}
	v, failure, err := s.viewerOf(r, now)
	if err != nil || failure != "" {
		return v, failure, err
	}
	until := now.Add(ViewerTTL)
	if tok, err := s.store.TokenByHash(r.Context(), HashToken(tokenOf(r))); err == nil && !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(until) {
		until = tok.ExpiresAt
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedViewers {
		c.m = map[[sha256.Size]byte]cachedViewer{}
	}
	c.m[key] = cachedViewer{v: v, until: until}
	c.mu.Unlock()
	return v, "", nil
}

// tokenOf returns the token of a request whose credentials were accepted.
func tokenOf(r *http.Request) string {
	t, _, _ := credentials(r)
	return t
}
