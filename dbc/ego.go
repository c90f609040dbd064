package dbc

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"roadlog/schema"
)

// EgoSignal maps one DBC signal onto one column of ego.arrow.
type EgoSignal struct {
	// Column is an ego column: speed, gear, engine_rpm, wipers, steering_angle,
	// turn_left, turn_right, throttle, brake, brake_pressed, yaw_rate.
	Column string
	// Message is the message name, or its id in decimal or 0x-hex.
	Message string
	// Signal is the signal name; Plus names further signals of the same message
	// whose values are added (Toyota: STEER_ANGLE plus STEER_FRACTION).
	Signal string
	Plus   []string
	// Scale multiplies the physical value; 0 means: convert from the signal's DBC
	// unit to the column's (km/h, kph, mph → m/s; rad → deg; rad/s → deg/s), else 1.
	Scale  float64
	Offset float64 // added after scaling
	Invert bool    // negate, for right-positive steering angles and yaw rates
	// Values maps raw values or VAL_ labels to the column's value, for gear and
	// wipers (names of schema.GearNames / WipersNames) and booleans ("true",
	// "false"). Without it, gear and wipers use the VAL_ label (P, R, N, D, …) and
	// booleans are true when the value is not 0.
	Values map[string]string
}

// ErrEgoMapping reports a mapping that names nothing in the database.
var ErrEgoMapping = errors.New("ego mapping")

type egoBinding struct {
	cfg    EgoSignal
	msg    *Message // the message that carries sig
	sig    *Signal
	plus   []*Signal
	scale  float64
	column string
}

// EgoMapper turns decoded frames into ego rows, sample and hold: each frame that
// updates a mapped signal yields a row with the latest value of every column.
type EgoMapper struct {
	source string
	byMsg  map[*Message][]*egoBinding
	state  schema.Ego
	db     *Database
}

var egoColumns = map[string]bool{"speed": true, "gear": true, "engine_rpm": true, "wipers": true,
	"steering_angle": true, "turn_left": true, "turn_right": true, "throttle": true, "brake": true,
	"brake_pressed": true, "yaw_rate": true}

// NewEgoMapper binds the mappings to db; source names the bus in the rows.
func NewEgoMapper(db *Database, source string, maps []EgoSignal) (*EgoMapper, error) {
	e := &EgoMapper{source: source, byMsg: map[*Message][]*egoBinding{}, db: db}
	e.state = *schema.NewEgo()
	e.state.Source = source
	var errs []error
	for _, m := range maps {
		b, err := e.bind(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.byMsg[b.msg] = append(e.byMsg[b.msg], b)
	}
	return e, errors.Join(errs...)
}

func (e *EgoMapper) bind(m EgoSignal) (*egoBinding, error) {
	if !egoColumns[m.Column] {
		return nil, fmt.Errorf("%w: unknown ego column %q", ErrEgoMapping, m.Column)
	}
	msg := e.db.MessageByName(m.Message)
	if msg == nil {
		if id, err := strconv.ParseUint(m.Message, 0, 32); err == nil {
			msg = e.db.Message(uint32(id), id > maxStdID)
			if msg == nil {
				msg = e.db.Message(uint32(id), true)
			}
		}
	}
	if msg == nil {
		return nil, fmt.Errorf("%w: %s: no message %q in the DBC", ErrEgoMapping, m.Column, m.Message)
	}
	b := &egoBinding{cfg: m, column: m.Column, msg: msg, sig: msg.Signal(m.Signal)}
	if b.sig == nil {
		return nil, fmt.Errorf("%w: %s: message %s has no signal %q", ErrEgoMapping, m.Column, msg.Name, m.Signal)
	}
	for _, p := range m.Plus {
		s := msg.Signal(p)
		if s == nil {
			return nil, fmt.Errorf("%w: %s: message %s has no signal %q", ErrEgoMapping, m.Column, msg.Name, p)
		}
		b.plus = append(b.plus, s)
	}
	b.scale = m.Scale
	if b.scale == 0 {
		b.scale = unitScale(m.Column, b.sig.Unit)
	}
	return b, nil
}

// unitScale converts a DBC unit to the ego column's unit.
func unitScale(column, unit string) float64 {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch column {
	case "speed":
		switch u {
		case "km/h", "kph", "kmh":
			return 1 / 3.6
		case "mph":
			return 0.44704
		}
	case "steering_angle":
		if u == "rad" {
			return 180 / math.Pi
		}
	case "yaw_rate":
		if u == "rad/s" {
			return 180 / math.Pi
		}
	}
	return 1
}

var gearLabels = map[string]schema.Gear{"p": schema.GearPark, "park": schema.GearPark, "r": schema.GearReverse,
	"reverse": schema.GearReverse, "n": schema.GearNeutral, "neutral": schema.GearNeutral, "d": schema.GearDrive,
	"drive": schema.GearDrive, "s": schema.GearSport, "sport": schema.GearSport, "l": schema.GearLow,
	"low": schema.GearLow, "b": schema.GearLow, "m": schema.GearManual, "manual": schema.GearManual}

var wiperLabels = map[string]schema.Wipers{"off": schema.WipersOff, "int": schema.WipersInterval,
	"interval": schema.WipersInterval, "auto": schema.WipersInterval, "low": schema.WipersLow, "lo": schema.WipersLow,
	"slow": schema.WipersLow, "high": schema.WipersHigh, "hi": schema.WipersHigh, "fast": schema.WipersHigh,
	"mist": schema.WipersSingle, "single": schema.WipersSingle}

func lookupName[E ~uint8](names map[E]string, s string) (E, bool) {
	for k, v := range names {
		if v == s {
			return k, true
		}
	}
	return 0, false
}

// Update decodes a frame; it returns a new ego row (owned by the caller) when a
// mapped signal was present, else nil.
func (e *EgoMapper) Update(t int64, id uint32, extended bool, data []byte) *schema.Ego {
	msg := e.db.Message(id, extended)
	bs := e.byMsg[msg]
	if msg == nil || len(bs) == 0 {
		return nil
	}
	updated := false
	for _, b := range bs {
		raw, ok := b.sig.Raw(data)
		if !ok || !b.sig.Active(data) {
			continue
		}
		v := b.sig.Physical(raw)
		for _, p := range b.plus {
			pv, ok := p.Decode(data)
			if !ok {
				continue
			}
			v += pv
		}
		e.apply(b, raw, v)
		updated = true
	}
	if !updated {
		return nil
	}
	row := e.state
	row.T = t
	return &row
}

// apply sets b's column of the held state from the signal's raw and physical value.
func (e *EgoMapper) apply(b *egoBinding, raw uint64, v float64) {
	label, _ := b.sig.Label(raw)
	mapped, hasMap := "", false
	if b.cfg.Values != nil {
		if m, ok := b.cfg.Values[strconv.FormatUint(raw, 10)]; ok {
			mapped, hasMap = m, true
		} else if m, ok := b.cfg.Values[label]; ok && label != "" {
			mapped, hasMap = m, true
		}
	}
	num := float32(v*b.scale + b.cfg.Offset)
	if b.cfg.Invert {
		num = -num
	}
	boolean := func() bool {
		if b.cfg.Values != nil { // a value the map does not name is false
			return hasMap && (mapped == "true" || mapped == "1" || mapped == "on")
		}
		if hasMap {
			return mapped == "true" || mapped == "1" || mapped == "on"
		}
		return v != 0
	}
	s := &e.state
	switch b.column {
	case "speed":
		s.Speed = num
	case "engine_rpm":
		s.EngineRPM = num
	case "steering_angle":
		s.SteeringAngle = num
	case "throttle":
		s.Throttle = num
	case "brake":
		s.Brake = num
	case "yaw_rate":
		s.YawRate = num
	case "turn_left":
		s.TurnLeft = boolean()
	case "turn_right":
		s.TurnRight = boolean()
	case "brake_pressed":
		s.BrakePressed = boolean()
	case "gear":
		g, ok := schema.GearUnknown, false
		if hasMap {
			g, ok = lookupName(schema.GearNames, mapped)
		} else {
			g, ok = gearLabels[strings.ToLower(label)]
		}
		if !ok {
			g = schema.GearUnknown
		}
		s.Gear = g
	case "wipers":
		w, ok := schema.WipersUnknown, false
		if hasMap {
			w, ok = lookupName(schema.WipersNames, mapped)
		} else {
			w, ok = wiperLabels[strings.ToLower(label)]
		}
		if !ok {
			w = schema.WipersUnknown
		}
		s.Wipers = w
	}
}
