package replay

import (
	"errors"
	"fmt"
	"sort"

	"roadlog/schema"
)

// ErrNoFrame reports a camera frame that is not in the drive.
var ErrNoFrame = errors.New("no such frame")

// frameIndex finds camera frames by sequence number through the frames tables only
// (never the video): segments are found by a binary search on each segment's first
// sequence number of the camera, and a segment's frames are indexed per camera the
// first time it is searched. Indexes are kept, so seeking again is cheap.
type frameIndex struct {
	d     *Drive
	dec   batchDecoder
	raw   rawBatch
	files []*batchFile
	first []map[uint8]int64 // per file: each camera's first seq (nil: not read yet)
	byCam []map[uint8]*camFrames
}

// camFrames are one camera's frames of one file, by sequence number.
type camFrames struct{ seq, t []int64 }

func newFrameIndex(d *Drive) (*frameIndex, error) {
	refs, err := d.tableFiles(schema.TableFrames, "")
	if err != nil {
		return nil, err
	}
	x := &frameIndex{d: d, files: make([]*batchFile, len(refs)), first: make([]map[uint8]int64, len(refs)),
		byCam: make([]map[uint8]*camFrames, len(refs))}
	for i, ref := range refs {
		x.files[i] = &batchFile{ref: ref, want: schema.FramesTable.Schema()}
	}
	return x, nil
}

func (x *frameIndex) close() {
	for _, f := range x.files {
		f.close()
	}
	x.dec.close()
}

// scan calls fn with the camera, seq and t of every row of file i.
func (x *frameIndex) scan(i int, fn func(cam uint8, seq, t int64) bool) {
	f := x.files[i]
	f.open()
	if f.openErr != nil {
		return
	}
	sch := schema.FramesTable.Schema()
	cam, seq := colIndex(sch, "camera"), colIndex(sch, "seq")
	for b := 0; b < f.numBatches(); b++ {
		if err := f.batch(b, &x.dec, &x.raw); err != nil {
			continue
		}
		for k := range x.raw.rows {
			if !fn(x.raw.u8(cam, k), x.raw.i64(seq, k), x.raw.ts[k]) {
				return
			}
		}
	}
}

// firstSeq returns a camera's first seq in file i (false: the camera has no frame
// there).
func (x *frameIndex) firstSeq(i int, cam uint8) (int64, bool) {
	if x.first[i] == nil {
		if idx := x.byCam[i]; idx != nil {
			x.first[i] = map[uint8]int64{}
			for c, cf := range idx {
				x.first[i][c] = cf.seq[0]
			}
		} else {
			m := map[uint8]int64{}
			x.scan(i, func(c uint8, seq, _ int64) bool {
				if _, ok := m[c]; !ok {
					m[c] = seq
				}
				return len(m) < 256 // the first batch usually names every camera; read on otherwise
			})
			x.first[i] = m
		}
	}
	v, ok := x.first[i][cam]
	return v, ok
}

// find looks a frame up in file i, indexing the file first.
func (x *frameIndex) find(i int, cam uint8, seq int64) (int64, bool) {
	if x.byCam[i] == nil {
		m := map[uint8]*camFrames{}
		x.scan(i, func(c uint8, s, t int64) bool {
			cf := m[c]
			if cf == nil {
				cf = &camFrames{}
				m[c] = cf
			}
			cf.seq, cf.t = append(cf.seq, s), append(cf.t, t)
			return true
		})
		for _, cf := range m {
			sort.Sort(bySeq{cf})
		}
		x.byCam[i] = m
	}
	cf := x.byCam[i][cam]
	if cf == nil {
		return 0, false
	}
	k := sort.Search(len(cf.seq), func(k int) bool { return cf.seq[k] >= seq })
	if k < len(cf.seq) && cf.seq[k] == seq {
		return cf.t[k], true
	}
	return 0, false
}

type bySeq struct{ *camFrames }

func (b bySeq) Len() int           { return len(b.seq) }
func (b bySeq) Less(i, j int) bool { return b.seq[i] < b.seq[j] }
func (b bySeq) Swap(i, j int) {
	b.seq[i], b.seq[j] = b.seq[j], b.seq[i]
	b.t[i], b.t[j] = b.t[j], b.t[i]
}

// lookup returns the t of camera cam's frame seq.
func (x *frameIndex) lookup(cam uint8, seq int64) (int64, error) {
	// sequence numbers grow within a camera's run; a camera restart breaks that, and
	// the pass over every file below still finds the frame
	lo, hi := 0, len(x.files)
	for lo < hi {
		mid := (lo + hi) / 2
		j := mid
		first, ok := x.firstSeq(j, cam)
		for !ok && j+1 < hi { // a segment without this camera stands for the next one
			j++
			first, ok = x.firstSeq(j, cam)
		}
		switch {
		case !ok:
			hi = mid
		case first <= seq:
			lo = j + 1
		default:
			hi = mid
		}
	}
	for k := lo - 1; k >= 0 && k >= lo-2; k-- { // the candidate, and the one before (a camera absent from lo-1)
		if t, ok := x.find(k, cam, seq); ok {
			return t, nil
		}
	}
	for k := range x.files {
		if t, ok := x.find(k, cam, seq); ok {
			return t, nil
		}
	}
	return 0, fmt.Errorf("frame %d of camera %d in %s: %w", seq, cam, x.d.Dir, ErrNoFrame)
}

// FrameTime returns the reference time of camera cam's frame seq, reading only the
// frames tables. A Reader's SeekFrame keeps its index between calls; this builds one
// for a single lookup.
func (d *Drive) FrameTime(cam uint8, seq int64) (int64, error) {
	x, err := newFrameIndex(d)
	if err != nil {
		return 0, err
	}
	defer x.close()
	return x.lookup(cam, seq)
}

// SeekFrame positions the reader at camera cam's frame seq: the frame set of that
// frame comes next (the other cameras' frames of the same instant included).
func (r *Reader) SeekFrame(cam uint8, seq int64) (int64, error) {
	if r.frames == nil {
		x, err := newFrameIndex(r.d)
		if err != nil {
			return 0, err
		}
		r.frames = x
	}
	t, err := r.frames.lookup(cam, seq)
	if err != nil {
		return 0, err
	}
	r.SeekTime(t)
	return t, nil
}
