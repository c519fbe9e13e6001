package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
)

// TokenPrefix starts every API token, so a leaked token is easy to recognise and search for.
const TokenPrefix = "renkei_"

// Secret is an API token in clear. It is shown once, when it is made; the store keeps only its hash.
// It redacts itself in logs.
type Secret string

// LogValue keeps the secret out of logs.
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// NewToken makes a token from 32 random bytes: TokenPrefix followed by their base64url encoding
// (no padding). It returns the secret and the hash to store.
func NewToken() (Secret, [sha256.Size]byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("token: %w", err)
	}
	s := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return Secret(s), HashToken(s), nil
}

// HashToken returns the SHA-256 of the whole token text as presented (prefix included): the value the
// store keeps and looks tokens up by.
func HashToken(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }
