package record

import (
	"sort"
	gosync "sync"
)

// segmenter maps reference times to segment indexes. Segment i starts at starts[i];
// segments last SegmentDuration unless a size limit forced an earlier boundary.
type segmenter struct {
	mu     gosync.Mutex // guards starts
	starts []int64
	dur    int64
}

func newSegmenter(t0, dur int64) *segmenter {
	return &segmenter{starts: []int64{t0}, dur: dur}
}

// For returns the segment index for time t (0 for times before the drive's start).
func (s *segmenter) For(t int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t >= s.starts[len(s.starts)-1]+s.dur {
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+s.dur)
	}
	i := sort.Search(len(s.starts), func(i int) bool { return s.starts[i] > t }) - 1
	if i < 0 {
		return 0
	}
	return i
}

// Start returns the start time of segment i.
func (s *segmenter) Start(i int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.starts) <= i {
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+s.dur)
	}
	return s.starts[i]
}

// ForceBoundary makes a new segment start at t, if t is after the start of the last
// known segment; segments after it follow at the normal duration.
func (s *segmenter) ForceBoundary(t int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.starts[len(s.starts)-1]
	if t > last && t < last+s.dur {
		s.starts = append(s.starts, t)
	}
}
