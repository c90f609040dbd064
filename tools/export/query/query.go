// Package query is export's label query language: a small boolean expression over
// the fields of one objects row (class, distance, TTC, lane, camera, score, track
// length …) or of one targets row (fcw, aeb, cipv_ttc, cut_in …). Every row of the
// chosen run's table is tested; the rows that match are where clips are cut.
//
// Syntax (keywords and field names are case-insensitive):
//
//	query      = or
//	or         = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | "(" or ")" | comparison
//	comparison = field op value
//	           | field "in" "(" value { "," value } ")"
//	           | field                       (a true/false field alone: fcw)
//	op         = "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
//	value      = number | name | "string" | 'string'
//
// Examples:
//
//	class = car and distance < 30 and ttc < 2.5
//	class in (car, truck, bus) and lane = ego and score >= 0.6
//	camera = front and track_len >= 60
//	fcw or cipv_ttc < 2
//	not (lane = ego) and manner = cut_in
//
// Numbers are plain decimals in the field's unit (m, s, m/s; no unit is written).
// Names are enumeration values (lane = ego), class names (class = car compares the
// label), camera names (camera = front), or true/false. A comparison with a null value
// (a TTC when nothing closes, a distance without ranging) is false, and so is its
// "!="; "not" turns false into true. One query reads one table: object fields and
// target fields cannot be mixed (give each its own query; several queries select the
// union of their clips).
//
// Every error is a *SyntaxError with the byte offset and column of the problem.
package query

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Query is a parsed, checked query.
type Query struct {
	src   string
	root  node
	table Table
	track bool // uses track_len or track_s
	// cameras names the camera names used, with where, until Bind resolves them.
	cams []*cmp
}

// Table returns the table the query runs over.
func (q *Query) Table() Table { return q.table }

// NeedsTracks reports whether the query uses track figures (track_len, track_s), which
// need a pass over the whole objects table before matching.
func (q *Query) NeedsTracks() bool { return q.track }

// Source returns the query as it was written.
func (q *Query) Source() string { return q.src }

// ErrUnbound reports Match on a query whose camera names were not bound.
var ErrUnbound = errors.New("query has camera names that were not bound")

// Bind resolves camera names (camera = front) with the drive's cameras. It returns a
// *SyntaxError at the first name the drive does not have.
func (q *Query) Bind(cameras map[string]uint8) error {
	for _, c := range q.cams {
		for i, v := range c.vals {
			if v.name == "" {
				continue
			}
			idx, ok := cameras[strings.ToLower(v.name)]
			if !ok {
				known := make([]string, 0, len(cameras))
				for n := range cameras {
					known = append(known, n)
				}
				sort.Strings(known)
				return &SyntaxError{Query: q.src, Offset: v.off, Msg: fmt.Sprintf("the drive has no camera %q (it has %s)", v.name, strings.Join(known, ", "))}
			}
			c.vals[i].num, c.vals[i].bound = float64(idx), true
		}
	}
	return nil
}

// Match tests one row. Objects queries read r.Object (and r.Track), targets queries
// r.Target.
func (q *Query) Match(r *Row) bool { return q.root.eval(r) }

// String returns the query in canonical form: lower-case keywords and fields,
// "=" for "==", minimal parentheses. Parse(q.String()) gives the same query.
func (q *Query) String() string {
	var sb strings.Builder
	q.root.write(&sb, 0)
	return sb.String()
}

// node is an expression.
type node interface {
	eval(*Row) bool
	write(sb *strings.Builder, parent int) // parent: precedence of the enclosing operator
}

const (
	precOr  = 1
	precAnd = 2
	precNot = 3
)

type orNode struct{ l, r node }
type andNode struct{ l, r node }
type notNode struct{ x node }

func (n *orNode) eval(r *Row) bool  { return n.l.eval(r) || n.r.eval(r) }
func (n *andNode) eval(r *Row) bool { return n.l.eval(r) && n.r.eval(r) }
func (n *notNode) eval(r *Row) bool { return !n.x.eval(r) }

func paren(sb *strings.Builder, need bool, f func()) {
	if need {
		sb.WriteByte('(')
	}
	f()
	if need {
		sb.WriteByte(')')
	}
}

func (n *orNode) write(sb *strings.Builder, p int) {
	paren(sb, p > precOr, func() {
		n.l.write(sb, precOr)
		sb.WriteString(" or ")
		n.r.write(sb, precOr+1) // right operand: keep the tree's shape
	})
}

func (n *andNode) write(sb *strings.Builder, p int) {
	paren(sb, p > precAnd, func() {
		n.l.write(sb, precAnd)
		sb.WriteString(" and ")
		n.r.write(sb, precAnd+1)
	})
}

func (n *notNode) write(sb *strings.Builder, p int) {
	sb.WriteString("not ")
	n.x.write(sb, precNot)
}

// value is one value of a comparison.
type value struct {
	num   float64 // numbers, codes, bound camera indexes, booleans (0/1)
	text  string  // class names and label strings (lower case for class)
	name  string  // camera name before Bind
	bound bool
	lit   string // as it is written back by String
	off   int
}

// cmp is field op value(s).
type cmp struct {
	f    *field
	op   string // = != < <= > >= in
	vals []value
	bare bool // a boolean field alone
}

func (c *cmp) eval(r *Row) bool {
	switch c.f.kind {
	case kText:
		s := c.f.text(r)
		return c.anyEq(func(v *value) bool { return strings.EqualFold(v.text, s) })
	case kClass:
		code := c.f.num(r)
		label := c.f.text(r)
		return c.anyEq(func(v *value) bool {
			if v.text != "" {
				return strings.EqualFold(v.text, label)
			}
			return v.num == code
		})
	}
	x := c.f.num(r)
	if math.IsNaN(x) {
		return false
	}
	if c.bare {
		return x != 0
	}
	switch c.op {
	case "<":
		return x < c.vals[0].num
	case "<=":
		return x <= c.vals[0].num
	case ">":
		return x > c.vals[0].num
	case ">=":
		return x >= c.vals[0].num
	}
	return c.anyEq(func(v *value) bool {
		if c.f.kind == kCam && v.name != "" && !v.bound {
			return false
		}
		return v.num == x
	})
}

// anyEq applies = / in (any value matches) and != (no value matches).
func (c *cmp) anyEq(eq func(*value) bool) bool {
	hit := false
	for i := range c.vals {
		if eq(&c.vals[i]) {
			hit = true
			break
		}
	}
	if c.op == "!=" {
		return !hit
	}
	return hit
}

func (c *cmp) write(sb *strings.Builder, _ int) {
	sb.WriteString(c.f.name)
	if c.bare {
		return
	}
	if c.op == "in" {
		sb.WriteString(" in (")
		for i, v := range c.vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(v.lit)
		}
		sb.WriteByte(')')
		return
	}
	sb.WriteByte(' ')
	sb.WriteString(c.op)
	sb.WriteByte(' ')
	sb.WriteString(c.vals[0].lit)
}

// Parse parses and checks a query.
func Parse(src string) (*Query, error) {
	if len(src) > MaxLength {
		return nil, &SyntaxError{Query: src[:MaxLength], Offset: MaxLength, Msg: fmt.Sprintf("query longer than %d bytes", MaxLength)}
	}
	p := &parser{lx: lexer{src: src}, q: &Query{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, p.errorf(p.tok.off, "empty query")
	}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		if p.tok.kind == tokRParen {
			return nil, p.errorf(p.tok.off, `unmatched ")"`)
		}
		return nil, p.errorf(p.tok.off, `expected "and", "or" or the end of the query, found %s`, p.tok.describe())
	}
	p.q.root = root
	return p.q, nil
}

type parser struct {
	lx       lexer
	tok      token
	q        *Query
	firstOff int // where the first field was (for the mixed-tables error)
	first    *field
}

func (p *parser) errorf(off int, format string, a ...any) *SyntaxError {
	return &SyntaxError{Query: p.lx.src, Offset: off, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) keyword(w string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, w)
}

func isKeyword(s string) bool {
	switch strings.ToLower(s) {
	case "and", "or", "not", "in":
		return true
	}
	return false
}

func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &orNode{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf(p.tok.off, "nested deeper than %d levels", maxDepth)
	}
	switch {
	case p.keyword("not"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case p.tok.kind == tokLParen:
		open := p.tok.off
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokRParen {
			return nil, p.errorf(p.tok.off, `empty "()"`)
		}
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			if p.tok.kind == tokEOF {
				return nil, p.errorf(open, `"(" is never closed`)
			}
			return nil, p.errorf(p.tok.off, `expected ")", "and" or "or", found %s`, p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return x, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	if p.tok.kind != tokWord || isKeyword(p.tok.text) {
		return nil, p.errorf(p.tok.off, "expected a field name, found %s", p.tok.describe())
	}
	name := strings.ToLower(p.tok.text)
	fOff := p.tok.off
	f, ok := fields[name]
	if !ok {
		if c := closest(name); c != "" {
			return nil, p.errorf(fOff, "unknown field %q (did you mean %s?)", p.tok.text, c)
		}
		return nil, p.errorf(fOff, "unknown field %q", p.tok.text)
	}
	if p.first == nil {
		p.first, p.firstOff, p.q.table = f, fOff, f.table
	} else if f.table != p.q.table {
		return nil, p.errorf(fOff, "%s is a field of %s but the query already reads %s (%s at column %d); give it a query of its own",
			f.name, f.table, p.q.table, p.first.name, (&SyntaxError{Query: p.lx.src, Offset: p.firstOff}).Column())
	}
	if f.name == "track_len" || f.name == "track_s" {
		p.q.track = true
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	c := &cmp{f: f}
	switch {
	case p.tok.kind == tokOp:
		c.op = p.tok.text
		if c.op == "==" {
			c.op = "="
		}
		opOff := p.tok.off
		if c.op != "=" && c.op != "!=" && f.kind != kNum {
			return nil, p.errorf(opOff, "%s cannot be compared with %s (only =, != and in)", f.name, c.op)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		v, err := p.value(f)
		if err != nil {
			return nil, err
		}
		c.vals = []value{v}
	case p.keyword("in"):
		c.op = "in"
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokLParen {
			return nil, p.errorf(p.tok.off, `expected "(" after in, found %s`, p.tok.describe())
		}
		for {
			if err := p.advance(); err != nil {
				return nil, err
			}
			v, err := p.value(f)
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			if p.tok.kind == tokRParen {
				break
			}
			if p.tok.kind != tokComma {
				return nil, p.errorf(p.tok.off, `expected "," or ")" in the list, found %s`, p.tok.describe())
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	default:
		if f.kind != kBool {
			return nil, p.errorf(p.tok.off, "expected a comparison (=, !=, <, <=, >, >=, in) after %s, found %s", f.name, p.tok.describe())
		}
		c.bare = true
	}
	if f.kind == kCam {
		p.q.cams = append(p.q.cams, c)
	}
	return c, nil
}

// value reads one value for field f and checks that it fits.
func (p *parser) value(f *field) (value, error) {
	t := p.tok
	v := value{off: t.off}
	switch t.kind {
	case tokNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(n, 0) {
			return v, p.errorf(t.off, "number %s is out of range", t.text)
		}
		switch f.kind {
		case kEnum, kBool, kText:
			return v, p.errorf(t.off, "%s takes %s, not a number", f.name, f.expect())
		case kClass, kCam:
			if n != math.Trunc(n) || n < 0 || n > 65535 {
				return v, p.errorf(t.off, "%s index must be a whole number 0–65535, not %s", f.name, t.text)
			}
		}
		v.num, v.lit = n, strconv.FormatFloat(n, 'g', -1, 64)
		if f.single {
			v.num = float64(float32(n))
		}
	case tokWord, tokString:
		if t.kind == tokWord && isKeyword(t.text) {
			return v, p.errorf(t.off, "expected a value, found %s", t.describe())
		}
		s := t.text
		v.lit = quoteIfNeeded(s)
		switch f.kind {
		case kNum:
			return v, p.errorf(t.off, "%s takes a number (%s), not %s", f.name, unitOr(f.unit), t.describe())
		case kEnum:
			code, ok := f.codes[strings.ToLower(s)]
			if !ok {
				return v, p.errorf(t.off, "%s has no value %q (it takes %s)", f.name, s, enumNames(f.codes))
			}
			v.num, v.lit = code, strings.ToLower(s)
		case kBool:
			switch strings.ToLower(s) {
			case "true":
				v.num = 1
			case "false":
				v.num = 0
			default:
				return v, p.errorf(t.off, "%s takes true or false, not %s", f.name, t.describe())
			}
			v.lit = strings.ToLower(s)
		case kClass, kText:
			if s == "" {
				return v, p.errorf(t.off, "%s cannot be empty", f.name)
			}
			v.text = s
		case kCam:
			v.name = s
		}
	default:
		return v, p.errorf(t.off, "expected a value for %s (%s), found %s", f.name, f.expect(), t.describe())
	}
	if err := p.advance(); err != nil {
		return v, err
	}
	return v, nil
}

func (f *field) expect() string {
	switch f.kind {
	case kEnum:
		return enumNames(f.codes)
	case kBool:
		return "true or false"
	case kClass:
		return "a class index or name"
	case kCam:
		return "a camera index or name"
	case kText:
		return "a name"
	}
	return "a number, " + unitOr(f.unit)
}

func unitOr(u string) string {
	if u == "" {
		return "no unit"
	}
	return "in " + u
}

func quoteIfNeeded(s string) string {
	plain := s != "" && isLetter(s[0]) && !isKeyword(s)
	for i := 0; plain && i < len(s); i++ {
		plain = isLetter(s[i]) || isDigit(s[i])
	}
	if plain {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
