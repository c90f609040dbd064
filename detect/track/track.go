// Package track follows detected objects from frame to frame of one camera: a
// constant-velocity Kalman filter per box and IoU matching solved with the Hungarian
// method, in the ByteTrack manner — high-score detections are matched first, then the
// tracks left over get a second chance against low-score detections, so that an object
// whose score dips (occlusion, blur) keeps its id instead of being dropped and reborn.
package track

import (
	"math"

	"roadlog/detect/obs"
)

// Config tunes a Tracker. The zero value of a field selects its default.
type Config struct {
	HighScore     float32 // detections at or above are matched first (default 0.5)
	LowScore      float32 // detections below are ignored (default 0.1)
	NewTrackScore float32 // an unmatched detection starts a track at or above this (default 0.6)
	MatchIoU      float64 // least IoU of a first-pass match (default 0.2)
	LowMatchIoU   float64 // least IoU of a second-pass (low-score) match (default 0.5)
	NewMatchIoU   float64 // least IoU to confirm a tentative track (default 0.3)
	MinHits       int     // matches before a track is confirmed and reported (default 2)
	MaxSizeRatio  float64 // a match may change the box height by at most this factor (default 1.5)
	MaxLostNS     int64   // a lost track is forgotten after this long unmatched (default 1 s)
	// Box filter noise, as fractions of the box size: measurement σ (default 0.05), and
	// process σ of position (1/√s, default 0.05·√30) and of velocity (1/s per √s,
	// default 0.00625·30·√30) — ByteTrack's per-frame values at 30 Hz, made time-continuous.
	MeasNoise, PosNoise, VelNoise float64
}

func (c Config) withDefaults() Config {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def32 := func(p *float32, v float32) {
		if *p == 0 {
			*p = v
		}
	}
	def32(&c.HighScore, 0.5)
	def32(&c.LowScore, 0.1)
	def32(&c.NewTrackScore, 0.6)
	def(&c.MatchIoU, 0.2)
	def(&c.LowMatchIoU, 0.5)
	def(&c.NewMatchIoU, 0.3)
	def(&c.MaxSizeRatio, 1.5)
	def(&c.MeasNoise, 0.05)
	def(&c.PosNoise, 0.05*math.Sqrt(30))
	def(&c.VelNoise, 0.00625*30*math.Sqrt(30))
	if c.MinHits == 0 {
		c.MinHits = 2
	}
	if c.MaxLostNS == 0 {
		c.MaxLostNS = 1e9
	}
	return c
}

// IDs hands out track ids, starting at 1. Trackers of several cameras share one so
// that an id is unique in the drive. Not safe for concurrent use: the trackers that
// share it run on one goroutine.
type IDs struct{ last int64 }

// Next returns a new id.
func (s *IDs) Next() int64 { s.last++; return s.last }

// State is the life stage of a track.
type State uint8

// Track states.
const (
	Tentative State = 1 // seen, not yet confirmed
	Tracked   State = 2 // confirmed and matched recently
	Lost      State = 3 // confirmed, unmatched in the last frame(s); kept for re-identification
)

// Box is an axis-aligned box in pixels.
type Box struct{ X1, Y1, X2, Y2 float64 }

func boxOf(d *obs.Detection) Box {
	return Box{float64(d.X1), float64(d.Y1), float64(d.X2), float64(d.Y2)}
}

// IoU returns the intersection over union of two boxes.
func IoU(a, b Box) float64 {
	iw := math.Min(a.X2, b.X2) - math.Max(a.X1, b.X1)
	ih := math.Min(a.Y2, b.Y2) - math.Max(a.Y1, b.Y1)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	in := iw * ih
	u := (a.X2-a.X1)*(a.Y2-a.Y1) + (b.X2-b.X1)*(b.Y2-b.Y1) - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// Track is one followed object.
type Track struct {
	ID    int64
	State State
	Class uint16 // class with the most accumulated score
	Label string
	Hits  int   // frames matched
	First int64 // time of the first detection, ns
	Last  int64 // time of the last match, ns
	// Det is the index, in the detections of the last Update, of the detection matched
	// to this track, or -1.
	Det int

	cx, cy, w, h kf2
	votes        [4]classVote
}

type classVote struct {
	class uint16
	label string
	score float32
}

// Box returns the filtered box.
func (t *Track) Box() Box {
	w, h := math.Max(t.w.x, 1), math.Max(t.h.x, 1)
	return Box{t.cx.x - w/2, t.cy.x - h/2, t.cx.x + w/2, t.cy.x + h/2}
}

// Velocity returns the filtered motion of the box centre and size, px/s.
func (t *Track) Velocity() (vx, vy, vw, vh float64) { return t.cx.v, t.cy.v, t.w.v, t.h.v }

func (t *Track) vote(d *obs.Detection) {
	slot := -1
	for i := range t.votes {
		if t.votes[i].score > 0 && t.votes[i].class == d.Class {
			slot = i
			break
		}
	}
	if slot < 0 { // replace the weakest
		slot = 0
		for i := range t.votes {
			if t.votes[i].score < t.votes[slot].score {
				slot = i
			}
		}
		t.votes[slot] = classVote{class: d.Class, label: d.Label}
	}
	t.votes[slot].score += d.Score
	best := 0
	for i := range t.votes {
		if t.votes[i].score > t.votes[best].score {
			best = i
		}
	}
	t.Class, t.Label = t.votes[best].class, t.votes[best].label
}

// ClassGroup puts classes a detector confuses with one another in one group (the
// vehicle classes); matches across groups are not allowed, and the pipeline's fusion
// of cameras joins tracks of one group only.
func ClassGroup(c uint16) int {
	switch {
	case obs.IsVehicle(c):
		return 1
	}
	return 2 + int(c)
}
