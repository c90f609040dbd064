package dbc

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxFileSize caps the DBC files ParseFile reads (the largest public DBC
// files are a few MB).
const DefaultMaxFileSize = 64 << 20

var keywords = map[string]bool{
	"VERSION": true, "NS_": true, "BS_": true, "BU_": true, "VAL_TABLE_": true, "BO_": true, "SG_": true,
	"EV_": true, "ENVVAR_DATA_": true, "CM_": true, "BA_DEF_": true, "BA_DEF_REL_": true, "BA_DEF_DEF_": true,
	"BA_DEF_DEF_REL_": true, "BA_": true, "BA_REL_": true, "VAL_": true, "SIG_VALTYPE_": true, "BO_TX_BU_": true,
	"SG_MUL_VAL_": true, "SIG_GROUP_": true, "SGTYPE_": true, "SIG_TYPE_REF_": true, "CAT_DEF_": true, "CAT_": true,
	"FILTER": true, "BA_DEF_SGTYPE_": true, "BA_SGTYPE_": true, "SGTYPE_VAL_": true, "BU_SG_REL_": true,
	"BU_EV_REL_": true, "BU_BO_REL_": true, "EV_DATA_": true, "SIGTYPE_VALTYPE_": true, "NS_DESC_": true,
}

// Parse parses a DBC file. It always returns a File holding every statement it
// could read; err is an ErrorList when some statement could not be read or used.
// Tolerated deviations are in File.Warnings.
func Parse(name string, src []byte) (*File, error) {
	p := &parser{name: name, f: &File{Name: name, ValueTables: map[string][]ValueDesc{},
		Attributes: map[string]*AttrDef{}, NetworkAttrs: map[string]string{}}}
	lx := newLexer(src)
	p.toks = make([]token, 0, len(src)/3+16)
	for {
		t := lx.next()
		p.toks = append(p.toks, t)
		if t.kind == tokEOF {
			break
		}
	}
	p.file()
	p.resolve()
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return int(a.Pos.Offset - b.Pos.Offset) })
	slices.SortStableFunc(p.f.Warnings, func(a, b *Error) int { return int(a.Pos.Offset - b.Pos.Offset) })
	if len(p.errs) > 0 {
		return p.f, p.errs
	}
	return p.f, nil
}

type parser struct {
	name string
	toks []token
	i    int
	f    *File
	errs ErrorList
	err  *Error // the current statement's first error (sticky)

	msg      *Message          // the BO_ that SG_ lines belong to
	comments []pendingComment  // CM_ on messages and signals, attached in resolve
	vals     []pendingVal      // VAL_
	types    []pendingType     // SIG_VALTYPE_
	txbu     []pendingTx       // BO_TX_BU_
	mulvals  []pendingMulVal   // SG_MUL_VAL_
	attrs    []pendingAttr     // BA_ on messages and signals
	bareMux  map[*Signal]token // signals written with a bare "m"
}

type pendingComment struct {
	at     token
	id     uint32
	signal string // "" for a message comment
	text   string
}

type pendingVal struct {
	at     token
	id     uint32
	signal string
	values []ValueDesc
}

type pendingType struct {
	at     token
	id     uint32
	signal string
	typ    ValueType
}

type pendingTx struct {
	at    token
	id    uint32
	nodes []string
}

type pendingMulVal struct {
	at              token
	id              uint32
	signal, switch_ string
	ranges          []Range
}

type pendingAttr struct {
	at     token
	name   string
	id     uint32
	signal string
	value  string
}

func (p *parser) cur() token { return p.toks[p.i] }
func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) failf(t token, format string, a ...any) {
	if p.err == nil {
		p.err = &Error{File: p.name, Pos: t.pos, Msg: fmt.Sprintf(format, a...), Err: ErrSyntax}
	}
}

func (p *parser) definitionf(t token, format string, a ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Pos: t.pos, Msg: fmt.Sprintf(format, a...), Err: ErrDefinition})
}

func (p *parser) warnf(t token, format string, a ...any) {
	p.f.Warnings = append(p.f.Warnings, &Error{File: p.name, Pos: t.pos, Msg: fmt.Sprintf(format, a...), Err: ErrTolerated})
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokNewline:
		return "end of line"
	case tokString:
		return "string"
	case tokBad:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// skipNewlines skips line ends.
func (p *parser) skipNewlines() {
	for p.cur().kind == tokNewline {
		p.advance()
	}
}

// atStatementStart reports whether the tokens from i on begin a new statement:
// end of file, or line ends followed by a keyword.
func (p *parser) atStatementStart(i int) bool {
	for i < len(p.toks) && p.toks[i].kind == tokNewline {
		i++
	}
	if i >= len(p.toks) || p.toks[i].kind == tokEOF {
		return true
	}
	t := p.toks[i]
	return i > 0 && p.toks[i-1].kind == tokNewline && t.kind == tokWord && keywords[t.text]
}

// recover skips to the next line that starts with a keyword.
func (p *parser) recover() {
	for p.cur().kind != tokEOF {
		if p.cur().kind == tokNewline && p.atStatementStart(p.i) {
			return
		}
		p.advance()
	}
}

func (p *parser) file() {
	for {
		p.skipNewlines()
		t := p.cur()
		if t.kind == tokEOF {
			return
		}
		p.err = nil
		if t.kind != tokWord || !keywords[t.text] {
			p.failf(t, "expected a keyword, found %s", describe(t))
		} else {
			p.statement(t.text)
		}
		if p.err != nil {
			p.errs = append(p.errs, p.err)
			p.err = nil
			p.recover()
		}
	}
}

func (p *parser) statement(kw string) {
	at := p.advance()
	switch kw {
	case "VERSION":
		p.f.Version = p.str()
		p.optionalEnd()
	case "NS_":
		p.punct(':')
		p.newSymbols()
	case "BS_":
		p.skipLine()
	case "BU_":
		p.punct(':')
		p.nodes()
	case "VAL_TABLE_":
		name := p.name_()
		vals := p.valueDescs()
		p.end()
		if p.err == nil {
			p.f.ValueTables[name] = vals
		}
	case "BO_":
		p.message(at)
	case "SG_":
		p.signal(at)
	case "CM_":
		p.comment()
	case "BA_DEF_", "BA_DEF_REL_":
		p.attrDef(kw)
	case "BA_DEF_DEF_", "BA_DEF_DEF_REL_":
		name := p.str()
		v := p.value()
		p.end()
		if d := p.f.Attributes[name]; d != nil && p.err == nil {
			d.Default = v
		}
	case "BA_":
		p.attr()
	case "VAL_":
		p.val()
	case "SIG_VALTYPE_":
		id := p.id()
		sig := p.name_()
		if p.cur().kind == tokPunct && p.cur().p == ':' {
			p.advance()
		}
		nt := p.cur()
		n := p.uint()
		p.end()
		if n > 2 {
			p.failf(nt, "SIG_VALTYPE_ %d is not 0, 1 or 2", n)
		}
		if p.err == nil {
			p.types = append(p.types, pendingType{at: at, id: id, signal: sig, typ: ValueType(n)})
		}
	case "BO_TX_BU_":
		id := p.id()
		p.punct(':')
		var nodes []string
		for p.cur().kind == tokWord || p.cur().kind == tokPunct && p.cur().p == ',' {
			if t := p.advance(); t.kind == tokWord {
				nodes = append(nodes, t.text)
			}
		}
		p.end()
		if p.err == nil {
			p.txbu = append(p.txbu, pendingTx{at: at, id: id, nodes: nodes})
		}
	case "SG_MUL_VAL_":
		p.mulVal(at)
	default:
		// EV_, ENVVAR_DATA_, SIG_GROUP_, BA_REL_, … carry nothing the decoder uses
		p.skipStatement()
	}
}

// end expects the ';' that closes a statement, tolerating its absence at the end
// of a line that is followed by another statement.
func (p *parser) end() {
	if p.err != nil {
		return
	}
	t := p.cur()
	if t.kind == tokPunct && t.p == ';' {
		p.advance()
		p.restOfLine()
		return
	}
	if (t.kind == tokNewline || t.kind == tokEOF) && p.atStatementStart(p.i) {
		p.warnf(t, "missing ';' at the end of the statement")
		return
	}
	p.failf(t, "expected ';', found %s", describe(t))
}

// optionalEnd accepts an optional ';' (VERSION has none).
func (p *parser) optionalEnd() {
	if t := p.cur(); t.kind == tokPunct && t.p == ';' {
		p.advance()
	}
	p.restOfLine()
}

// restOfLine requires the line to end here.
func (p *parser) restOfLine() {
	if p.err != nil {
		return
	}
	if t := p.cur(); t.kind != tokNewline && t.kind != tokEOF {
		if p.atStatementStart(p.i) {
			return
		}
		p.failf(t, "unexpected %s after the statement", describe(t))
	}
}

func (p *parser) skipLine() {
	for p.cur().kind != tokNewline && p.cur().kind != tokEOF {
		p.advance()
	}
}

// skipStatement skips to the ';' of a statement this package does not use.
func (p *parser) skipStatement() {
	for {
		t := p.cur()
		switch {
		case t.kind == tokPunct && t.p == ';':
			p.advance()
			return
		case t.kind == tokEOF || t.kind == tokNewline && p.atStatementStart(p.i):
			p.warnf(t, "missing ';' at the end of the statement")
			return
		}
		p.advance()
	}
}

func (p *parser) punct(c byte) {
	if p.err != nil {
		return
	}
	t := p.cur()
	if t.kind != tokPunct || t.p != c {
		p.failf(t, "expected '%c', found %s", c, describe(t))
		return
	}
	p.advance()
}

func (p *parser) str() string {
	if p.err != nil {
		return ""
	}
	t := p.cur()
	if t.kind != tokString {
		p.failf(t, "expected a quoted string, found %s", describe(t))
		return ""
	}
	p.advance()
	if t.latin1 {
		p.warnf(t, "string is not UTF-8; read as Latin-1")
	}
	return t.text
}

// name_ reads a name: a word, which may start with a digit.
func (p *parser) name_() string {
	if p.err != nil {
		return ""
	}
	t := p.cur()
	switch t.kind {
	case tokWord:
		p.advance()
		if isDigit(t.text[0]) {
			p.warnf(t, "name %q starts with a digit", t.text)
		}
		return t.text
	case tokNumber:
		if strings.IndexFunc(t.text, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			p.advance()
			p.warnf(t, "name %q is all digits", t.text)
			return t.text
		}
	}
	p.failf(t, "expected a name, found %s", describe(t))
	return ""
}

func (p *parser) uint() uint64 {
	if p.err != nil {
		return 0
	}
	t := p.cur()
	if t.kind == tokPunct && t.p == '+' {
		p.advance()
		p.warnf(t, "'+' before an unsigned number")
		t = p.cur()
	}
	if t.kind != tokNumber {
		p.failf(t, "expected an unsigned integer, found %s", describe(t))
		return 0
	}
	v, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil {
		p.failf(t, "expected an unsigned integer, found %q", t.text)
		return 0
	}
	p.advance()
	return v
}

// id reads a message id (32 bits as written, flag bit included).
func (p *parser) id() uint32 {
	t := p.cur()
	v := p.uint()
	if v > math.MaxUint32 {
		p.failf(t, "message id %d does not fit in 32 bits", v)
	}
	return uint32(v)
}

// number reads a signed decimal number; a leading '+' is tolerated.
func (p *parser) number() float64 {
	if p.err != nil {
		return 0
	}
	t := p.cur()
	neg := false
	if t.kind == tokPunct && (t.p == '-' || t.p == '+') {
		if t.p == '+' {
			p.warnf(t, "number written with a leading '+'")
		}
		neg = t.p == '-'
		p.advance()
		t = p.cur()
	}
	if t.kind != tokNumber {
		p.failf(t, "expected a number, found %s", describe(t))
		return 0
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil && !isRangeErr(err) {
		p.failf(t, "expected a number, found %q", t.text)
		return 0
	}
	p.advance()
	if neg {
		v = -v
	}
	return v
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// int64v reads a signed integer (value descriptions), accepting "1.0"-style
// integral floats.
func (p *parser) int64v() int64 {
	t := p.cur()
	v := p.number()
	if p.err == nil && (v != math.Trunc(v) || math.Abs(v) > 1<<63) {
		p.failf(t, "expected an integer, found %v", v)
	}
	return int64(v)
}

// value reads an attribute value: a number or a string, kept as text.
func (p *parser) value() string {
	if p.err != nil {
		return ""
	}
	t := p.cur()
	switch {
	case t.kind == tokString:
		return p.str()
	case t.kind == tokNumber || t.kind == tokPunct && (t.p == '-' || t.p == '+'):
		neg := t.kind == tokPunct && t.p == '-'
		if t.kind == tokPunct {
			p.advance()
		}
		n := p.cur()
		if n.kind != tokNumber {
			p.failf(n, "expected a number, found %s", describe(n))
			return ""
		}
		p.advance()
		if neg {
			return "-" + n.text
		}
		return n.text
	case t.kind == tokWord:
		p.advance()
		return t.text
	}
	p.failf(t, "expected an attribute value, found %s", describe(t))
	return ""
}

func (p *parser) newSymbols() {
	// NS_ lists keywords one per line; the list ends at the first line that holds
	// anything but a single word.
	for {
		i := p.i
		for i < len(p.toks) && p.toks[i].kind == tokNewline {
			i++
		}
		if i+1 >= len(p.toks) || p.toks[i].kind != tokWord ||
			(p.toks[i+1].kind != tokNewline && p.toks[i+1].kind != tokEOF) {
			return
		}
		p.i = i + 1
	}
}

func (p *parser) nodes() {
	for p.err == nil {
		t := p.cur()
		switch {
		case t.kind == tokWord || t.kind == tokNumber:
			p.f.Nodes = append(p.f.Nodes, p.name_())
		case t.kind == tokPunct && t.p == ',':
			p.advance()
		case t.kind == tokPunct && t.p == ';':
			p.advance()
		case t.kind == tokNewline:
			// the list may go on over indented lines of names that are not keywords
			j := p.i
			for j < len(p.toks) && p.toks[j].kind == tokNewline {
				j++
			}
			if n := p.toks[j]; n.kind == tokWord && !keywords[n.text] && n.pos.Col > 1 {
				p.i = j
				continue
			}
			return
		case t.kind == tokEOF:
			return
		default:
			p.failf(t, "expected a node name, found %s", describe(t))
		}
	}
}

func (p *parser) valueDescs() []ValueDesc {
	var out []ValueDesc
	for p.err == nil {
		t := p.cur()
		if t.kind != tokNumber && !(t.kind == tokPunct && (t.p == '-' || t.p == '+')) {
			return out
		}
		v := p.int64v()
		s := p.str()
		out = append(out, ValueDesc{Value: v, Name: s})
		for p.cur().kind == tokNewline && !p.atStatementStart(p.i) {
			p.advance() // value lists split over lines
		}
	}
	return out
}

func (p *parser) message(at token) {
	m := &Message{Pos: at.pos}
	m.RawID = p.id()
	m.Name = p.name_()
	p.punct(':')
	st := p.cur()
	size := p.uint()
	if p.err == nil && size > 64 {
		p.definitionf(st, "message %s is %d bytes long (CAN FD carries 64 at most)", m.Name, size)
		size = 64
	}
	m.Size = int(size)
	if p.err != nil {
		return
	}
	switch t := p.cur(); t.kind {
	case tokWord, tokNumber:
		m.Transmitter = p.name_()
	case tokNewline, tokEOF:
		p.warnf(t, "message %s has no transmitter", m.Name)
	}
	p.restOfLine()
	if p.err != nil {
		return
	}
	p.f.Messages = append(p.f.Messages, m)
	p.msg = m
}

func (p *parser) signal(at token) {
	if p.msg == nil {
		p.failf(at, "SG_ outside a message")
		return
	}
	s := &Signal{Pos: at.pos, Factor: 1}
	s.Name = p.name_()
	if t := p.cur(); t.kind == tokWord && p.err == nil {
		p.advance()
		p.muxIndicator(s, t)
	}
	p.punct(':')
	st := p.cur()
	start := p.uint()
	p.punct('|')
	zt := p.cur()
	size := p.uint()
	p.punct('@')
	ot := p.cur()
	order := p.uint()
	if p.err == nil && order > 1 {
		p.failf(ot, "byte order must be 0 (Motorola) or 1 (Intel), found %d", order)
	}
	sg := p.cur()
	if p.err == nil {
		if sg.kind != tokPunct || sg.p != '+' && sg.p != '-' {
			p.failf(sg, "expected '+' or '-' after the byte order, found %s", describe(sg))
		} else {
			p.advance()
		}
	}
	p.punct('(')
	s.Factor = p.number()
	p.punct(',')
	s.Offset = p.number()
	p.punct(')')
	p.punct('[')
	s.Min = p.number()
	p.punct('|')
	s.Max = p.number()
	p.punct(']')
	s.Unit = p.str()
	for p.err == nil {
		t := p.cur()
		if t.kind == tokWord || t.kind == tokNumber {
			s.Receivers = append(s.Receivers, p.name_())
		} else if t.kind == tokPunct && (t.p == ',' || t.p == ';') {
			p.advance()
		} else {
			break
		}
	}
	p.restOfLine()
	if p.err != nil {
		return
	}
	s.Start, s.Size, s.BigEndian, s.Signed = int(start), int(size), order == 0, sg.p == '-'
	if start > 511 {
		p.definitionf(st, "signal %s starts at bit %d, past 64 bytes", s.Name, start)
		return
	}
	if size == 0 || size > 64 {
		p.definitionf(zt, "signal %s is %d bits wide (1 to 64 can be decoded)", s.Name, size)
		return
	}
	p.msg.Signals = append(p.msg.Signals, s)
}

// muxIndicator reads "M", "mN", "mNM", or a bare "m".
func (p *parser) muxIndicator(s *Signal, t token) {
	w := t.text
	switch {
	case w == "M":
		s.Mux = MuxSwitch
	case w == "m":
		if p.bareMux == nil {
			p.bareMux = map[*Signal]token{}
		}
		p.bareMux[s] = t
		s.Mux = MuxSwitch
	case len(w) > 1 && w[0] == 'm':
		digits := w[1:]
		both := strings.HasSuffix(digits, "M")
		digits = strings.TrimSuffix(digits, "M")
		v, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			p.failf(t, "invalid multiplexer indicator %q", w)
			return
		}
		s.MuxValue = v
		s.Mux = MuxMultiplexed
		if both {
			s.Mux = MuxBoth
		}
	default:
		p.failf(t, "invalid multiplexer indicator %q", w)
	}
}

func (p *parser) comment() {
	t := p.cur()
	switch {
	case t.kind == tokString:
		p.f.Comment = p.str()
	case t.kind == tokNumber:
		p.warnf(t, "CM_ with a message id but no BO_")
		id := p.id()
		p.comments = append(p.comments, pendingComment{at: t, id: id, text: p.str()})
	case t.kind == tokWord && t.text == "BO_":
		p.advance()
		id := p.id()
		p.comments = append(p.comments, pendingComment{at: t, id: id, text: p.str()})
	case t.kind == tokWord && t.text == "SG_":
		p.advance()
		id := p.id()
		if p.err == nil && p.cur().kind == tokString {
			p.warnf(p.cur(), "CM_ SG_ without a signal name: read as a message comment")
			p.comments = append(p.comments, pendingComment{at: t, id: id, text: p.str()})
			break
		}
		sig := p.name_()
		p.comments = append(p.comments, pendingComment{at: t, id: id, signal: sig, text: p.str()})
	case t.kind == tokWord && (t.text == "BU_" || t.text == "EV_"):
		p.advance()
		p.name_()
		p.str()
	default:
		p.failf(t, "expected a string or BU_, BO_, SG_, EV_ after CM_, found %s", describe(t))
	}
	p.end()
}

func (p *parser) attrDef(kw string) {
	d := &AttrDef{}
	if t := p.cur(); t.kind == tokWord {
		d.Object = t.text
		p.advance()
	}
	d.Name = p.str()
	tt := p.cur()
	if p.err == nil && tt.kind != tokWord {
		p.failf(tt, "expected an attribute type, found %s", describe(tt))
	}
	if p.err != nil {
		return
	}
	p.advance()
	d.Type = tt.text
	switch d.Type {
	case "INT", "HEX", "FLOAT":
		if t := p.cur(); t.kind != tokPunct || t.p != ';' {
			p.number()
			p.number()
		}
	case "STRING":
	case "ENUM":
		for p.err == nil {
			t := p.cur()
			if t.kind == tokString {
				d.Enum = append(d.Enum, p.str())
			} else if t.kind == tokPunct && t.p == ',' {
				p.advance()
			} else if t.kind == tokNewline && !p.atStatementStart(p.i) {
				p.advance()
			} else {
				break
			}
		}
	default:
		p.failf(tt, "unknown attribute type %q", d.Type)
	}
	p.end()
	if p.err == nil && kw == "BA_DEF_" {
		p.f.Attributes[d.Name] = d
	}
}

func (p *parser) attr() {
	name := p.str()
	t := p.cur()
	pa := pendingAttr{at: t, name: name}
	network := false
	switch {
	case t.kind == tokWord && t.text == "BO_":
		p.advance()
		pa.id = p.id()
	case t.kind == tokWord && t.text == "SG_":
		p.advance()
		pa.id = p.id()
		pa.signal = p.name_()
	case t.kind == tokWord && (t.text == "BU_" || t.text == "EV_"):
		p.advance()
		p.name_()
		p.value()
		p.end()
		return
	default:
		network = true
	}
	pa.value = p.value()
	p.end()
	if p.err != nil {
		return
	}
	if network {
		p.f.NetworkAttrs[name] = pa.value
		return
	}
	p.attrs = append(p.attrs, pa)
}

func (p *parser) val() {
	t := p.cur()
	if t.kind == tokWord {
		// VAL_ on an environment variable
		p.advance()
		p.valueDescs()
		p.end()
		return
	}
	id := p.id()
	sig := p.name_()
	vals := p.valueDescs()
	p.end()
	if p.err == nil {
		p.vals = append(p.vals, pendingVal{at: t, id: id, signal: sig, values: vals})
	}
}

func (p *parser) mulVal(at token) {
	mv := pendingMulVal{at: at}
	mv.id = p.id()
	mv.signal = p.name_()
	mv.switch_ = p.name_()
	for p.err == nil {
		lo := p.uint()
		p.punct('-')
		hi := p.uint()
		if p.err == nil && hi < lo {
			p.failf(at, "SG_MUL_VAL_ range %d-%d is empty", lo, hi)
		}
		mv.ranges = append(mv.ranges, Range{lo, hi})
		if t := p.cur(); t.kind == tokPunct && t.p == ',' {
			p.advance()
			continue
		}
		break
	}
	p.end()
	if p.err == nil {
		p.mulvals = append(p.mulvals, mv)
	}
}
