package pattern

// For the tests of package pattern_test (which may import internal/match/synth).
var (
	ReadObservationsReference = readObservationsReference
	ReadObjectsReference      = readObjectsReference
)
