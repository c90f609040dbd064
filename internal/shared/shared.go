// Package shared finds the team's shared corpus (../shared beside the repository:
// real-world test data, the default model, peer baselines) for tests and benchmarks.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared folder, or "" when it is absent. ROADLOG_SHARED overrides.
func Dir() string {
	if d := os.Getenv("ROADLOG_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(d, "..", "shared")
			if st, err := os.Stat(s); err == nil && st.IsDir() {
				return filepath.Clean(s)
			}
			// a git worktree elsewhere: fall back to the main checkout's neighbour
			if st, err := os.Stat("/work/shared"); err == nil && st.IsDir() {
				return "/work/shared"
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Path returns the path of rel inside the shared folder, skipping the test (or
// benchmark) with a clear message when the folder or the file is absent.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	d := Dir()
	if d == "" {
		tb.Skip("shared corpus ../shared is absent (set ROADLOG_SHARED); skipping test that needs " + rel)
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared corpus file %s is absent: %v", p, err)
	}
	return p
}
