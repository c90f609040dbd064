package gnss

import (
	"errors"
	"testing"

	"roadlog/rig"
)

func TestFromRig(t *testing.T) {
	r, err := rig.Load("../../examples/gnss-serial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := FromRig(r.GNSS[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if ser, ok := s.(*Serial); !ok || ser.Port != "/dev/ttyACM0" || ser.Baud != 115200 || !ser.Raw || ser.Name != "ublox" {
		t.Errorf("%#v", s)
	}
	for kind, want := range map[rig.GNSSKind]string{rig.GNSSTCP: "*gnss.TCP", rig.GNSSUDP: "*gnss.UDP", rig.GNSSGPSD: "*gnss.GPSD"} {
		s, err := FromRig(rig.GNSS{Name: "x", Kind: kind, URL: "localhost:1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := typeName(s); got != want {
			t.Errorf("%s: %s, want %s", kind, got, want)
		}
	}
	if _, err := FromRig(rig.GNSS{Kind: "usb"}, nil); !errors.Is(err, rig.ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
}

func typeName(s Source) string {
	switch s.(type) {
	case *TCP:
		return "*gnss.TCP"
	case *UDP:
		return "*gnss.UDP"
	case *GPSD:
		return "*gnss.GPSD"
	case *Serial:
		return "*gnss.Serial"
	}
	return "?"
}
