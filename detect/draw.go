package detect

import (
	"image"
	"image/color"
	"image/draw"
)

// classColor is the box colour of a class: vehicles red/orange/magenta, people green,
// two-wheelers cyan/blue, everything else yellow.
func classColor(class uint16) color.RGBA {
	switch class {
	case ClassCar:
		return color.RGBA{255, 0, 0, 255}
	case ClassTruck:
		return color.RGBA{255, 128, 0, 255}
	case ClassBus:
		return color.RGBA{255, 0, 255, 255}
	case ClassPerson:
		return color.RGBA{0, 255, 0, 255}
	case ClassBicycle:
		return color.RGBA{0, 255, 255, 255}
	case ClassMotorcycle:
		return color.RGBA{0, 128, 255, 255}
	}
	return color.RGBA{255, 255, 0, 255}
}

// Annotate returns a copy of img with every detection's box drawn, thickness px wide.
func Annotate(img image.Image, dets []Detection, thickness int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	thickness = max(thickness, 1)
	for _, d := range dets {
		c := image.NewUniform(classColor(d.Class))
		r := image.Rect(int(d.Box.X1), int(d.Box.Y1), int(d.Box.X2), int(d.Box.Y2)).Canon()
		for _, edge := range []image.Rectangle{
			image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+thickness),
			image.Rect(r.Min.X, r.Max.Y-thickness, r.Max.X, r.Max.Y),
			image.Rect(r.Min.X, r.Min.Y, r.Min.X+thickness, r.Max.Y),
			image.Rect(r.Max.X-thickness, r.Min.Y, r.Max.X, r.Max.Y),
		} {
			draw.Draw(out, edge.Intersect(out.Bounds()), c, image.Point{}, draw.Src)
		}
	}
	return out
}
