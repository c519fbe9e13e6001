package match

// ScanText scans one line as the text format does, for the benchmarks of the external test
// package (which can use synth). It returns the number of candidates found.
func ScanText(line []byte, ev *Event) int {
	ev.Cands, ev.TimeText = ev.Cands[:0], nil
	if err := (textParser{}).Parse(line, ev); err != nil {
		panic(err)
	}
	return len(ev.Cands)
}
