package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitBuildsTheNodeAside checks that init builds the node beside its directory and moves it into
// place whole: nothing is left beside it, an empty directory is accepted, a directory holding other
// files is refused and left untouched, and a second init changes nothing.
func TestInitBuildsTheNodeAside(t *testing.T) {
	parent := t.TempDir()
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "init", "--data", empty, "--org", "Empty Dir CERT")
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "empty" {
		t.Errorf("beside the node: %v, want only the node's directory", entries)
	}
	if _, err := os.Stat(filepath.Join(empty, "renkei.db")); err != nil {
		t.Errorf("the node's database: %v", err)
	}
	before := versions(t, empty)
	code, _, stderr := run(t, t.Context(), "init", "--data", empty, "--org", "Again")
	if code == 0 || !strings.Contains(stderr, "already") {
		t.Errorf("second init exited %d: %s", code, stderr)
	}
	if after := versions(t, empty); after != before {
		t.Errorf("second init changed the store: %d versions, was %d", after, before)
	}

	busy := filepath.Join(parent, "busy")
	if err := os.Mkdir(busy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, t.Context(), "init", "--data", busy, "--org", "Busy CERT")
	if code == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("init into a non-empty directory exited %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(busy); len(entries) != 1 {
		t.Errorf("init touched a directory it refused: %v", entries)
	}
	file := filepath.Join(parent, "notes.txt")
	if err := os.WriteFile(file, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, t.Context(), "init", "--data", file, "--org", "File CERT")
	if b, err := os.ReadFile(file); code == 0 || err != nil || string(b) != "precious" || !strings.Contains(stderr, "not a directory") {
		t.Errorf("init onto a file exited %d (%s); the file now reads %q, %v", code, stderr, b, err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 3 {
		t.Errorf("a refused init left something beside the node: %v", entries)
	}
}
