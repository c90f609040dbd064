package detect

import (
	"fmt"
	"io"
)

// ImageResult is what a command reports for one image.
type ImageResult struct {
	Image      string      `json:"image"`
	Width      int         `json:"width"`
	Height     int         `json:"height"`
	Engine     string      `json:"engine"`
	Millis     float64     `json:"ms"` // detection time (pre-processing, network, decoding)
	Detections []Detection `json:"detections"`
}

// WriteText writes the result as a header line and one line per detection.
func (r ImageResult) WriteText(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s (%dx%d): %d detections, %.1f ms on %s\n", r.Image, r.Width, r.Height, len(r.Detections), r.Millis, r.Engine); err != nil {
		return err
	}
	for _, d := range r.Detections {
		if _, err := fmt.Fprintf(w, "  %-14s %.3f  x1=%.1f y1=%.1f x2=%.1f y2=%.1f\n", d.Label, d.Score, d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2); err != nil {
			return err
		}
	}
	return nil
}
