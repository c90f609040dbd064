package pipeline

import (
	"cmp"
	"math"
	"slices"

	"roadlog/schema"
)

// member is one tracked, ranged object of a frame set, as the fusion of cameras sees
// it.
type member struct {
	row   *schema.Object
	id    int64 // track id
	cam   uint8
	group int     // class group: vehicles together, other classes each apart
	near  float64 // x of the near edge, m (a sideways camera's centre less half the length)
	lat   float64 // lateral offset, m
	v, sd float64 // the track's relative speed and its 1-sigma, m/s
	ttc   float64 // the track's own TTC, s (NaN: not closing)
	// acc, accSd: the object's own acceleration and its 1-sigma, m/s² (the ADAS
	// input's ObjAccel)
	acc, accSd float64
	cut        bool // the image border cuts its box
	// fused: the member's group in this frame set (its own index when alone); cams:
	// at a group's first member, the group's cameras
	fused int
	cams  camSet
}

// camSet is a set of camera indices.
type camSet [4]uint64

func (c *camSet) add(cam uint8)        { c[cam/64] |= 1 << (cam % 64) }
func (c *camSet) join(o *camSet)       { c[0], c[1], c[2], c[3] = c[0]|o[0], c[1]|o[1], c[2]|o[2], c[3]|o[3] }
func (c *camSet) meets(o *camSet) bool { return c[0]&o[0]|c[1]&o[1]|c[2]&o[2]|c[3]&o[3] != 0 }

// cand is a pair of members within the gate, d apart (gateDist).
type cand struct {
	i, j int
	d    float64
}

// fuseLinkAge: a pair of tracks linked in the last this many ns stays linked within
// twice the gate, so that an object's figures do not hop between one camera's and the
// fused ones while it sits at the edge of the gate.
const fuseLinkAge = 0.5e9

// fuse joins the tracks of one object seen by several cameras (overlapping fields of
// view: a narrow and a wide front camera, a front and a corner camera) and gives
// each of them the object's relative speed, its 1-sigma and its TTC from all of them.
//
// Two tracks of different cameras are of one object when their classes agree (the
// vehicle classes count as one) and their near edges lie within 10 % (at least
// 1.5 m) of each other and their lateral offsets within 1 m (gateDist, the gate the
// ADAS dedup uses too) — joined closest first, one track per camera in an object. The
// speed is the tracks' average weighted by the inverse of their variance, and so is
// the TTC (over the tracks that have one; none when the fused speed is not closing),
// and, for the ADAS input, the object's own acceleration (by the inverse of its
// variance): a corner camera's looming of a person at a slant leans on the lateral
// filter and is weak, the front camera's of the same person is strong, and two front
// cameras' errors are independent, so the average is better than either. The
// 1-sigma is that of the weighted average as if the tracks' errors were independent:
// their lag behind a change of the object's motion is common to them, so it is too
// small then. A track whose box the image border cuts is left out of the average
// while one of the object's tracks is whole (of the TTC's, while one of those with
// a TTC is whole: a rear corner camera's whole box does not stand in for the rear
// camera's cut one there). Each track keeps its own distance, lateral offset and
// width: those are each camera's geometry. It runs after dedup, which picks an
// object's ADAS input on its tracks' own figures, and gives the input it kept the
// fused ones.
func (p *Pipeline) fuse(t int64) {
	ms := p.members
	if len(ms) < 2 {
		return
	}
	cands := p.cands[:0]
	defer func() { p.cands = cands }()
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			a, b := &ms[i], &ms[j]
			if a.cam == b.cam || a.group != b.group {
				continue
			}
			key := [2]int64{min(a.id, b.id), max(a.id, b.id)}
			gate := 1.0
			if seen, ok := p.links[key]; ok && t-seen <= fuseLinkAge {
				gate = 2
			}
			if d := gateDist(a.near, a.lat, b.near, b.lat); d < gate {
				cands = append(cands, cand{i, j, d})
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	for i := range ms {
		ms[i].fused = i
		ms[i].cams = camSet{}
		ms[i].cams.add(ms[i].cam)
	}
	root := func(i int) int {
		for ms[i].fused != i {
			i = ms[i].fused
		}
		return i
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
	for _, c := range cands {
		ri, rj := root(c.i), root(c.j)
		if ri == rj || ms[ri].cams.meets(&ms[rj].cams) {
			continue // one object, or a camera in both
		}
		ms[rj].fused = ri
		ms[ri].cams.join(&ms[rj].cams)
		p.links[[2]int64{min(ms[c.i].id, ms[c.j].id), max(ms[c.i].id, ms[c.j].id)}] = t
	}
	for i := range ms {
		ms[i].fused = root(i)
	}
	for r := range ms {
		if ms[r].fused != r {
			continue
		}
		n, whole, wholeT := 0, false, false // members; one whole; one whole with a TTC
		for i := range ms {
			if ms[i].fused == r {
				n++
				whole = whole || !ms[i].cut
				wholeT = wholeT || !ms[i].cut && !math.IsNaN(ms[i].ttc)
			}
		}
		if n < 2 {
			continue
		}
		var sw, sv, swT, svT, sT, swA, sA float64
		for i := range ms {
			m := &ms[i]
			if m.fused != r || !(m.sd > 0) || math.IsNaN(m.v) {
				continue
			}
			w := 1 / (m.sd * m.sd)
			if !math.IsNaN(m.ttc) && !(m.cut && wholeT) {
				swT += w
				svT += w * m.v
				sT += w * m.ttc
			}
			if m.cut && whole {
				continue
			}
			sw += w
			sv += w * m.v
			if m.accSd > 0 && !math.IsNaN(m.acc) {
				wa := 1 / (m.accSd * m.accSd)
				swA += wa
				sA += wa * m.acc
			}
		}
		if sw == 0 {
			continue
		}
		v, sd, ttc := sv/sw, 1/math.Sqrt(sw), math.NaN()
		// The TTC is averaged over the tracks that give one: a camera looking across
		// the road gives none for an object behind the ego, nor does a track that does
		// not see the object closing. There is none when the fused speed is not
		// closing in the direction of those tracks.
		if swT > 0 && v*(svT/swT) > 0 && math.Abs(v) > p.cfg.MinClosing {
			ttc = sT / swT
		}
		acc, accSd := math.NaN(), math.NaN()
		if swA > 0 {
			acc, accSd = sA/swA, 1/math.Sqrt(swA)
		}
		for i := range ms {
			m := &ms[i]
			if m.fused != r {
				continue
			}
			m.row.RelSpeed, m.row.RelSpeedStd, m.row.TTC = float32(v), float32(sd), float32(ttc)
			for k := range p.adasIn { // the member's ADAS input, if dedup kept it
				if in := &p.adasIn[k]; in.TrackID == m.id {
					in.RelSpeed, in.RelSpeedStd, in.TTC = v, sd, ttc
					if swA > 0 {
						in.ObjAccel, in.ObjAccelStd = acc, accSd
					}
				}
			}
		}
	}
	for k, seen := range p.links {
		if t-seen > 2e9 {
			delete(p.links, k)
		}
	}
}

// gateDist is how far apart two tracks of one object may lie, in units of the gate
// that fuse and dedup share (below 1: within it): their near edges' x within 10 %
// (at least 1.5 m), their lateral offsets within 1 m.
func gateDist(nearA, latA, nearB, latB float64) float64 {
	dx := math.Abs(nearA-nearB) / math.Max(1.5, 0.1*math.Max(math.Abs(nearA), math.Abs(nearB)))
	return math.Max(dx, math.Abs(latA-latB))
}
