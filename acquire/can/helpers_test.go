package can

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func sscan(line string, a, b *float64) (int, error) {
	return fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%g %g", a, b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
