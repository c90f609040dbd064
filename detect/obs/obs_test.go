package obs

import "testing"

func TestClasses(t *testing.T) {
	for _, c := range []struct {
		class            uint16
		label            string
		vehicle, roadUse bool
	}{
		{ClassPerson, "person", false, true},
		{ClassBicycle, "bicycle", false, true},
		{ClassCar, "car", true, true},
		{ClassMotorcycle, "motorcycle", true, true},
		{ClassBus, "bus", true, true},
		{ClassTruck, "truck", true, true},
		{ClassTrafficLight, "traffic light", false, false},
		{ClassStopSign, "stop sign", false, false},
		{14, "", false, false}, // bird
	} {
		if ClassLabel(c.class) != c.label || IsVehicle(c.class) != c.vehicle || IsRoadUser(c.class) != c.roadUse {
			t.Errorf("class %d: %q %v %v", c.class, ClassLabel(c.class), IsVehicle(c.class), IsRoadUser(c.class))
		}
	}
	d := Detection{X1: 10, Y1: 20, X2: 40, Y2: 80}
	if d.Width() != 30 || d.Height() != 60 {
		t.Fatalf("size %v×%v", d.Width(), d.Height())
	}
}
