// Package obs is the small vocabulary the tracking, ranging and ADAS packages under
// detect/ consume: a detection as a detector reports it for one camera (before
// tracking and ranging) and the COCO class indices the road logic cares about. A
// detector of any kind (the CNN engines, the truth-fed simulator detector) is adapted
// to it. The work lives beside it: track (multi-object tracking), ranging (monocular
// distance from the camera calibration), adas (ego corridor, lanes, CIPV, cut-in,
// FCW/AEB), truthdet (a detector fed from simulator truth) and pipeline (frame sets
// in; objects, targets and events out).
package obs

// Detection is one object found in one camera image by a detector, before tracking.
type Detection struct {
	Camera         uint8   // camera index in the rig
	X1, Y1, X2, Y2 float32 // box, px in the camera image (top-left, bottom-right)
	Class          uint16  // COCO class index (see the Class constants)
	Label          string  // class name
	Score          float32 // confidence, 0..1
	// LoomScale, when LoomFrame > 0, is the object's image scale as the detector
	// reads it (log units, any origin: only its changes along one object's track
	// mean anything), each frame's reading off by LoomFrame (1-sigma, log units; the
	// error changes smoothly from frame to frame, loom.Noise). The truth-fed detector
	// gives it; the pipeline then measures the object's looming as its change since
	// the track's key frame, as it otherwise measures it by aligning the pixels.
	LoomScale, LoomFrame float32
}

// Width returns the box width in pixels.
func (d Detection) Width() float32 { return d.X2 - d.X1 }

// Height returns the box height in pixels.
func (d Detection) Height() float32 { return d.Y2 - d.Y1 }

// COCO class indices of the road classes (the default model's labels).
const (
	ClassPerson       uint16 = 0
	ClassBicycle      uint16 = 1
	ClassCar          uint16 = 2
	ClassMotorcycle   uint16 = 3
	ClassBus          uint16 = 5
	ClassTruck        uint16 = 7
	ClassTrafficLight uint16 = 9
	ClassStopSign     uint16 = 11
)

// ClassLabel returns the COCO name of a road class, or "" for other classes.
func ClassLabel(c uint16) string {
	switch c {
	case ClassPerson:
		return "person"
	case ClassBicycle:
		return "bicycle"
	case ClassCar:
		return "car"
	case ClassMotorcycle:
		return "motorcycle"
	case ClassBus:
		return "bus"
	case ClassTruck:
		return "truck"
	case ClassTrafficLight:
		return "traffic light"
	case ClassStopSign:
		return "stop sign"
	}
	return ""
}

// IsVehicle reports whether c is a motor vehicle class (car, motorcycle, bus, truck).
// It is the one definition of a vehicle in roadlog (detect.IsVehicle is this function):
// the classes that can be the closest in-path vehicle (CIPV), cut in or out, and count
// as traffic ahead; the tracker lets a track change between them; their range filter
// does not start standing still. A bicycle is not one but a road user (IsRoadUser; the
// road users of docs/adas.md are vehicles, people, bicycles): FCW and AEB rest on it,
// it is never the CIPV nor a cut-in, and a track may not change between it and a car. A cyclist is often boxed
// as the person riding (the truth-fed detector reports cyclists so).
func IsVehicle(c uint16) bool {
	return c == ClassCar || c == ClassMotorcycle || c == ClassBus || c == ClassTruck
}

// IsRoadUser reports whether c is a vehicle, a person or a bicycle.
func IsRoadUser(c uint16) bool {
	return IsVehicle(c) || c == ClassPerson || c == ClassBicycle
}
