package dbc

import (
	"unicode/utf8"
)

// Pos is a position in a DBC file.
type Pos struct {
	Line   int   // 1-based
	Col    int   // 1-based, in bytes
	Offset int64 // byte offset from the start of the file
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokNumber
	tokString
	tokPunct
	tokNewline
	tokBad
)

type token struct {
	kind tokKind
	pos  Pos
	text string // word, number, string contents (UTF-8), punct
	p    byte   // the punctuation character
	// latin1 marks a string that was not valid UTF-8 and was read as Latin-1.
	latin1 bool
}

// lexer splits a DBC file into tokens. It never fails: bytes it cannot place
// become tokBad tokens that the parser reports.
type lexer struct {
	src  []byte
	s    string // src as a string, so tokens slice it instead of allocating
	i    int
	line int
	bol  int // offset of the start of the current line
}

func newLexer(src []byte) *lexer {
	l := &lexer{src: src, s: string(src), line: 1}
	if len(src) >= 3 && src[0] == 0xef && src[1] == 0xbb && src[2] == 0xbf {
		l.i, l.bol = 3, 3
	}
	return l
}

func (l *lexer) pos() Pos {
	return Pos{Line: l.line, Col: l.i - l.bol + 1, Offset: int64(l.i)}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() token {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.i++
		case c == '/' && l.i+1 < len(l.src) && l.src[l.i+1] == '/':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case c == '\n':
			t := token{kind: tokNewline, pos: l.pos()}
			l.i++
			l.line++
			l.bol = l.i
			return t
		default:
			return l.token()
		}
	}
	return token{kind: tokEOF, pos: l.pos()}
}

func (l *lexer) token() token {
	start := l.pos()
	c := l.src[l.i]
	switch {
	case c == '"':
		return l.str(start)
	case isDigit(c) || c == '.' && l.i+1 < len(l.src) && isDigit(l.src[l.i+1]):
		if end := l.number(l.i); end > l.i && (end == len(l.src) || !isWordByte(l.src[end])) {
			t := token{kind: tokNumber, pos: start, text: l.s[l.i:end]}
			l.i = end
			return t
		}
		if c == '.' { // ".5x": no word starts with '.'; without this the lexer did not move (found by FuzzParse)
			l.i++
			return token{kind: tokBad, pos: start, text: "."}
		}
		return l.word(start)
	case isWordByte(c):
		return l.word(start)
	case c == ':' || c == ';' || c == '|' || c == '@' || c == '(' || c == ')' || c == '[' || c == ']' ||
		c == ',' || c == '+' || c == '-':
		l.i++
		return token{kind: tokPunct, pos: start, p: c, text: l.s[l.i-1 : l.i]}
	}
	// anything else: one (possibly multi-byte) character the grammar has no use for
	_, n := utf8.DecodeRune(l.src[l.i:])
	t := token{kind: tokBad, pos: start, text: l.s[l.i : l.i+n]}
	l.i += n
	return t
}

func (l *lexer) word(start Pos) token {
	j := l.i
	for j < len(l.src) && isWordByte(l.src[j]) {
		j++
	}
	t := token{kind: tokWord, pos: start, text: l.s[l.i:j]}
	l.i = j
	return t
}

// number returns the end of the decimal number starting at i:
// digits [. digits] [(e|E) [+|-] digits]; it returns i when there is none.
func (l *lexer) number(i int) int {
	s := l.src
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			j = k
		}
	}
	return j
}

// str reads a quoted string. Backslash escapes \" and \\ ; newlines are kept. A
// string that is not valid UTF-8 is read as Latin-1.
func (l *lexer) str(start Pos) token {
	l.i++ // opening quote
	from := l.i
	var buf []byte
	escaped := false
	for l.i < len(l.src) {
		c := l.src[l.i]
		if c == '"' {
			end := l.i
			l.i++
			if !escaped {
				if utf8.ValidString(l.s[from:end]) {
					return token{kind: tokString, pos: start, text: l.s[from:end]}
				}
				return l.strToken(start, l.src[from:end])
			}
			return l.strToken(start, buf)
		}
		if c == '\\' && l.i+1 < len(l.src) && (l.src[l.i+1] == '"' || l.src[l.i+1] == '\\') {
			if !escaped {
				buf = append(buf, l.src[from:l.i]...)
				escaped = true
			}
			buf = append(buf, l.src[l.i+1])
			l.i += 2
			continue
		}
		if c == '\n' {
			l.line++
			l.bol = l.i + 1
		}
		if escaped {
			buf = append(buf, c)
		}
		l.i++
	}
	return token{kind: tokBad, pos: start, text: "unterminated string"}
}

func (l *lexer) strToken(start Pos, b []byte) token {
	if utf8.Valid(b) {
		return token{kind: tokString, pos: start, text: string(b)}
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c) // Latin-1 maps byte values to the same code points
	}
	return token{kind: tokString, pos: start, text: string(r), latin1: true}
}
