package match

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"
)

// maxWorkPerByte bounds the text scanner's work (Event.work) per byte of a line.
const maxWorkPerByte = 8

// scanChecked scans line as the text format does and checks what it found: every candidate is a
// non-empty part of the line, after the previous one, and the work done is linear in the line.
func scanChecked(t *testing.T, line []byte) *Event {
	t.Helper()
	ev := &Event{}
	if err := (textParser{}).Parse(line, ev); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ev.work > maxWorkPerByte*len(line) {
		t.Fatalf("%d bytes of work for a line of %d bytes (more than %d per byte)", ev.work, len(line), maxWorkPerByte)
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	end := 0
	if ev.TimeText != nil {
		end = len(ev.TimeText)
	}
	for _, c := range ev.Cands {
		if len(c.Value) == 0 {
			t.Fatalf("empty %s candidate", c.Kind)
		}
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(c.Value))) - base)
		if off < end || off+len(c.Value) > len(line) {
			t.Fatalf("%s candidate %q at %d is not in the line after %d", c.Kind, c.Value, off, end)
		}
		end = off + len(c.Value)
	}
	return ev
}

// TestTextScannerLinear feeds the scanner lines built to make it go back over bytes: long runs of
// the bytes that end tokens, URLs and addresses, and near misses of each form.
func TestTextScannerLinear(t *testing.T) {
	const size = 1 << 20
	pieces := []string{
		":", ".", "@", "-", "a://", "http://", "http://x.", "http://....)))]]];;;", "::", "1.2.3.", "a@b.", "a:1",
		"[::1]:", "deadbeef", strings.Repeat("f", 63), "1.2.3.4:", "x.example:", "2001:db8::", "Jan 23 10:00:00 ",
		"2024-05-01T10:00:00Z ", "1700000000.5 ", "http://a/b.", "x", "..", "@@", "a.b.c.d.e.f",
	}
	for _, p := range pieces {
		for _, sep := range []string{"", " ", "\"", "/"} {
			t.Run(p+"|"+sep, func(t *testing.T) {
				line := []byte(strings.Repeat(p+sep, size/(len(p)+len(sep))))
				scanChecked(t, line)
			})
		}
	}
	// Sanity: the scanner finds what it should in a plain line, so the bound above is not met by
	// doing nothing.
	ev := scanChecked(t, []byte("2024-05-01T10:00:00Z GET http://evil.example/x?a=1. from 198.51.100.7:443 to [2001:db8::1]:80 x@evil.example "+strings.Repeat("ab", 32)))
	var got []string
	for _, c := range ev.Cands {
		got = append(got, c.Kind.String()+"="+string(c.Value))
	}
	want := "url=http://evil.example/x?a=1 ipv4=198.51.100.7 ipv6=2001:db8::1 email=x@evil.example hash=" + strings.Repeat("ab", 32)
	if strings.Join(got, " ") != want || ev.work == 0 {
		t.Errorf("found %v (work %d), want %s", got, ev.work, want)
	}
}

// FuzzTextScanner: on any line the scanner does not panic, finds only parts of the line, in order,
// and does work linear in the line's length.
func FuzzTextScanner(f *testing.F) {
	for _, s := range []string{
		"2024-05-01T10:00:00Z GET http://evil.example/x from 198.51.100.7:443",
		"Nov 23 06:00:00 dnsmasq[1]: query[A] a.b.example from 10.0.0.1",
		"1700000000.123 x@evil.example [2001:db8::1]:80 " + strings.Repeat("0", 64),
		"http://....))) a:// :::: @@@ ...", "\x00\xff\x80 é.example",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		scanChecked(t, line)
		// The same line many times over: still linear.
		scanChecked(t, bytes.Repeat(append(line, ' '), 50))
	})
}
