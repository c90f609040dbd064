package tail

import "testing"

func TestBufferKeepsTheEnd(t *testing.T) {
	b := &Buffer{Max: 8}
	for _, s := range []string{"first line\n", "second\n", " last  \n"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "last" { // the last 8 bytes: " last  \n"
		t.Fatalf("kept %q, want the last 8 bytes trimmed (\"last\")", got)
	}
	small := &Buffer{Max: 100}
	small.Write([]byte("  ok "))
	if small.String() != "ok" {
		t.Fatalf("kept %q", small.String())
	}
}
