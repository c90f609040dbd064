package query

import (
	"fmt"
	"strings"
)

// SyntaxError is a query that does not parse or does not make sense: Offset is the
// 0-based byte offset in Query where the problem is, Column the 1-based column (in
// runes) the same place is at.
type SyntaxError struct {
	Query  string
	Offset int
	Msg    string
}

// Column returns the 1-based column of Offset, counted in characters.
func (e *SyntaxError) Column() int {
	off := min(max(e.Offset, 0), len(e.Query))
	return len([]rune(e.Query[:off])) + 1
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query:1:%d: %s", e.Column(), e.Msg)
}

// Caret returns the query and, under it, a caret at the error's column, for a terminal.
func (e *SyntaxError) Caret() string {
	return e.Query + "\n" + strings.Repeat(" ", e.Column()-1) + "^"
}

// MaxLength caps the length of a query (bytes); longer queries are refused, which
// bounds the parser's recursion and work.
const MaxLength = 4096

// maxDepth caps the nesting of parentheses and "not".
const maxDepth = 64

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokNumber
	tokString
	tokOp // = == != < <= > >=
	tokLParen
	tokRParen
	tokComma
)

func (k tokKind) String() string {
	switch k {
	case tokEOF:
		return "end of query"
	case tokWord:
		return "name"
	case tokNumber:
		return "number"
	case tokString:
		return "string"
	case tokOp:
		return "comparison"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokComma:
		return `","`
	}
	return "token"
}

type token struct {
	kind tokKind
	text string // as written (a string's value without its quotes and escapes resolved)
	off  int
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of query"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// lexer splits a query into tokens.
type lexer struct {
	src string
	pos int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (l *lexer) errorf(off int, format string, a ...any) *SyntaxError {
	return &SyntaxError{Query: l.src, Offset: off, Msg: fmt.Sprintf(format, a...)}
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, off: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case c == '(':
		l.pos++
		return token{tokLParen, "(", start}, nil
	case c == ')':
		l.pos++
		return token{tokRParen, ")", start}, nil
	case c == ',':
		l.pos++
		return token{tokComma, ",", start}, nil
	case c == '=' || c == '!' || c == '<' || c == '>':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '=' {
			l.pos++
		} else if c == '!' {
			return token{}, l.errorf(start, `"!" must be followed by "=" (use "not" to negate)`)
		}
		return token{tokOp, l.src[start:l.pos], start}, nil
	case c == '"' || c == '\'':
		return l.str(c)
	case isDigit(c) || c == '.' || c == '-' || c == '+':
		return l.number()
	case isLetter(c):
		for l.pos < len(l.src) && (isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{tokWord, l.src[start:l.pos], start}, nil
	}
	r := []rune(l.src[start:])[0]
	return token{}, l.errorf(start, "unexpected character %q", r)
}

func (l *lexer) str(q byte) (token, error) {
	start := l.pos
	l.pos++
	var sb strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			l.pos++
			return token{tokString, sb.String(), start}, nil
		case c == '\\':
			if l.pos+1 >= len(l.src) {
				return token{}, l.errorf(l.pos, "unterminated string")
			}
			e := l.src[l.pos+1]
			if e != '\\' && e != '"' && e != '\'' {
				return token{}, l.errorf(l.pos, `unknown escape "\%c" (only \\, \" and \' are allowed)`, e)
			}
			sb.WriteByte(e)
			l.pos += 2
		default:
			sb.WriteByte(c)
			l.pos++
		}
	}
	return token{}, l.errorf(start, "unterminated string")
}

// number reads [+-]digits[.digits][e[+-]digits].
func (l *lexer) number() (token, error) {
	start := l.pos
	if c := l.src[l.pos]; c == '-' || c == '+' {
		l.pos++
	}
	digits := 0
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
		digits++
	}
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			digits++
		}
	}
	if digits == 0 {
		return token{}, l.errorf(start, "malformed number %q", l.src[start:l.pos])
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '-' || l.src[l.pos] == '+') {
			l.pos++
		}
		exp := 0
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			exp++
		}
		if exp == 0 {
			return token{}, l.errorf(start, "malformed number %q: exponent has no digits", l.src[start:l.pos])
		}
	}
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		return token{}, l.errorf(l.pos, "malformed number %q", l.src[start:l.pos+1])
	}
	if l.pos < len(l.src) && isLetter(l.src[l.pos]) {
		end := l.pos
		for end < len(l.src) && (isLetter(l.src[end]) || isDigit(l.src[end])) {
			end++
		}
		return token{}, l.errorf(l.pos, "unexpected %q after number %s (units are not written: distances are in m, times in s, speeds in m/s)",
			l.src[l.pos:end], l.src[start:l.pos])
	}
	return token{tokNumber, l.src[start:l.pos], start}, nil
}
