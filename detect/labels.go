package detect

import "roadlog/detect/obs"

// COCO is the 80 COCO class names in the order COCO-trained models number them
// (the order of @vladmandic/human's labels.ts).
var COCO = [80]string{"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
	"fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear",
	"zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
	"kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork",
	"knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
	"chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
	"cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
	"hair drier", "toothbrush"}

// COCO class indices of the road classes: detect/obs's, the one list.
const (
	ClassPerson       = obs.ClassPerson
	ClassBicycle      = obs.ClassBicycle
	ClassCar          = obs.ClassCar
	ClassMotorcycle   = obs.ClassMotorcycle
	ClassBus          = obs.ClassBus
	ClassTruck        = obs.ClassTruck
	ClassTrafficLight = obs.ClassTrafficLight
	ClassStopSign     = obs.ClassStopSign
)

// RoadThresholds are the default per-class score thresholds of the road classes; other
// COCO classes are dropped by default. People and two-wheelers get a lower bar than
// vehicles because missing one costs more than a false alarm.
func RoadThresholds() map[uint16]float32 {
	return map[uint16]float32{
		ClassPerson: 0.2, ClassBicycle: 0.2, ClassMotorcycle: 0.2,
		ClassCar: 0.25, ClassBus: 0.25, ClassTruck: 0.25,
		ClassTrafficLight: 0.3, ClassStopSign: 0.3,
	}
}

// IsVehicle reports whether a COCO class is a vehicle: car, truck, bus, motorcycle. It
// is obs.IsVehicle, the one definition, which the tracker, the range filter and the ADAS
// targets use; a bicycle is a road user but not a vehicle (see obs.IsVehicle).
func IsVehicle(class uint16) bool { return obs.IsVehicle(class) }
