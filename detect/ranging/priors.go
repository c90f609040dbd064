package ranging

import "roadlog/detect/obs"

// SizePrior is the typical size of a class of objects, m, and how much it varies
// (1-sigma). Width is across the object seen from behind or ahead, Length along its
// direction of travel (used for the side face a vehicle shows when it is off the
// camera axis).
type SizePrior struct {
	Width, WidthSigma   float64
	Height, HeightSigma float64
	Length              float64
}

// DefaultPriors returns size priors for the road classes (COCO indices): European and
// North-American fleet averages; the sigmas cover the spread between a small hatchback
// and a large SUV, a city bus and a coach, a child and an adult. A person's box width
// depends on pose and gait, hence its large sigma.
func DefaultPriors() map[uint16]SizePrior {
	return map[uint16]SizePrior{
		obs.ClassCar:        {Width: 1.80, WidthSigma: 0.12, Height: 1.52, HeightSigma: 0.15, Length: 4.4},
		obs.ClassTruck:      {Width: 2.45, WidthSigma: 0.20, Height: 3.0, HeightSigma: 0.7, Length: 8.0},
		obs.ClassBus:        {Width: 2.55, WidthSigma: 0.10, Height: 3.1, HeightSigma: 0.3, Length: 12.0},
		obs.ClassMotorcycle: {Width: 0.80, WidthSigma: 0.20, Height: 1.40, HeightSigma: 0.20, Length: 2.1},
		obs.ClassBicycle:    {Width: 0.60, WidthSigma: 0.25, Height: 1.05, HeightSigma: 0.15, Length: 1.75},
		obs.ClassPerson:     {Width: 0.55, WidthSigma: 0.20, Height: 1.70, HeightSigma: 0.10, Length: 0.5},
	}
}
