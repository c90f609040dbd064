package control

import (
	gosync "sync"
	"time"
)

// writeRate estimates the recorder's write rate (bytes per second) from the current
// drive's byte count, sampled once a second, smoothed over about 5 s. Between drives
// it keeps the last drive's rate, so the page can say how long the disk lasts before
// recording starts.
type writeRate struct {
	mu    gosync.Mutex // guards all
	id    string
	bytes int64
	at    time.Time
	rate  float64 // bytes/s, smoothed
	valid bool
}

const rateSmoothing = 0.2 // weight of a new one-second sample (≈ 5 s time constant)

func (w *writeRate) sample(now time.Time, id string, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id == "" {
		w.id = ""
		return
	}
	if id != w.id || w.at.IsZero() {
		w.id, w.bytes, w.at = id, bytes, now
		return
	}
	dt := now.Sub(w.at).Seconds()
	if dt <= 0 {
		return
	}
	r := float64(bytes-w.bytes) / dt
	if !w.valid {
		w.rate, w.valid = r, true
	} else {
		w.rate += rateSmoothing * (r - w.rate)
	}
	w.bytes, w.at = bytes, now
}

// get returns the smoothed rate and whether one was measured yet.
func (w *writeRate) get() (float64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rate, w.valid
}
