package schema

import "strconv"

// Every enumeration written to disk has explicit numbers. New meanings get new
// numbers; numbers are never reused. Each enum's names map is written into the
// field metadata of its column.

// FixQuality is the GGA fix quality indicator (NMEA 0183), stored as is.
type FixQuality uint8

// GGA fix qualities.
const (
	FixInvalid   FixQuality = 0
	FixGPS       FixQuality = 1
	FixDGPS      FixQuality = 2
	FixPPS       FixQuality = 3
	FixRTK       FixQuality = 4
	FixFloatRTK  FixQuality = 5
	FixEstimated FixQuality = 6
	FixManual    FixQuality = 7
	FixSimulated FixQuality = 8
)

// FixQualityNames names the FixQuality codes.
var FixQualityNames = map[FixQuality]string{
	0: "invalid", 1: "gps", 2: "dgps", 3: "pps", 4: "rtk", 5: "float_rtk",
	6: "estimated", 7: "manual", 8: "simulated",
}

// FixMode is the GSA/RMC navigation mode.
type FixMode uint8

// Fix modes.
const (
	ModeUnknown FixMode = 0
	ModeNoFix   FixMode = 1
	Mode2D      FixMode = 2
	Mode3D      FixMode = 3
)

// FixModeNames names the FixMode codes.
var FixModeNames = map[FixMode]string{0: "unknown", 1: "no_fix", 2: "2d", 3: "3d"}

// Gear is the ego vehicle's selected gear.
type Gear uint8

// Gears.
const (
	GearUnknown Gear = 0
	GearPark    Gear = 1
	GearReverse Gear = 2
	GearNeutral Gear = 3
	GearDrive   Gear = 4
	GearSport   Gear = 5
	GearLow     Gear = 6
	GearManual  Gear = 7
)

// GearNames names the Gear codes.
var GearNames = map[Gear]string{0: "unknown", 1: "park", 2: "reverse", 3: "neutral", 4: "drive", 5: "sport", 6: "low", 7: "manual"}

// Wipers is the wiper switch state.
type Wipers uint8

// Wiper states.
const (
	WipersUnknown  Wipers = 0
	WipersOff      Wipers = 1
	WipersInterval Wipers = 2
	WipersLow      Wipers = 3
	WipersHigh     Wipers = 4
	WipersSingle   Wipers = 5
)

// WipersNames names the Wipers codes.
var WipersNames = map[Wipers]string{0: "unknown", 1: "off", 2: "interval", 3: "low", 4: "high", 5: "single"}

// Codec is a camera's video codec.
type Codec uint8

// Codecs.
const (
	CodecUnknown Codec = 0
	CodecMJPEG   Codec = 1
	CodecH264    Codec = 2
	CodecH265    Codec = 3
)

// CodecNames names the Codec codes.
var CodecNames = map[Codec]string{0: "unknown", 1: "mjpeg", 2: "h264", 3: "h265"}

func (c Codec) String() string { return name(CodecNames, c) }

// Lane is the lane an object is assigned to, relative to the ego vehicle.
type Lane uint8

// Lanes.
const (
	LaneUnknown Lane = 0
	LaneEgo     Lane = 1
	LaneLeft    Lane = 2
	LaneRight   Lane = 3
	LaneOther   Lane = 4
)

// LaneNames names the Lane codes.
var LaneNames = map[Lane]string{0: "unknown", 1: "ego", 2: "left", 3: "right", 4: "other"}

// Manner is an object's lane-change manner relative to the ego lane.
type Manner uint8

// Manners.
const (
	MannerNone   Manner = 0
	MannerCutIn  Manner = 1
	MannerCutOut Manner = 2
)

// MannerNames names the Manner codes.
var MannerNames = map[Manner]string{0: "none", 1: "cut_in", 2: "cut_out"}

// ActorKind is the kind of a simulated actor.
type ActorKind uint8

// Actor kinds.
const (
	ActorUnknown    ActorKind = 0
	ActorCar        ActorKind = 1
	ActorTruck      ActorKind = 2
	ActorPedestrian ActorKind = 3
	ActorCyclist    ActorKind = 4
)

// ActorKindNames names the ActorKind codes.
var ActorKindNames = map[ActorKind]string{0: "unknown", 1: "car", 2: "truck", 3: "pedestrian", 4: "cyclist"}

// Severity of an event.
type Severity uint8

// Severities.
const (
	SevInfo  Severity = 0
	SevWarn  Severity = 1
	SevError Severity = 2
)

// SeverityNames names the Severity codes.
var SeverityNames = map[Severity]string{0: "info", 1: "warn", 2: "error"}

// SyncState is the state of a clock estimate.
type SyncState uint8

// Sync states.
const (
	SyncUnknown     SyncState = 0
	SyncFreeRun     SyncState = 1
	SyncConverging  SyncState = 2
	SyncLocked      SyncState = 3
	SyncHoldover    SyncState = 4
	SyncPassthrough SyncState = 5
	SyncFault       SyncState = 6
)

// SyncStateNames names the SyncState codes.
var SyncStateNames = map[SyncState]string{0: "unknown", 1: "free_run", 2: "converging", 3: "locked", 4: "holdover", 5: "passthrough", 6: "fault"}

func (s SyncState) String() string { return name(SyncStateNames, s) }

func name[E ~uint8 | ~uint16](names map[E]string, v E) string {
	if n, ok := names[v]; ok {
		return n
	}
	return "code_" + strconv.Itoa(int(v))
}
