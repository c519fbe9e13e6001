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
	"strings"
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

	// The import reads the bundle from a pipe. The test writes the first 60% of it, waits until the
	// first batch is committed, and kills the import with SIGKILL: it is then certainly in the middle of
	// the import, with objects read but not yet written.
	const n = 60000
	var buf bytes.Buffer
	if err := gen.Write(&buf, n, 7); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	bundle := filepath.Join(dir, "big.json")
	if err := os.WriteFile(bundle, full, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "import", "--data", data, "-")
	cmd.Args[0] = "renkei" // testscript.Main runs the renkei command for this name
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fed := make(chan error, 1)
	go func() {
		_, err := stdin.Write(full[:len(full)*6/10])
		fed <- err
	}()
	for versions(t, data) == base {
		select {
		case err := <-exited:
			t.Fatalf("the import ended (%v) before any batch was committed; stderr:\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the import ended with %v, not by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	stdin.Close()
	<-fed // the write fails once the reader is gone; that is expected

	got := versions(t, data) - base
	t.Logf("killed after %d of %d versions were stored", got, n)
	if got <= 0 || got >= n {
		t.Fatalf("after the kill the store holds %d new versions", got)
	}
	if out := mustRun(t, "check", "--data", data); !strings.Contains(out, "no problems") {
		t.Errorf("check after the kill printed:\n%s", out)
	}

	// Importing again completes it: what was stored is reported duplicate, the rest is added.
	out := mustRun(t, "import", "--data", data, bundle)
	m := regexp.MustCompile(`accepted (\d+), duplicate (\d+), rejected (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("import summary not found in:\n%s", out)
	}
	accepted, _ := strconv.Atoi(m[1])
	duplicate, _ := strconv.Atoi(m[2])
	rejected, _ := strconv.Atoi(m[3])
	if int64(duplicate) != got || accepted+duplicate != n || rejected != 0 {
		t.Fatalf("re-import: accepted %d, duplicate %d, rejected %d; want %d duplicate and %d in all", accepted, duplicate, rejected, got, n)
	}
	if total := versions(t, data) - base; total != n {
		t.Fatalf("after the re-import the store holds %d new versions, want %d", total, n)
	}
	mustRun(t, "check", "--data", data)
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
