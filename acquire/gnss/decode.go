package gnss

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	nmea "github.com/adrianmo/go-nmea"
)

// Class is what the Decoder made of one framed sentence.
type Class uint8

// Sentence classes. Every framed sentence gets exactly one.
const (
	ClassStandard    Class = 1 // one of the epoch sentences (RMC GGA GSA GSV VTG ZDA GST GNS GLL), decoded
	ClassOther       Class = 2 // another standard sentence go-nmea decodes (TXT, RMB, VDM…): raw capture only
	ClassChecksum    Class = 3 // the checksum is present and wrong
	ClassNoChecksum  Class = 4 // no "*hh" at all
	ClassTruncated   Class = 5 // cut short: by the framer, or the checksum digits are incomplete
	ClassProprietary Class = 6 // a vendor sentence ($P…), not decoded
	ClassUnknown     Class = 7 // checksum right, a type nothing here decodes
	ClassMalformed   Class = 8 // checksum right, a known type whose fields do not parse
	numClasses             = 9
)

var classNames = [numClasses]string{"", "standard", "other", "checksum", "no_checksum", "truncated",
	"proprietary", "unknown", "malformed"}

func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return "class_" + strconv.Itoa(int(c))
}

// Errors that say why a sentence was not decoded; Sentence.Err wraps one of them.
var (
	ErrChecksum    = errors.New("checksum mismatch")
	ErrNoChecksum  = errors.New("no checksum")
	ErrTruncated   = errors.New("truncated sentence")
	ErrProprietary = errors.New("proprietary sentence")
	ErrUnknown     = errors.New("unknown sentence type")
	ErrMalformed   = errors.New("malformed sentence")
)

// StandardTypes are the sentence types the Merger uses, in the order of Stats.Types.
var StandardTypes = [...]string{"RMC", "GGA", "GSA", "GSV", "VTG", "ZDA", "GST", "GNS", "GLL"}

// standardIndex returns the index of typ in StandardTypes, or -1.
func standardIndex(typ string) int {
	for i, t := range StandardTypes {
		if t == typ {
			return i
		}
	}
	return -1
}

func isStandard(typ string) bool { return standardIndex(typ) >= 0 }

// Sentence is one framed sentence and what the Decoder made of it.
type Sentence struct {
	Raw     string        // the sentence as framed, without line end
	Class   Class         // what it is
	Talker  string        // e.g. "GP", "GN" ("P" for proprietary)
	Type    string        // e.g. "GGA"
	Msg     nmea.Sentence // the decoded sentence (ClassStandard, ClassOther): a go-nmea type, *GST or *GSV
	Lenient bool          // decoded by a lenient fallback after go-nmea refused it
	Err     error         // why it was not decoded (wraps one of the Err… sentinels)
}

// Decoder checks and decodes framed sentences. The zero value is ready to use; a
// Decoder is not safe for concurrent use.
type Decoder struct {
	// AcceptNoChecksum decodes sentences that carry no "*hh" (some old receivers and
	// gpsd's test logs). Off by default: without a checksum a sentence cut by a lost
	// byte cannot be told from a whole one.
	AcceptNoChecksum bool

	parser *nmea.SentenceParser
}

func (d *Decoder) init() {
	if d.parser != nil {
		return
	}
	d.parser = &nmea.SentenceParser{
		CustomParsers: map[string]nmea.ParserFunc{TypeGST: parseGST, TypeGSV: parseGSV},
		// The checksum has been checked (or deliberately waived) before go-nmea sees it.
		CheckCRC: func(nmea.BaseSentence, string) error { return nil },
	}
}

// Decode classifies and decodes one sentence as the Framer delivered it.
func (d *Decoder) Decode(line []byte, cut Cut) Sentence {
	d.init()
	s := Sentence{Raw: string(line)}
	text := strings.TrimRight(s.Raw, " \t")
	if len(text) < 2 || (text[0] != '$' && text[0] != '!') {
		s.Class, s.Err = ClassTruncated, fmt.Errorf("%w: %q is no sentence", ErrTruncated, text)
		return s
	}
	if cut != CutNone {
		s.Class, s.Err = ClassTruncated, fmt.Errorf("%w (%s)", ErrTruncated, cutNames[cut])
		s.Talker, s.Type = prefixOf(text, len(text))
		return s
	}
	star := strings.LastIndexByte(text, '*')
	body := len(text)
	if star >= 0 {
		body = star
	}
	s.Talker, s.Type = prefixOf(text, body)
	switch {
	case star < 0 && !d.AcceptNoChecksum:
		s.Class, s.Err = ClassNoChecksum, ErrNoChecksum
		return s
	case star >= 0 && len(text)-star-1 < 2:
		s.Class, s.Err = ClassTruncated, fmt.Errorf("%w: checksum %q incomplete", ErrTruncated, text[star:])
		return s
	case star >= 0:
		want, err := strconv.ParseUint(text[star+1:], 16, 8)
		if got := checksum(text[1:star]); err != nil || uint8(want) != got {
			s.Class, s.Err = ClassChecksum, fmt.Errorf("%w: %q, computed %02X", ErrChecksum, text[star+1:], got)
			return s
		}
	}
	if text[0] == '$' && strings.HasPrefix(text[1:], "P") {
		s.Class, s.Err = ClassProprietary, ErrProprietary
		return s
	}
	if star < 0 {
		text += "*" // go-nmea splits fields up to '*'; the checksum itself is waived
	}
	msg, err := safeParse(d.parser, text)
	if err == nil {
		s.Msg = msg
		s.Class = ClassOther
		if isStandard(s.Type) {
			s.Class = ClassStandard
		}
		return s
	}
	if _, ok := err.(*nmea.NotSupportedError); ok {
		s.Class, s.Err = ClassUnknown, fmt.Errorf("%w: %s", ErrUnknown, s.Talker+s.Type)
		return s
	}
	if isStandard(s.Type) {
		if m, err := safeParse(lenientParser, text); err == nil {
			s.Msg, s.Class, s.Lenient = m, ClassStandard, true
			return s
		}
	}
	s.Class, s.Err = ClassMalformed, fmt.Errorf("%w: %w", ErrMalformed, err)
	return s
}

// ErrParserPanic reports a sentence on which go-nmea panicked (v1.10.0 does so on a
// TXT sentence with fewer than three fields, for one).
var ErrParserPanic = errors.New("go-nmea panicked")

// safeParse runs a go-nmea parser, turning a panic inside it into an error: a
// receiver's bytes must never stop the recording.
func safeParse(p *nmea.SentenceParser, text string) (m nmea.Sentence, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: %v", ErrParserPanic, r)
		}
	}()
	return p.Parse(text)
}

var cutNames = [...]string{CutNone: "complete", CutRestart: "a new sentence began inside it",
	CutBinary: "binary byte inside it", CutOverlong: "longer than the line limit", CutEOF: "input ended inside it"}

// prefixOf splits the address field of a sentence into talker and type as go-nmea
// does ("P" + rest for proprietary sentences).
func prefixOf(text string, end int) (talker, typ string) {
	if len(text) < 2 {
		return "", ""
	}
	addr := text[1:end]
	if i := strings.IndexByte(addr, ','); i >= 0 {
		addr = addr[:i]
	}
	if addr == "" {
		return "", ""
	}
	t, ty, err := nmea.ParsePrefix(addr)
	if err != nil {
		return "", addr
	}
	return t, ty
}

func checksum(s string) uint8 {
	var c uint8
	for i := 0; i < len(s); i++ {
		c ^= s[i]
	}
	return c
}
