package ring

// Metrics emits the ring's figures for /metrics (control.MetricSource).
func (r *Ring) Metrics(emit func(name, typ, help string, value float64)) {
	s := r.Stats()
	open := 0.0
	if s.WindowOpen {
		open = 1
	}
	emit("roadlog_ring_buffered_bytes", "gauge", "bytes held by the pre-trigger buffer", float64(s.BufferedBytes))
	emit("roadlog_ring_buffered_seconds", "gauge", "reference time the pre-trigger buffer covers", s.BufferedSpan)
	emit("roadlog_ring_buffer_limit_bytes", "gauge", "byte cap of the pre-trigger buffer", float64(s.MaxBytes))
	emit("roadlog_ring_window_open", "gauge", "1 while a window is being kept", open)
	emit("roadlog_ring_windows_kept_total", "counter", "windows closed and kept", float64(s.Kept))
	emit("roadlog_ring_windows_deleted_total", "counter", "old windows deleted to stay within the disk budget", float64(s.Deleted))
	emit("roadlog_ring_overflow_total", "counter", "samples evicted by the byte cap before their pre-trigger time was up", float64(s.Overflow))
	emit("roadlog_ring_tap_dropped_total", "counter", "samples the ring missed because it fell behind its feed", float64(s.TapDropped))
}
