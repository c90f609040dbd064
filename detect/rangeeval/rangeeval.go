// Package rangeeval measures monocular ranging on labelled images: it runs a detector
// (or the labelled boxes themselves) on each image, matches detections to labels by
// IoU, ranges the matches with the image's calibration and reports detection recall
// and distance error per distance band, and the median relative distance error for
// cars closer than 40 m.
package rangeeval

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"roadlog/detect/labels"
	"roadlog/detect/obs"
	"roadlog/detect/ranging"
	"roadlog/detect/track"
)

// Detector finds objects in a labelled image.
type Detector func(im *labels.Image) ([]obs.Detection, error)

// GroundTruth is the Detector that reports the labelled boxes: it judges ranging alone.
func GroundTruth(im *labels.Image) ([]obs.Detection, error) { return im.Detections(), nil }

// Bands are the distance bands of the report, m (upper bounds; the last is open).
var Bands = []float64{10, 20, 40, 60, math.Inf(1)}

// MinIoU is the least IoU of a detection matched to a label.
const MinIoU = 0.5

// Row is one labelled object and what became of it.
type Row struct {
	Image    string
	Label    string  // dataset class
	Class    uint16  // COCO class
	True     float64 // m, true near-edge depth
	Detected bool
	IoU      float64
	Est      float64 // m, ranged distance (NaN: not detected or not ranged)
	Sigma    float64 // m, the ranger's 1-sigma
	RelErr   float64 // (Est−True)/True
	Cues     ranging.Cue
}

// Band summarises one distance band.
type Band struct {
	Lo, Hi          float64
	Labelled        int
	Detected        int
	MedianAbsRelErr float64 // over detected and ranged objects (NaN: none)
}

// Report is the outcome of an evaluation.
type Report struct {
	Rows  []Row
	Bands []Band
	// CarsUnder40 is how many cars (COCO car: the datasets' Car, Van, car) closer than
	// 40 m were detected and ranged; CarMedianAbsRelErr their median |relative error|.
	CarsUnder40        int
	CarMedianAbsRelErr float64
	// CarsUnder40Labelled counts every labelled car closer than 40 m, ranged or not
	// (a box cut by two image borders leaves no cue).
	CarsUnder40Labelled int
}

// Evaluate runs det on every image and ranges what it finds.
func Evaluate(images []labels.Image, det Detector, cfg ranging.Config) (Report, error) {
	var rep Report
	for i := range images {
		im := &images[i]
		r, err := ranging.New(im.Calibration, cfg)
		if err != nil {
			return rep, fmt.Errorf("evaluate %s: %w", im.Path, err)
		}
		dets, err := det(im)
		if err != nil {
			return rep, fmt.Errorf("evaluate %s: %w", im.Path, err)
		}
		used := make([]bool, len(dets))
		for _, o := range im.Objects {
			row := Row{Image: im.Path, Label: o.Label, Class: o.Class, True: o.Distance, Est: math.NaN(), Sigma: math.NaN(), RelErr: math.NaN()}
			lb := track.Box{X1: o.X1, Y1: o.Y1, X2: o.X2, Y2: o.Y2}
			best := -1
			for j, d := range dets { // greedy: the unused same-group detection of largest IoU
				if used[j] || !sameGroup(d.Class, o.Class) {
					continue
				}
				iou := track.IoU(lb, track.Box{X1: float64(d.X1), Y1: float64(d.Y1), X2: float64(d.X2), Y2: float64(d.Y2)})
				if iou >= MinIoU && iou > row.IoU {
					best, row.IoU = j, iou
				}
			}
			if best >= 0 {
				used[best] = true
				row.Detected = true
				g := r.Range(dets[best])
				row.Cues = g.Cues
				if g.Cues != 0 {
					row.Est, row.Sigma = g.Distance, g.DistSigma
					row.RelErr = (g.Distance - o.Distance) / o.Distance
				}
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	lo := 0.0
	for _, hi := range Bands {
		b := Band{Lo: lo, Hi: hi}
		var errs []float64
		for _, r := range rep.Rows {
			if r.True < lo || r.True >= hi {
				continue
			}
			b.Labelled++
			if r.Detected {
				b.Detected++
				if !math.IsNaN(r.RelErr) {
					errs = append(errs, math.Abs(r.RelErr))
				}
			}
		}
		b.MedianAbsRelErr = median(errs)
		rep.Bands = append(rep.Bands, b)
		lo = hi
	}
	var cars []float64
	for _, r := range rep.Rows {
		if r.Class != obs.ClassCar || r.True >= 40 {
			continue
		}
		rep.CarsUnder40Labelled++
		if !math.IsNaN(r.RelErr) {
			cars = append(cars, math.Abs(r.RelErr))
		}
	}
	rep.CarsUnder40, rep.CarMedianAbsRelErr = len(cars), median(cars)
	return rep, nil
}

func sameGroup(a, b uint16) bool {
	return a == b || (obs.IsVehicle(a) && obs.IsVehicle(b)) ||
		((a == obs.ClassPerson || a == obs.ClassBicycle) && (b == obs.ClassPerson || b == obs.ClassBicycle))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteTable prints the per-object rows, the bands and the car summary.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "image\tclass\ttrue m\test m\tσ m\terr %\tIoU\tcues\t")
	for _, r := range rep.Rows {
		est, sig, e := "-", "-", "-"
		if !math.IsNaN(r.Est) {
			est, sig, e = fmt.Sprintf("%.1f", r.Est), fmt.Sprintf("%.1f", r.Sigma), fmt.Sprintf("%+.1f", 100*r.RelErr)
		} else if !r.Detected {
			est = "missed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\t%.2f\t%v\t\n", short(r.Image), r.Label, r.True, est, sig, e, r.IoU, r.Cues)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "band m\tlabelled\tdetected\trecall %\tmedian |err| %\t")
	for _, b := range rep.Bands {
		rec := math.NaN()
		if b.Labelled > 0 {
			rec = 100 * float64(b.Detected) / float64(b.Labelled)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t\n", bandName(b), b.Labelled, b.Detected, rec, 100*b.MedianAbsRelErr)
	}
	fmt.Fprintf(tw, "\ncars < 40 m: %d labelled, %d ranged, median |relative distance error| %.1f %%\n",
		rep.CarsUnder40Labelled, rep.CarsUnder40, 100*rep.CarMedianAbsRelErr)
	return tw.Flush()
}

func bandName(b Band) string {
	if math.IsInf(b.Hi, 1) {
		return fmt.Sprintf("≥%.0f", b.Lo)
	}
	return fmt.Sprintf("%.0f–%.0f", b.Lo, b.Hi)
}

func short(p string) string {
	if len(p) > 28 {
		return "…" + p[len(p)-27:]
	}
	return p
}
