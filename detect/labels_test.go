package detect_test

import (
	"testing"

	"roadlog/detect"
	"roadlog/detect/obs"
)

// TestRoadClasses holds the detector's class vocabulary (detect) to the one the
// tracker, ranging and ADAS targets use (detect/obs): the same indices and names, the
// same vehicles (car, truck, bus, motorcycle; a bicycle is a road user, not a
// vehicle), and a default threshold for every road user, so the detector keeps what
// the ADAS logic counts on.
func TestRoadClasses(t *testing.T) {
	for _, c := range []struct {
		name              string
		vehicle, roadUser bool
	}{
		{"car", true, true},
		{"truck", true, true},
		{"bus", true, true},
		{"motorcycle", true, true},
		{"bicycle", false, true},
		{"person", false, true},
		{"traffic light", false, false},
		{"stop sign", false, false},
		{"train", false, false},
		{"horse", false, false},
	} {
		class := -1
		for i, n := range detect.COCO {
			if n == c.name {
				class = i
			}
		}
		if class < 0 {
			t.Fatalf("%s is not a COCO class", c.name)
		}
		k := uint16(class)
		if detect.IsVehicle(k) != c.vehicle || obs.IsVehicle(k) != c.vehicle || obs.IsRoadUser(k) != c.roadUser {
			t.Errorf("%s (%d): detect.IsVehicle %v, obs.IsVehicle %v, obs.IsRoadUser %v; want vehicle %v, road user %v",
				c.name, k, detect.IsVehicle(k), obs.IsVehicle(k), obs.IsRoadUser(k), c.vehicle, c.roadUser)
		}
	}
	th := detect.RoadThresholds()
	for i, name := range detect.COCO {
		k := uint16(i)
		if detect.IsVehicle(k) != obs.IsVehicle(k) {
			t.Errorf("%s (%d): detect.IsVehicle %v, obs.IsVehicle %v", name, k, detect.IsVehicle(k), obs.IsVehicle(k))
		}
		if l := obs.ClassLabel(k); l != "" && l != name {
			t.Errorf("class %d is %q in detect.COCO, %q in obs", k, name, l)
		}
		if _, ok := th[k]; obs.IsRoadUser(k) && !ok {
			t.Errorf("%s (%d) is a road user without a default threshold: the detector drops it", name, k)
		}
	}
}
