package query

import (
	"errors"
	"testing"
)

// FuzzParse checks that any input parses or fails with a *SyntaxError inside the
// query, never panics, and that a query's canonical form parses to itself.
func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(c.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %v is not a *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("%q: error offset %d outside the query", src, se.Offset)
			}
			_ = se.Caret()
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("%q: canonical form %q does not parse: %v", src, s, err)
		}
		if s2 := q2.String(); s2 != s {
			t.Fatalf("%q: canonical %q reparses as %q", src, s, s2)
		}
		if q2.Table() != q.Table() || q2.NeedsTracks() != q.NeedsTracks() {
			t.Fatalf("%q: canonical form reads another table", src)
		}
		q.Bind(cameras)
		q.Match(&Row{Object: carAhead, Target: warn})
	})
}
