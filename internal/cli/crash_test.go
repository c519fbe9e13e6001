package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/bench/gen"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// TestKillDuringImport kills an import with SIGKILL while it writes, then checks that the store passes
// `renkei check`, holds only whole batches (no partial version), and that running the import again
// completes it without a duplicate version or a rejection.
func TestKillDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a large bundle; skipped with -short")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "node")
	mustRun(t, "init", "--data", data, "--org", "Crash Test CERT")
	base := versions(t, data)

	// A bundle large enough that the import is still writing when the first batch is visible.
	const n = 60000
	bundle := filepath.Join(dir, "big.json")
	f, err := os.Create(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.Write(f, n, 7); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "import", "--data", data, bundle)
	cmd.Args[0] = "renkei" // testscript.Main runs the renkei command for this name
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	for !killed {
		select {
		case err := <-exited:
			t.Fatalf("the import finished (%v) before any batch was seen; stderr:\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if versions(t, data) > base {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Logf("the import ended with %v before SIGKILL landed; the checks below still apply", err)
	}

	got := versions(t, data) - base
	t.Logf("killed after %d of %d versions were stored", got, n)
	if got <= 0 || got > n {
		t.Fatalf("after the kill the store holds %d new versions", got)
	}
	if out := mustRun(t, "check", "--data", data); !bytes.Contains(out, []byte("no problems")) {
		t.Errorf("check after the kill printed:\n%s", out)
	}

	// Importing again completes it: what was stored is reported duplicate, the rest is added.
	out := mustRun(t, "import", "--data", data, bundle)
	m := regexp.MustCompile(`accepted (\d+), duplicate (\d+), rejected (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("import summary not found in:\n%s", out)
	}
	accepted, _ := strconv.Atoi(string(m[1]))
	duplicate, _ := strconv.Atoi(string(m[2]))
	rejected, _ := strconv.Atoi(string(m[3]))
	if int64(duplicate) != got || accepted+duplicate != n || rejected != 0 {
		t.Fatalf("re-import: accepted %d, duplicate %d, rejected %d; want %d duplicate and %d in all", accepted, duplicate, rejected, got, n)
	}
	if total := versions(t, data) - base; total != n {
		t.Fatalf("after the re-import the store holds %d new versions, want %d", total, n)
	}
	mustRun(t, "check", "--data", data)
}

// mustRun runs the CLI in-process and fails the test unless it succeeds. It returns stdout.
func mustRun(t *testing.T, args ...string) []byte {
	t.Helper()
	code, stdout, stderr := run(t, t.Context(), args...)
	if code != 0 {
		t.Fatalf("renkei %v exited %d:\n%s%s", args, code, stdout, stderr)
	}
	return []byte(stdout)
}

// versions opens the node's store (as a second process would) and counts the stored versions.
func versions(t *testing.T, data string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(data, "renkei.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(fmt.Errorf("stats: %w", err))
	}
	return s.Versions
}
