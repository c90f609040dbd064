package dbc

// File is a parsed DBC file. Comments, value descriptions, value types, message
// transmitters and extended-multiplexing ranges are attached to the messages and
// signals they name.
type File struct {
	Name        string
	Version     string
	Nodes       []string
	ValueTables map[string][]ValueDesc
	Messages    []*Message
	Comment     string // network comment (CM_ "…";)
	// Attributes holds the BA_DEF_ definitions by name; their values are on the
	// objects (Message.Attrs, Signal.Attrs) or in NetworkAttrs.
	Attributes   map[string]*AttrDef
	NetworkAttrs map[string]string
	// Warnings lists every deviation from the DBC grammar the parser tolerated.
	Warnings []*Error
}

// Message is a BO_ definition.
type Message struct {
	Pos          Pos
	RawID        uint32 // the id as written (bit 31: extended flag)
	ID           uint32 // the CAN identifier, flag removed
	Extended     bool
	Name         string
	Size         int // bytes (0–64)
	Transmitter  string
	Transmitters []string // BO_TX_BU_
	Signals      []*Signal
	Comment      string
	Attrs        map[string]string
	// FD is set by Compile: the VFrameFormat attribute says *_FD, or Size > 8.
	FD bool
	// Independent marks VECTOR__INDEPENDENT_SIG_MSG, the pseudo-message that holds
	// signals not sent in any frame; it is never decoded.
	Independent bool
}

// MuxKind says what role a signal plays in multiplexing.
type MuxKind uint8

// Multiplexing roles.
const (
	MuxNone        MuxKind = 0 // always present
	MuxSwitch      MuxKind = 1 // "M": the multiplexer
	MuxMultiplexed MuxKind = 2 // "mN": present when its multiplexer has value N
	MuxBoth        MuxKind = 3 // "mNM": multiplexed, and itself a multiplexer (extended multiplexing)
)

// ValueType is SIG_VALTYPE_'s type of a signal's raw value.
type ValueType uint8

// Value types.
const (
	ValueInt     ValueType = 0 // integer (signed or unsigned by the '-'/'+' of SG_)
	ValueFloat32 ValueType = 1 // IEEE 754 single
	ValueFloat64 ValueType = 2 // IEEE 754 double
)

// Signal is an SG_ definition.
type Signal struct {
	Pos       Pos
	Name      string
	Mux       MuxKind
	MuxValue  uint64 // N of "mN"
	Start     int    // start bit as written (Intel: LSB; Motorola: MSB in sawtooth numbering)
	Size      int    // bits
	BigEndian bool   // "@0" (Motorola)
	Signed    bool   // '-'
	Factor    float64
	Offset    float64
	Min, Max  float64
	Unit      string
	Receivers []string
	Type      ValueType
	Values    []ValueDesc // VAL_
	Comment   string
	Attrs     map[string]string
	// MuxSwitch and MuxRanges come from SG_MUL_VAL_ (extended multiplexing): the
	// signal is present when the named multiplexer's raw value is in one of the
	// ranges.
	MuxSwitch string
	MuxRanges []Range

	code sigCode // set by Compile
}

// ValueDesc names one raw value of a signal (VAL_) or value table (VAL_TABLE_).
type ValueDesc struct {
	Value int64
	Name  string
}

// Range is an inclusive range of raw multiplexer values.
type Range struct{ Lo, Hi uint64 }

// AttrDef is a BA_DEF_ attribute definition.
type AttrDef struct {
	Name    string
	Object  string   // "", "BU_", "BO_", "SG_", "EV_" (and BU_SG_REL_ … for BA_DEF_REL_)
	Type    string   // INT, HEX, FLOAT, STRING, ENUM
	Enum    []string // ENUM values
	Default string   // BA_DEF_DEF_
}

// EnumValue returns the name of an ENUM attribute's value as written (an index, or
// already a name), or v itself.
func (a *AttrDef) EnumValue(v string) string {
	if a == nil || a.Type != "ENUM" {
		return v
	}
	n := 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return v
		}
		n = n*10 + int(c-'0')
		if n > len(a.Enum) {
			return v
		}
	}
	if v != "" && n < len(a.Enum) {
		return a.Enum[n]
	}
	return v
}
