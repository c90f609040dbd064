package sim

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sort"
)

// Ground classes of a pixel below the horizon.
const (
	gGrass   = 0
	gAsphalt = 1
	gDashed  = 2
	gSolid   = 3
)

// renderer draws one camera's frames. The ground seen by each pixel is fixed relative
// to the car (the road is straight and the ego keeps its lane), so it is computed once;
// each frame only moves the dashes and draws the actors.
type renderer struct {
	cam     Camera
	horizon int       // first row below the horizon
	class   []uint8   // per pixel below the horizon
	roadX   []float32 // forward distance of the pixel's ground point (for the dash phase)
	img     *image.RGBA
	buf     bytes.Buffer
	quality int
}

func newRenderer(c Camera, quality int) *renderer {
	r := &renderer{cam: c, img: image.NewRGBA(image.Rect(0, 0, c.Width, c.Height)), quality: quality}
	r.horizon = c.Height
	for v := 0; v < c.Height; v++ {
		if _, _, ok := c.ray(float64(c.Width)/2, float64(v)+0.5); ok {
			r.horizon = v
			break
		}
	}
	n := (c.Height - r.horizon) * c.Width
	r.class = make([]uint8, n)
	r.roadX = make([]float32, n)
	for v := r.horizon; v < c.Height; v++ {
		for u := 0; u < c.Width; u++ {
			i := (v-r.horizon)*c.Width + u
			x, y, ok := c.ray(float64(u)+0.5, float64(v)+0.5)
			if !ok || math.Abs(x) > 400 {
				r.class[i] = gGrass
				continue
			}
			r.roadX[i] = float32(x)
			ay := math.Abs(y)
			switch {
			case math.Abs(ay-LaneWidth/2) < 0.08:
				r.class[i] = gDashed
			case math.Abs(ay-1.5*LaneWidth) < 0.1:
				r.class[i] = gSolid
			case ay < 1.5*LaneWidth+0.6:
				r.class[i] = gAsphalt
			default:
				r.class[i] = gGrass
			}
		}
	}
	return r
}

var (
	sky     = color.RGBA{150, 190, 230, 255}
	asphalt = color.RGBA{90, 90, 95, 255}
	grass   = color.RGBA{70, 120, 60, 255}
	marking = color.RGBA{235, 235, 235, 255}
)

// render draws the scene as the camera sees it at world w and returns a JPEG.
func (r *renderer) render(w *World) []byte {
	c := &r.cam
	pix := r.img.Pix
	stride := r.img.Stride
	for v := 0; v < r.horizon; v++ {
		shade := uint8(30 * v / max(r.horizon, 1))
		col := color.RGBA{sky.R - shade, sky.G - shade, sky.B - shade/2, 255}
		fillRow(pix[v*stride:v*stride+c.Width*4], col)
	}
	// Road x of the vehicle origin (front bumper), for the dash phase.
	ox := w.EgoX + EgoLength/2
	for v := r.horizon; v < c.Height; v++ {
		row := pix[v*stride:]
		base := (v - r.horizon) * c.Width
		for u := 0; u < c.Width; u++ {
			var col color.RGBA
			switch r.class[base+u] {
			case gAsphalt:
				col = asphalt
			case gGrass:
				col = grass
			case gSolid:
				col = marking
			case gDashed:
				if math.Mod(ox+float64(r.roadX[base+u]), DashPeriod) < DashLength {
					col = marking
				} else {
					col = asphalt
				}
			}
			p := row[u*4 : u*4+4 : u*4+4]
			p[0], p[1], p[2], p[3] = col.R, col.G, col.B, 255
		}
	}
	// Actors, far to near. Their positions are within the current lap of the scenario,
	// like the ego's Ego.X (EgoX runs on across laps, for the dash phase only).
	ox = w.Ego.X + EgoLength/2
	type drawn struct {
		a     *ActorState
		b     box
		depth float64
	}
	var ds []drawn
	for i := range w.Actors {
		a := &w.Actors[i]
		b, d, ok := c.actorBox(a.X-ox, a.Y, a.Length, a.Width, a.Height)
		if ok {
			ds = append(ds, drawn{a, b, d})
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].depth > ds[j].depth })
	for _, d := range ds {
		r.drawActor(d.a, d.b)
	}
	r.buf.Reset()
	_ = jpeg.Encode(&r.buf, r.img, &jpeg.Options{Quality: r.quality})
	return bytes.Clone(r.buf.Bytes())
}

func (r *renderer) drawActor(a *ActorState, b box) {
	col := color.RGBA{a.Color[0], a.Color[1], a.Color[2], 255}
	dark := color.RGBA{col.R / 3, col.G / 3, col.B / 3, 255}
	r.fill(b, col)
	h, wd := b.y2-b.y1, b.x2-b.x1
	switch a.Kind {
	case 3: // pedestrian: darker legs
		r.fill(box{b.x1, b.y1 + 0.55*h, b.x2, b.y2}, dark)
	default: // vehicle: window band, wheels
		r.fill(box{b.x1 + 0.1*wd, b.y1 + 0.1*h, b.x2 - 0.1*wd, b.y1 + 0.4*h}, dark)
		r.fill(box{b.x1, b.y2 - 0.15*h, b.x1 + 0.22*wd, b.y2}, color.RGBA{20, 20, 20, 255})
		r.fill(box{b.x2 - 0.22*wd, b.y2 - 0.15*h, b.x2, b.y2}, color.RGBA{20, 20, 20, 255})
	}
}

func (r *renderer) fill(b box, col color.RGBA) {
	x1, y1 := max(int(b.x1), 0), max(int(b.y1), 0)
	x2, y2 := min(int(math.Ceil(b.x2)), r.cam.Width), min(int(math.Ceil(b.y2)), r.cam.Height)
	for y := y1; y < y2; y++ {
		fillRow(r.img.Pix[y*r.img.Stride+x1*4:y*r.img.Stride+x2*4], col)
	}
}

func fillRow(p []byte, col color.RGBA) {
	for i := 0; i+3 < len(p); i += 4 {
		p[i], p[i+1], p[i+2], p[i+3] = col.R, col.G, col.B, 255
	}
}
