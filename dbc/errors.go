package dbc

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels matched by errors.Is on an *Error.
var (
	// ErrSyntax: a statement that cannot be read; it was skipped.
	ErrSyntax = errors.New("DBC syntax error")
	// ErrDefinition: a definition that reads but cannot be used (a signal wider
	// than 64 bits, a float signal that is not 32 or 64 bits wide…).
	ErrDefinition = errors.New("DBC definition error")
	// ErrTolerated: a deviation from the grammar that the parser accepted; these
	// are File.Warnings, never returned as errors.
	ErrTolerated = errors.New("DBC deviation tolerated")
)

// Error is a located problem in a DBC file.
type Error struct {
	File string
	Pos  Pos
	Msg  string
	Err  error // ErrSyntax, ErrDefinition or ErrTolerated
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every error of one file, in file order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	b.WriteString(l[0].Error())
	fmt.Fprintf(&b, " (and %d more errors)", len(l)-1)
	return b.String()
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
