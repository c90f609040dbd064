package export

import (
	"errors"
	"testing"

	"roadlog/internal/testdrive"
)

// FuzzParseRange checks that any range either parses into a non-empty range or fails
// with ErrBadRange, and never panics.
func FuzzParseRange(f *testing.F) {
	for _, c := range rangeCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s, testdrive.Start)
		if err != nil {
			if !errors.Is(err, ErrBadRange) {
				t.Fatalf("%q: %v is not ErrBadRange", s, err)
			}
			return
		}
		if r.To <= r.From {
			t.Fatalf("%q: empty range %+v accepted", s, r)
		}
	})
}

// FuzzParseEvent checks that any event spec parses to a known code or fails with
// ErrBadEvent.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"fcw", "aeb", "cut_in", "mark:pothole", "203", "mark:", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEvent(s)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("%q: %v is not ErrBadEvent", s, err)
			}
			return
		}
		if e.Code.String() == "" {
			t.Fatalf("%q: code %d", s, e.Code)
		}
	})
}
