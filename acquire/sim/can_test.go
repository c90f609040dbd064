package sim

import "testing"

func TestDBCEncodesAsDeclared(t *testing.T) {
	msgs, err := loadDBC()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 8 {
		t.Fatalf("%d messages", len(msgs))
	}
	// Little-endian unsigned with scale: 100 km/h = 10000 raw = 0x2710.
	d, err := msgs["SPEED"].encode(map[string]float64{"VehicleSpeed": 100})
	if err != nil || d[0] != 0x10 || d[1] != 0x27 {
		t.Fatalf("SPEED % x %v", d, err)
	}
	// Big-endian (Motorola) signed, start bit 7: -12.3 deg = -123 raw = 0xFF85 in bytes 0,1.
	d, err = msgs["STEER"].encode(map[string]float64{"SteeringAngle": -12.3})
	if err != nil || d[0] != 0xFF || d[1] != 0x85 {
		t.Fatalf("STEER % x %v", d, err)
	}
	if m := msgs["CRUISE"]; !m.ext || m.id != 0x18FEF100 {
		t.Fatalf("CRUISE id %#x ext %v", m.id, m.ext)
	}
	if m := msgs["GEAR"]; m.size != 2 {
		t.Fatalf("GEAR size %d", m.size)
	}
}
