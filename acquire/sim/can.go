package sim

import (
	_ "embed"
	"fmt"
	"math"

	"go.einride.tech/can"
	"go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/descriptor"

	"roadlog/schema"
)

// DBC is the simulated car's CAN database (testdata/roadlog_sim.dbc). The recorder
// copies it into the drive so that the CAN table can be decoded later.
//
//go:embed testdata/roadlog_sim.dbc
var DBC []byte

// DBCName is the file name the DBC has in a drive's dbc/ folder.
const DBCName = "roadlog_sim.dbc"

// message is one DBC message ready to encode.
type message struct {
	name    string
	id      uint32
	ext     bool
	size    int
	signals map[string]*descriptor.Signal
}

// loadDBC parses the embedded DBC (einride's parser handles this clean file).
func loadDBC() (map[string]*message, error) {
	p := dbc.NewParser(DBCName, DBC)
	if err := p.Parse(); err != nil {
		return nil, fmt.Errorf("parse simulated car DBC: %w", err)
	}
	msgs := map[string]*message{}
	for _, d := range p.Defs() {
		md, ok := d.(*dbc.MessageDef)
		if !ok {
			continue
		}
		m := &message{name: string(md.Name), id: uint32(md.MessageID.ToCAN()), ext: md.MessageID.IsExtended(),
			size: int(md.Size), signals: map[string]*descriptor.Signal{}}
		for _, sd := range md.Signals {
			m.signals[string(sd.Name)] = &descriptor.Signal{Name: string(sd.Name), Start: uint8(sd.StartBit), Length: uint8(sd.Size),
				IsBigEndian: sd.IsBigEndian, IsSigned: sd.IsSigned, Scale: sd.Factor, Offset: sd.Offset}
		}
		msgs[m.name] = m
	}
	return msgs, nil
}

// encode builds a frame of message m from physical signal values.
func (m *message) encode(vals map[string]float64) (data []byte, err error) {
	var d can.Data
	for name, v := range vals {
		s, ok := m.signals[name]
		if !ok {
			return nil, fmt.Errorf("encode %s: no signal %s", m.name, name)
		}
		raw := math.Round((v - s.Offset) / s.Scale)
		if s.IsSigned {
			s.MarshalSigned(&d, s.SaturatedCastSigned(int64(raw)))
		} else {
			if raw < 0 {
				raw = 0
			}
			s.MarshalUnsigned(&d, s.SaturatedCastUnsigned(uint64(raw)))
		}
	}
	return append([]byte(nil), d[:m.size]...), nil
}

// canSchedule lists the simulated car's periodic messages: bus, message, period.
var canSchedule = []struct {
	bus    string
	msg    string
	period int64 // ns
}{
	{"pt", "SPEED", 10e6}, {"pt", "ENGINE", 20e6}, {"pt", "BRAKE", 20e6}, {"pt", "GEAR", 100e6},
	{"chassis", "STEER", 10e6}, {"chassis", "YAW", 10e6}, {"chassis", "BODY", 100e6}, {"chassis", "CRUISE", 100e6},
}

// signals returns the physical values of a message at world w (counter k).
func signals(msg string, w *World, k int64) map[string]float64 {
	e := w.Ego
	kmh := e.V * 3.6
	switch msg {
	case "SPEED":
		return map[string]float64{"VehicleSpeed": kmh, "WheelSpeedAvg": kmh * 1.002, "Counter": float64(k % 16), "Checksum": float64((int64(kmh*100) + k) % 256)}
	case "ENGINE":
		rpm := 800 + e.V*95
		if e.V < 0.1 {
			rpm = 750
		}
		return map[string]float64{"EngineRPM": rpm, "Throttle": e.Thr, "Counter": float64(k % 16)}
	case "BRAKE":
		pressed := 0.0
		if e.Brake > 0 {
			pressed = 1
		}
		return map[string]float64{"BrakePressed": pressed, "BrakePressure": e.Brake, "LongAccel": e.A}
	case "GEAR":
		return map[string]float64{"Gear": 3} // D
	case "STEER":
		return map[string]float64{"SteeringAngle": 0.8 * math.Sin(w.T*0.7), "SteeringRate": 0.56 * math.Cos(w.T*0.7)}
	case "YAW":
		return map[string]float64{"YawRate": 0.02 * math.Sin(w.T*0.7), "LatAccel": 0}
	case "BODY":
		return map[string]float64{"TurnLeft": 0, "TurnRight": 0, "Wipers": 0, "DriverButton": 0}
	case "CRUISE":
		return map[string]float64{"CruiseSpeed": 90, "CruiseActive": 1}
	}
	return nil
}

// egoOf returns the ego row the simulated car's CAN signals describe at world w.
func egoOf(w *World, t int64) *schema.Ego {
	e := w.Ego
	g := schema.NewEgo()
	g.T, g.Source = t, "sim"
	g.Speed = float32(e.V)
	g.Gear = schema.GearDrive
	g.EngineRPM = float32(800 + e.V*95)
	if e.V < 0.1 {
		g.EngineRPM = 750
	}
	g.Wipers = schema.WipersOff
	g.SteeringAngle = float32(0.8 * math.Sin(w.T*0.7))
	g.Throttle = float32(e.Thr)
	g.Brake = float32(e.Brake)
	g.BrakePressed = e.Brake > 0
	g.YawRate = float32(0.02 * math.Sin(w.T*0.7))
	return g
}
