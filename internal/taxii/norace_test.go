//go:build !race

package taxii_test

const raceEnabled = false
