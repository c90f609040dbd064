package replay

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"roadlog/schema"
)

// ErrNoFrame reports a camera frame that is not in the drive.
var ErrNoFrame = errors.New("no such frame")

// FrameTime returns the reference time of camera cam's frame seq. It reads only the
// frames tables (the camera index), never the video: the segment is found by a
// binary search on each segment's first sequence number of that camera, and the
// frame within that segment's frames.arrow.
func (d *Drive) FrameTime(cam uint8, seq int64) (int64, error) {
	refs, err := d.tableFiles(schema.TableFrames, "")
	if err != nil {
		return 0, err
	}
	files := make([]*batchFile, len(refs))
	for i, ref := range refs {
		files[i] = &batchFile{ref: ref, check: schema.FramesTable.Check}
	}
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	// sequence numbers grow within a camera's run; a camera restart breaks that, and
	// the linear pass below still finds the frame.
	lo, hi := 0, len(files)
	for lo < hi {
		mid := (lo + hi) / 2
		first, ok := firstSeq(files[mid], cam)
		switch {
		case !ok: // no frames of that camera there: look at the whole range
			lo, hi = 0, 0
		case first <= seq:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	if lo > 0 {
		if t, ok := findFrame(files[lo-1], cam, seq); ok {
			return t, nil
		}
	}
	for _, f := range files {
		if t, ok := findFrame(f, cam, seq); ok {
			return t, nil
		}
	}
	return 0, fmt.Errorf("frame %d of camera %d in %s: %w", seq, cam, d.Dir, ErrNoFrame)
}

// frameCols returns the camera, seq and t columns of a frames batch.
func frameCols(f *batchFile, i int) (cam *array.Uint8, seq *array.Int64, ts *array.Timestamp, ok bool) {
	rec, err := f.batch(i)
	if err != nil {
		return nil, nil, nil, false
	}
	defer rec.Release()
	sch := rec.Schema()
	ci, si := sch.FieldIndices("camera"), sch.FieldIndices("seq")
	cam, _ = rec.Column(ci[0]).(*array.Uint8)
	seq, _ = rec.Column(si[0]).(*array.Int64)
	ts, _ = rec.Column(0).(*array.Timestamp)
	if cam == nil || seq == nil || ts == nil {
		return nil, nil, nil, false
	}
	cam.Retain()
	seq.Retain()
	ts.Retain()
	return cam, seq, ts, true
}

func release(cam *array.Uint8, seq *array.Int64, ts *array.Timestamp) {
	cam.Release()
	seq.Release()
	ts.Release()
}

// firstSeq returns the first seq of camera cam in a frames file.
func firstSeq(f *batchFile, cam uint8) (int64, bool) {
	f.open()
	for i := 0; i < f.numBatches(); i++ {
		c, s, ts, ok := frameCols(f, i)
		if !ok {
			continue
		}
		for k := 0; k < c.Len(); k++ {
			if c.Value(k) == cam {
				v := s.Value(k)
				release(c, s, ts)
				return v, true
			}
		}
		release(c, s, ts)
	}
	return 0, false
}

// findFrame looks for camera cam's frame seq in a frames file.
func findFrame(f *batchFile, cam uint8, seq int64) (int64, bool) {
	f.open()
	for i := 0; i < f.numBatches(); i++ {
		c, s, ts, ok := frameCols(f, i)
		if !ok {
			continue
		}
		for k := 0; k < c.Len(); k++ {
			if c.Value(k) == cam && s.Value(k) == seq {
				v := int64(ts.Value(k))
				release(c, s, ts)
				return v, true
			}
		}
		release(c, s, ts)
	}
	return 0, false
}

// SeekFrame positions the reader at camera cam's frame seq: the frame set of that
// frame comes next (the other cameras' frames of the same instant included).
func (r *Reader) SeekFrame(cam uint8, seq int64) (int64, error) {
	t, err := r.d.FrameTime(cam, seq)
	if err != nil {
		return 0, err
	}
	r.SeekTime(t)
	return t, nil
}
