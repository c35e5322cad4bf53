//go:build unix

package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadRefusesNonRegularFiles: /dev/zero would be read forever and a FIFO blocks Load; both
// are refused before reading, and a file over MaxFileSize is refused after MaxFileSize+1 bytes.
func TestLoadRefusesNonRegularFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(boundsBase+"# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "load scenario: /dev/zero: not a regular file (a character device): a scenario is a YAML file"},
		{fifo, "load scenario: " + fifo + ": not a regular file (a named pipe): a scenario is a YAML file"},
		{dir, "load scenario: " + dir + ": not a regular file (a directory): a scenario is a YAML file"},
		{big, "load scenario: " + big + ": larger than 1048576 bytes: a scenario is a few kilobytes"},
	} {
		if _, err := os.Stat(tc.path); err != nil {
			t.Logf("skip %s: %v", tc.path, err)
			continue
		}
		_, err := Load(tc.path)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Load(%s) = %v, want %s", tc.path, err, tc.want)
		}
	}
}
