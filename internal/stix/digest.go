package stix

import (
	"crypto/sha256"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// Digest returns the SHA-256 of the RFC 8785 (JCS) canonical form of a JSON value, such as an
// object's Raw. Two texts of the same object that differ only in member order, whitespace, string
// escapes or number spelling have the same digest. Numbers are canonicalised as IEEE 754 doubles,
// as RFC 8785 requires.
func Digest(raw []byte) ([32]byte, error) {
	v := jsontext.Value(append([]byte(nil), raw...))
	if err := v.Canonicalize(); err != nil {
		return [32]byte{}, fmt.Errorf("stix: digest: %w", err)
	}
	return sha256.Sum256(v), nil
}
