package dbc

import (
	"errors"
	"math"
	"testing"

	"roadlog/schema"
)

const egoDBC = `VERSION ""
BU_: A
BO_ 100 Car: 8 A
 SG_ Speed : 0|16@1+ (0.01,0) [0|655] "mph" A
 SG_ Gear : 16|3@1+ (1,0) [0|7] "" A
 SG_ Wiper : 19|2@1+ (1,0) [0|3] "" A
 SG_ Blinker : 21|2@1+ (1,0) [0|3] "" A
 SG_ Steer : 24|16@1- (0.001,0) [-10|10] "rad" A
BO_ 101 Engine: 8 A
 SG_ RPM : 0|16@1+ (1,0) [0|8000] "rpm" A
VAL_ 100 Gear 0 "P" 1 "R" 2 "N" 3 "D" ;
VAL_ 100 Wiper 0 "OFF" 1 "INT" 2 "LO" 3 "HI" ;
`

func TestEgoMapper(t *testing.T) {
	db := compileText(t, egoDBC)
	e, err := NewEgoMapper(db, "pt", []EgoSignal{
		{Column: "speed", Message: "Car", Signal: "Speed"},
		{Column: "gear", Message: "Car", Signal: "Gear"},
		{Column: "wipers", Message: "Car", Signal: "Wiper"},
		{Column: "turn_left", Message: "Car", Signal: "Blinker", Values: map[string]string{"1": "true", "3": "true"}},
		{Column: "turn_right", Message: "Car", Signal: "Blinker", Values: map[string]string{"2": "true", "3": "true"}},
		{Column: "steering_angle", Message: "100", Signal: "Steer", Invert: true},
		{Column: "engine_rpm", Message: "0x65", Signal: "RPM"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Update(1, 0x300, false, []byte{1}); r != nil {
		t.Fatalf("unknown id gave a row: %+v", r)
	}
	// 100.00 mph, gear D, wipers LO, left blinker, steer 0.5 rad (right-positive in the car)
	r := e.Update(10, 100, false, []byte{0x10, 0x27, 3 | 2<<3 | 1<<5, 0xf4, 0x01, 0, 0, 0})
	if r == nil || r.T != 10 || r.Source != "pt" || math.Abs(float64(r.Speed)-44.704) > 1e-4 || r.Gear != schema.GearDrive ||
		r.Wipers != schema.WipersLow || !r.TurnLeft || r.TurnRight || math.Abs(float64(r.SteeringAngle)+0.5*180/math.Pi) > 1e-3 ||
		r.EngineRPM == r.EngineRPM {
		t.Fatalf("row %+v", r)
	}
	r2 := e.Update(20, 101, false, []byte{0xe8, 0x03})
	if r2 == nil || r2.EngineRPM != 1000 || r2.Speed != r.Speed || r2.Gear != schema.GearDrive {
		t.Fatalf("sample and hold: %+v", r2)
	}
	if r.EngineRPM == r.EngineRPM {
		t.Fatal("an earlier row changed after it was returned")
	}
	if r := e.Update(30, 100, false, []byte{1}); r != nil {
		t.Fatalf("short payload gave a row: %+v", r)
	}
	_, err = NewEgoMapper(db, "pt", []EgoSignal{{Column: "speed", Message: "Nope", Signal: "x"}, {Column: "warp", Message: "Car", Signal: "Speed"},
		{Column: "speed", Message: "Car", Signal: "Nope"}})
	if !errors.Is(err, ErrEgoMapping) {
		t.Fatalf("bad mappings: %v", err)
	}
}
