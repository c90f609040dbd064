package centernet

import (
	"math"
	"slices"

	"roadlog/detect"
)

// Candidate is a heat-map peak decoded into a box in model-input pixels, before NMS:
// what a row of the graph's own tower_0/detections holds.
type Candidate struct {
	X1, Y1, X2, Y2 float32
	Score          float32
	Class          int
	Index          int // flat heat-map index (y·W + x)·C + class
}

// decoder turns the network's heat map and box sizes into candidates and detections.
type decoder struct {
	h, w, c  int       // heat map 128×128×80
	stride   float32   // input pixels per heat-map cell (4)
	thr      []float32 // per class: candidates need a score above this (+Inf: class dropped)
	minThr   float32   // smallest of thr
	topK     int       // candidates kept before NMS (the graph's 100)
	iou      float64   // NMS IoU threshold
	maxDet   int       // detections kept after NMS
	vals     []float32 // top-K heap scratch
	idx      []int32
	cands    []Candidate
	selected []int
	order    []int
}

// Candidates returns the peaks of one image's heat map (kp: H×W×C, wh: H×W×4) whose score
// passes its class threshold, best first (equal scores: lower index first), at most topK:
// a peak equals the maximum of its 3×3 neighbourhood in its class plane (the graph's
// MaxPool SAME + Equal); the box is (4x − wh0, 4y − wh1, 4x + wh2, 4y + wh3).
func (d *decoder) candidates(kp, wh []float32) []Candidate {
	h, w, c := d.h, d.w, d.c
	d.vals, d.idx = d.vals[:0], d.idx[:0]
	lo := d.minThr
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := (y*w + x) * c
			row := kp[base : base+c]
			for ch, v := range row {
				if v <= lo || v <= d.thr[ch] || !peak(kp, y, x, ch, h, w, c, v) {
					continue
				}
				d.push(v, int32(base+ch))
			}
		}
	}
	// heap → descending order, ties by lower index
	n := len(d.vals)
	vals, idx := d.vals, d.idx
	order := d.order[:0]
	for i := 0; i < n; i++ {
		order = append(order, i)
	}
	d.order = order
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case vals[a] > vals[b]:
			return -1
		case vals[a] < vals[b]:
			return 1
		}
		return int(idx[a] - idx[b])
	})
	d.cands = d.cands[:0]
	for _, o := range order {
		i := int(idx[o])
		cell := i / c
		y, x := cell/w, cell%w
		b := wh[cell*4 : cell*4+4]
		fx, fy := float32(x)*d.stride, float32(y)*d.stride
		d.cands = append(d.cands, Candidate{
			X1: fx - b[0], Y1: fy - b[1], X2: fx + b[2], Y2: fy + b[3],
			Score: vals[o], Class: i % c, Index: i,
		})
	}
	return d.cands
}

// peak reports whether v at (y, x, ch) is the maximum of its 3×3 neighbourhood.
func peak(kp []float32, y, x, ch, h, w, c int, v float32) bool {
	for yy := max(y-1, 0); yy <= min(y+1, h-1); yy++ {
		for xx := max(x-1, 0); xx <= min(x+1, w-1); xx++ {
			if kp[(yy*w+xx)*c+ch] > v {
				return false
			}
		}
	}
	return true
}

// push keeps the topK best (value, index) pairs in a min-heap (root: the worst kept).
func (d *decoder) push(v float32, i int32) {
	worse := func(a, b int) bool { // is entry a worse than entry b?
		if d.vals[a] != d.vals[b] {
			return d.vals[a] < d.vals[b]
		}
		return d.idx[a] > d.idx[b]
	}
	swap := func(a, b int) {
		d.vals[a], d.vals[b] = d.vals[b], d.vals[a]
		d.idx[a], d.idx[b] = d.idx[b], d.idx[a]
	}
	if len(d.vals) < d.topK {
		d.vals, d.idx = append(d.vals, v), append(d.idx, i)
		for k := len(d.vals) - 1; k > 0; {
			p := (k - 1) / 2
			if !worse(k, p) {
				break
			}
			swap(k, p)
			k = p
		}
		return
	}
	if v < d.vals[0] || (v == d.vals[0] && i > d.idx[0]) {
		return
	}
	d.vals[0], d.idx[0] = v, i
	n := len(d.vals)
	for k := 0; ; {
		l := 2*k + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && worse(r, l) {
			m = r
		}
		if !worse(m, k) {
			break
		}
		swap(m, k)
		k = m
	}
}

// nmsIoU is tfjs-core's IoU of two (x1, y1, x2, y2) boxes: corners ordered, 0 when either
// area is not positive, computed in float64.
func nmsIoU(a, b *Candidate) float64 {
	ay1, ay2 := math.Min(float64(a.Y1), float64(a.Y2)), math.Max(float64(a.Y1), float64(a.Y2))
	ax1, ax2 := math.Min(float64(a.X1), float64(a.X2)), math.Max(float64(a.X1), float64(a.X2))
	by1, by2 := math.Min(float64(b.Y1), float64(b.Y2)), math.Max(float64(b.Y1), float64(b.Y2))
	bx1, bx2 := math.Min(float64(b.X1), float64(b.X2)), math.Max(float64(b.X1), float64(b.X2))
	areaA := (ay2 - ay1) * (ax2 - ax1)
	areaB := (by2 - by1) * (bx2 - bx1)
	if areaA <= 0 || areaB <= 0 {
		return 0
	}
	ih := math.Max(math.Min(ay2, by2)-math.Max(ay1, by1), 0)
	iw := math.Max(math.Min(ax2, bx2)-math.Max(ax1, bx1), 0)
	inter := ih * iw
	return inter / (areaA + areaB - inter)
}

// nms is tfjs's greedy class-agnostic non-maximum suppression over candidates sorted
// best first: a candidate is dropped when its IoU with a kept one is ≥ the threshold.
// It returns the indices of the kept candidates in selection order.
func (d *decoder) nms(c []Candidate) []int {
	d.selected = d.selected[:0]
	for i := range c {
		if len(d.selected) >= d.maxDet {
			break
		}
		keep := true
		for _, j := range d.selected {
			if nmsIoU(&c[i], &c[j]) >= d.iou {
				keep = false
				break
			}
		}
		if keep {
			d.selected = append(d.selected, i)
		}
	}
	return d.selected
}

// detections decodes one image's outputs into detections in image pixels.
func (d *decoder) detections(kp, wh []float32, g geometry) []detect.Detection {
	return d.fromCandidates(d.candidates(kp, wh), g)
}

// fromCandidates runs NMS over candidates sorted best first and maps the kept ones to
// image pixels.
func (d *decoder) fromCandidates(c []Candidate, g geometry) []detect.Detection {
	keep := d.nms(c)
	out := make([]detect.Detection, 0, len(keep))
	for _, i := range keep {
		k := &c[i]
		x1, y1 := g.toImage(k.X1, k.Y1)
		x2, y2 := g.toImage(k.X2, k.Y2)
		label := ""
		if k.Class < len(detect.COCO) {
			label = detect.COCO[k.Class]
		}
		out = append(out, detect.Detection{Class: uint16(k.Class), Label: label, Score: k.Score,
			Box: detect.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}})
	}
	return out
}
