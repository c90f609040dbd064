// Package frameset assigns hardware-triggered camera frames to their trigger and
// gathers the frames of one trigger from every camera into a frame set.
//
// The trigger model is the rig's: a trigger line derived from GNSS PPS fires Rate
// times a second, the first Phase after every UTC second, so trigger ids are global:
// id = second·Rate + index within the second, the same in every drive and segment.
// A frame is assigned by its camera's sequence counter (id = seq + k, k learnt per
// camera), checked against its time stamp (minus the camera's learnt latency): the
// counter bridges dropped frames and reordering, the time stamp catches missed
// triggers and camera restarts that reset the counter. Frames never pick a trigger by
// nearest arrival alone.
package frameset

import "time"

// Trigger is the trigger model: Rate triggers a second, the first Phase after each
// UTC second.
type Trigger struct {
	Rate  int           // triggers per second (e.g. 10, 15, 20, 25, 30, 60)
	Phase time.Duration // from each UTC second to its first trigger, in [0, 1 s)
}

// Period returns the nominal time between triggers, ns.
func (tr Trigger) Period() int64 { return int64(time.Second) / int64(tr.rate()) }

func (tr Trigger) rate() int64 {
	if tr.Rate <= 0 {
		return 1
	}
	return int64(tr.Rate)
}

// Time returns the instant of trigger id on the reference timebase (ns since the epoch).
func (tr Trigger) Time(id int64) int64 {
	r := tr.rate()
	s := floorDiv(id, r)
	j := id - s*r
	return s*int64(time.Second) + int64(tr.Phase) + j*int64(time.Second)/r
}

// Nearest returns the trigger nearest to t and t minus its instant.
func (tr Trigger) Nearest(t int64) (id, off int64) {
	r := tr.rate()
	rel := t - int64(tr.Phase)
	s := floorDiv(rel, int64(time.Second))
	rem := rel - s*int64(time.Second)
	j := (rem*r + int64(time.Second)/2) / int64(time.Second)
	id = s*r + j
	return id, t - tr.Time(id)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
