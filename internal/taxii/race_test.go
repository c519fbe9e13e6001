//go:build race

package taxii_test

// raceEnabled: the race detector slows every SQLite page access many times over, so the access
// matrix sends per-object requests for fewer objects under it (the listings still cover them all).
const raceEnabled = true
